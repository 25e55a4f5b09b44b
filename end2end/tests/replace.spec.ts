// Replace: a key's successor, with its label and addresses, put into the Platform credentials
// that held the old key, and the old key revoked only once Platform has the new one.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Page } from "@playwright/test";
import { REPO, expect, fingerprintOf, keepPrivateKey, openSshKeys, scriptsRun, startKeyhatch, stop, test } from "./app";
import { FakePlatform, SEQERA_TOKEN, startFakePlatform } from "./seqera-fake";

let platform: FakePlatform;
let keyhatch: Awaited<ReturnType<typeof startKeyhatch>>;
let home: string;

// Platform's failure comes back as keyhatch's 502, which Chromium reports in the console.
test.use({ allowConsoleErrors: ["502"] });

test.beforeEach(async ({ context }) => {
  platform = await startFakePlatform();
  home = mkdtempSync(join(tmpdir(), "keyhatch-e2e-"));
  keyhatch = await startKeyhatch([
    "--addr", "127.0.0.1:0", "--home", home, "--seqera-url", platform.url, "--seqera-timeout", "2",
  ]);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: keyhatch.base });
});

test.afterEach(async () => {
  await stop(keyhatch.child);
  rmSync(keyhatch.runtime, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
  await platform.close();
});

const authorizedKeys = () => join(home, ".ssh/authorized_keys");

/** Opens the page, makes a key labelled "pipelines" that logs in only from 10.1.0.0/16, and
 * opens Replace on it: the Replace dialog and the old key's line. */
async function replacing(page: Page, js: boolean) {
  await openSshKeys(page, { base: keyhatch.base, home, authorizedKeys: authorizedKeys(), runtime: keyhatch.runtime });
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Label (optional)").fill("pipelines");
  await dialog.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  await dialog.getByLabel("Addresses, networks or host names").fill("10.1.0.0/16");
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await keepPrivateKey(page, created, js);
  await created.getByRole("button", { name: "Close" }).click();
  const oldLine = readFileSync(authorizedKeys(), "utf8");
  const row = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await row.getByRole("button", { name: /^Replace key/ }).click();
  return { replace: page.getByRole("dialog", { name: "Replace SSH Key" }), oldLine };
}

test("Replace makes the successor beside the old key, and Platform's credentials take it in place", async ({ page, consoleErrors, js }) => {
  test.skip(!js, "Platform is reached from the page's code");
  const { replace, oldLine } = await replacing(page, js);
  const oldPrint = await replace.locator("[data-field=replaces]").textContent();
  await replace.getByLabel("Passphrase (optional)").fill("new sesame");
  await replace.getByLabel("Confirm passphrase").fill("new sesame");
  await replace.getByRole("button", { name: "Replace Key" }).click();

  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await expect(created.locator("[data-field=label]")).toHaveText("pipelines");
  const shown = await keepPrivateKey(page, created, js);
  const lines = readFileSync(authorizedKeys(), "utf8");
  expect(lines.startsWith(oldLine)).toBe(true);
  expect(lines.slice(oldLine.length)).toMatch(/^restrict,pty,from="10\.1\.0\.0\/16" ssh-ed25519 \S+ fileglancer pipelines\n$/);
  const old = created.locator("section.replaced");
  await expect(old.locator("[data-field=old-fingerprint]")).toHaveText(oldPrint!);
  await expect(old).toContainText("It still works.");

  await created.getByRole("button", { name: "Update Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  await created.getByLabel("Workspace").selectOption({ label: "lab / pipelines" });
  const choice = created.getByLabel("SSH credentials to update");
  await expect(choice.locator("option")).toHaveText(["cluster (sshCred1)", "broken (sshBroken)"]);
  await created.getByLabel("Give Platform the key's passphrase").check();
  await created.getByLabel("Passphrase", { exact: true }).fill("new sesame");
  await created.getByRole("button", { name: "Update credentials" }).click();
  await expect(created.getByRole("status").filter({ hasText: "now hold the new key" })).toContainText("sshCred1");
  const put = platform.received.find((r) => r.method === "PUT")!;
  expect(put.path).toBe("/api/credentials/sshCred1?workspaceId=11");
  expect(JSON.parse(put.body)).toEqual({
    credentials: {
      id: "sshCred1", name: "cluster", provider: "ssh",
      keys: { discriminator: "ssh", privateKey: shown, passphrase: "new sesame" },
    },
  });
  expect(fingerprintOf(shown, "new sesame")).toBe(await created.locator("[data-field=fingerprint]").textContent());
  expect(platform.received.some((r) => r.method === "POST")).toBe(false);
  await expect(old).toContainText("credentials cluster now hold the new key");
  mkdirSync(join(REPO, "docs"), { recursive: true });
  await page.screenshot({ path: join(REPO, "docs", "replace.png") });

  // Then, and only then, the old key goes.
  await old.getByRole("button", { name: "Revoke the old key" }).click();
  await expect(old.getByRole("status")).toHaveText("The old key is revoked: sshd no longer accepts it.");
  await created.getByRole("button", { name: "Close" }).click();
  const rows = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(rows).toHaveCount(1);
  await expect(rows.locator(".fingerprint")).not.toHaveText(oldPrint!);
  expect(readFileSync(authorizedKeys(), "utf8")).not.toContain(oldLine.trim());
});

test("when Platform fails, both keys stay and the dialog says so", async ({ page, consoleErrors, js }) => {
  test.skip(!js, "Platform is reached from the page's code");
  const { replace } = await replacing(page, js);
  await replace.getByRole("button", { name: "Replace Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await keepPrivateKey(page, created, js);
  const before = readFileSync(authorizedKeys(), "utf8");
  await created.getByRole("button", { name: "Update Seqera Platform" }).click();
  await created.getByLabel("Platform access token").fill(SEQERA_TOKEN);
  await created.getByRole("button", { name: "Load workspaces" }).click();
  await created.getByLabel("SSH credentials to update").selectOption({ label: "broken (sshBroken)" });
  await created.getByRole("button", { name: "Update credentials" }).click();
  const alert = created.locator("section.seqera").getByRole("alert");
  await expect(alert).toContainText("does not know whether Seqera Platform took the new key (HTTP 500)");
  await expect(alert).toContainText("Both keys are in your authorized_keys and both still work; nothing was revoked.");
  await expect(created.locator("section.replaced")).toContainText("It still works.");
  expect(readFileSync(authorizedKeys(), "utf8")).toBe(before);
  await created.getByRole("button", { name: "Close" }).click();
  await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(2);
});

test("Replace keeps the old key's label, and its form works as a form", async ({ page, consoleErrors, js }) => {
  const { replace, oldLine } = await replacing(page, js);
  await expect(replace.getByLabel("Expires")).toHaveValue("");
  await replace.getByLabel("Expires").selectOption({ label: "In 30 days" });
  await replace.getByRole("button", { name: "Replace Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await expect(created.locator("[data-field=label]")).toHaveText("pipelines");
  await keepPrivateKey(page, created, js);
  await expect(created.locator("section.replaced")).toContainText("It still works.");
  const added = readFileSync(authorizedKeys(), "utf8").slice(oldLine.length);
  expect(added).toMatch(/^restrict,pty,from="10\.1\.0\.0\/16",expiry-time="\d{8}" ssh-ed25519 \S+ fileglancer pipelines\n$/);
  await created.getByRole("button", { name: "Revoke the old key" }).click();
  if (!scriptsRun()) await expect(page.getByRole("status").filter({ hasText: "Key revoked" })).toBeVisible();
  else await expect(created.locator("section.replaced").getByRole("status")).toBeVisible();
  expect(readFileSync(authorizedKeys(), "utf8")).toBe(added);
});
