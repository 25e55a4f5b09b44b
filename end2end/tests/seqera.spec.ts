// Add to Seqera Platform: the key crosses to Platform through keyhatch's server, not by hand.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { Page } from "@playwright/test";
import { expect, fingerprintOf, keepPrivateKey, openSshKeys, startKeyhatch, stop, test } from "./app";
import { FakePlatform, SEQERA_TOKEN, startFakePlatform } from "./seqera-fake";

let platform: FakePlatform;
let keyhatch: Awaited<ReturnType<typeof startKeyhatch>>;
let home: string;

test.use({ allowConsoleErrors: ["502"] });

test.beforeEach(async ({ context }) => {
  platform = await startFakePlatform();
  home = mkdtempSync(join(tmpdir(), "keyhatch-e2e-"));
  keyhatch = await startKeyhatch([
    "--addr", "127.0.0.1:0", "--home", home, "--seqera-url", platform.url, "--seqera-timeout", "1",
  ]);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: keyhatch.base });
});

test.afterEach(async () => {
  await stop(keyhatch.child);
  rmSync(keyhatch.runtime, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
  await platform.close();
});

/** Generates a key (with `passphrase`, if given) and opens Add to Seqera Platform. */
async function generated(page: Page, passphrase = "") {
  await openSshKeys(page, {
    base: keyhatch.base,
    home,
    authorizedKeys: join(home, ".ssh/authorized_keys"),
    runtime: keyhatch.runtime,
  });
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  if (passphrase) {
    await dialog.getByLabel("Passphrase (optional)").fill(passphrase);
    await dialog.getByLabel("Confirm passphrase").fill(passphrase);
  }
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await expect(created).toBeVisible();
  return created;
}

test("the key goes to the chosen workspace with its passphrase, and the dialog links to it", async ({ page, consoleErrors }) => {
  const created = await generated(page, "open sesame");
  const shown = await keepPrivateKey(page, created, true);
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  const workspace = created.getByLabel("Workspace");
  await expect(workspace.locator("option")).toHaveText(["Personal (your own credentials)", "lab / pipelines", "lab / readonly"]);
  await workspace.selectOption({ label: "lab / pipelines" });
  const today = new Date().toISOString().slice(0, 10);
  await expect(created.getByLabel("Credentials name")).toHaveValue(`keyhatch-${today}`);
  await created.getByLabel("Give Platform the key's passphrase").check();
  await created.getByLabel("Passphrase", { exact: true }).fill("open sesame");
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);
  await created.getByRole("button", { name: "Add credentials" }).click();

  const done = created.getByRole("status").filter({ hasText: "Added to Seqera Platform" });
  await expect(done).toContainText("4c9dEwvJW2TvwKQNOxYGqG");
  await expect(done.getByRole("link", { name: "Open the credentials page" })).toHaveAttribute(
    "href", `${platform.web}/orgs/lab/workspaces/pipelines/credentials`);

  const post = platform.received.find((r) => r.method === "POST")!;
  expect(post.path).toBe("/api/credentials?workspaceId=11");
  expect(post.authorization).toBe(`Bearer ${SEQERA_TOKEN}`);
  expect(JSON.parse(post.body)).toEqual({
    credentials: {
      name: `keyhatch-${today}`, provider: "ssh",
      keys: { discriminator: "ssh", privateKey: shown, passphrase: "open sesame" },
    },
  });
  expect(fingerprintOf(JSON.parse(post.body).credentials.keys.privateKey, "open sesame")).toBe(
    await created.locator("[data-field=fingerprint]").textContent());
  // The browser itself never called Platform.
  expect(platform.received.every((r) => r.authorization === `Bearer ${SEQERA_TOKEN}`)).toBe(true);
});

test("the personal context, without the passphrase: none is sent", async ({ page, consoleErrors }) => {
  const created = await generated(page, "open sesame");
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  await created.getByLabel("Credentials name").fill("laptop_key");
  await created.getByRole("button", { name: "Add credentials" }).click();
  await expect(created.getByRole("link", { name: "Open the credentials page" })).toHaveAttribute(
    "href", `${platform.web}/user/alice/credentials`);
  const post = platform.received.find((r) => r.method === "POST")!;
  expect(post.path).toBe("/api/credentials");
  expect(JSON.parse(post.body).credentials.keys).not.toHaveProperty("passphrase");
  expect(JSON.parse(post.body).credentials.name).toBe("laptop_key");
});

test("cancelling sends nothing", async ({ page, consoleErrors }) => {
  const created = await generated(page);
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Cancel" }).click();
  await expect(created.getByLabel("Platform access token")).toHaveCount(0);
  expect(platform.received).toEqual([]);
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  await expect(created.getByLabel("Platform access token")).toHaveValue(""); // forgotten
});

test("each refusal says what went wrong, and the key stays to copy", async ({ page, consoleErrors }) => {
  const created = await generated(page);
  const seqera = created.locator("section.seqera");
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  const token = created.getByLabel("Platform access token");
  await token.fill("not-the-token");
  await created.getByRole("button", { name: "Load workspaces" }).click();
  await expect(seqera.getByRole("alert")).toContainText("did not accept the access token");

  await token.fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  const name = created.getByLabel("Credentials name");
  const add = created.getByRole("button", { name: "Add credentials" });
  await name.fill("my key");
  await expect(seqera.getByRole("alert")).toHaveText("A credentials name has only letters, digits, - and _.");
  await expect(add).toBeDisabled();

  await created.getByLabel("Workspace").selectOption({ label: "lab / readonly" });
  await name.fill("fine");
  await add.click();
  await expect(seqera.getByRole("alert")).toContainText("may not add or change credentials in that workspace");

  await created.getByLabel("Workspace").selectOption({ label: "lab / pipelines" });
  await name.fill("taken");
  await add.click();
  await expect(seqera.getByRole("alert")).toContainText('already has credentials named "taken"');

  await name.fill("slow");
  await add.click();
  await expect(seqera.getByRole("alert")).toContainText("did not answer within 1 seconds");
  await expect(seqera.getByRole("alert")).toContainText("The key is still here to copy or download.");
  const kept = await keepPrivateKey(page, created, true);
  expect(kept).toContain("OPENSSH");
});

test("a Platform that cannot be reached is said so, and nothing is lost", async ({ page, consoleErrors }) => {
  const created = await generated(page);
  await platform.close();
  await created.getByRole("button", { name: "Add to Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  await expect(created.locator("section.seqera").getByRole("alert")).toContainText(
    `keyhatch could not reach Seqera Platform at ${platform.url}`);
  await expect(created.getByRole("button", { name: "Copy Private Key" })).toBeVisible();
  await expect(created.getByRole("button", { name: "Download" })).toBeVisible();
});
