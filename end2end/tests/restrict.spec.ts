// Restricting keys by address (sshd's from=) on the page: chosen when a key is made, shown in
// the list, and narrowed later; with the page's code and as server-rendered forms.
import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { Page } from "@playwright/test";
import { REPO, expect, keepPrivateKey, openSshKeys, scriptsRun, test } from "./app";

// sshd's log as keyhatch reads it for "Last used": a file these tests write sshd's lines to.
const SSHD_LOG = join(tmpdir(), `keyhatch-e2e-sshd-${process.pid}.log`);
test.afterAll(() => rmSync(SSHD_LOG, { force: true }));

// The refusals these tests provoke are 400 answers, which Chromium reports in the console.
test.use({
  extraArgs: ["--from-list=seqera-cloud=192.0.2.0/24,198.51.100.7", `--sshd-log=${SSHD_LOG}`],
  allowConsoleErrors: ["status of 400"],
});

/** Makes a key labelled `label` through the dialog, keeps it, and closes the dialog. */
async function makeKey(page: Page, label: string, js: boolean) {
  await page.getByRole("button", { name: "+ New Key" }).first().click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Label (optional)").fill(label);
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await keepPrivateKey(page, created, js);
  await created.getByRole("button", { name: "Close" }).click();
}

/** The line of the key whose fingerprint's base64 ends the list item, from the file. */
function lines(path: string): string[] {
  return readFileSync(path, "utf8").trimEnd().split("\n");
}

test("a key made for some addresses is listed with them, and Restrict only ever narrows it", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  const custom = dialog.getByLabel("Addresses, networks or host names");
  await expect(custom).toBeHidden();
  await dialog.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  await expect(custom).toBeVisible();
  await custom.fill("10.1.0.0/16, !10.1.0.9");
  await dialog.getByLabel("Label (optional)").fill("CI runner");
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await keepPrivateKey(page, created, js);
  await created.getByRole("button", { name: "Close" }).click();

  const row = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(row).toHaveCount(1);
  await expect(row.locator("[data-field=allowed-from]")).toHaveText("From 10.1.0.0/16, !10.1.0.9");
  expect(lines(app.authorizedKeys)[0]).toMatch(/^restrict,pty,from="10\.1\.0\.0\/16,!10\.1\.0\.9" ssh-ed25519 /);

  // Narrowed: a smaller network and a last day.
  await row.getByRole("button", { name: /^Restrict key/ }).click();
  const restrict = page.getByRole("dialog", { name: "Restrict SSH Key" });
  await expect(restrict.locator("[data-field=now-from]")).toHaveText("10.1.0.0/16, !10.1.0.9");
  await restrict.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  await restrict.getByLabel("Addresses, networks or host names").fill("10.1.2.0/24");
  await restrict.getByLabel("Stops working on (optional)").fill("2099-06-30");
  await restrict.getByRole("button", { name: "Restrict Key" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Key restricted" })).toBeVisible();
  await expect(restrict).toHaveCount(0);
  await expect(row.locator("[data-field=allowed-from]")).toHaveText("From 10.1.2.0/24, !10.1.0.9");
  await expect(row.locator("[data-field=expires]")).toHaveText("Expires 2099-06-30");
  expect(lines(app.authorizedKeys)[0]).toMatch(/^restrict,pty,from="10\.1\.2\.0\/24,!10\.1\.0\.9",expiry-time="20990630" ssh-ed25519 .* fileglancer CI runner$/);

  // Wider is refused with a sentence, and nothing is written.
  const before = readFileSync(app.authorizedKeys, "utf8");
  await row.getByRole("button", { name: /^Restrict key/ }).click();
  await restrict.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  await restrict.getByLabel("Addresses, networks or host names").fill("172.16.0.1");
  await restrict.getByRole("button", { name: "Restrict Key" }).click();
  await expect(restrict.getByRole("alert")).toContainText("none of 172.16.0.1 lies within 10.1.2.0/24");
  expect(readFileSync(app.authorizedKeys, "utf8")).toBe(before);
});

test("a site's list is offered by name and written as its addresses", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Allow logins only from").selectOption({ label: "seqera-cloud (192.0.2.0/24,198.51.100.7)" });
  await expect(dialog.getByLabel("Addresses, networks or host names")).toBeHidden();
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await keepPrivateKey(page, created, js);
  await created.getByRole("button", { name: "Close" }).click();
  await expect(page.locator("[data-field=allowed-from]")).toHaveText("From 192.0.2.0/24, 198.51.100.7");
  expect(lines(app.authorizedKeys)[0]).toMatch(/^restrict,pty,from="192\.0\.2\.0\/24,198\.51\.100\.7" ssh-ed25519 /);
});

test("a bad pattern is refused with a sentence, the dialog keeps what was typed, and nothing is made", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  const custom = dialog.getByLabel("Addresses, networks or host names");
  await custom.fill("10.1.2.3/16");
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const form = page.getByRole("dialog", { name: "Generate SSH Key" });
  await expect(form.getByRole("alert")).toContainText("the network is 10.1.0.0/16");
  await expect(form.getByLabel("Addresses, networks or host names")).toHaveValue("10.1.2.3/16");
  await expect(page.getByRole("dialog", { name: "SSH Key Generated" })).toHaveCount(0);
  if (js) {
    // Host names work only where sshd looks them up: the dialog says so as they are typed.
    await form.getByLabel("Addresses, networks or host names").fill("*.example.org");
    await expect(form.getByText("UseDNS yes")).toBeVisible();
  }
});

test("a login sshd logged shows on the list, and a key never used says since when", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  await makeKey(page, "Seqera production", js);
  await makeKey(page, "Old laptop", js);
  const rows = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(rows).toHaveCount(2);
  const fingerprint = (await rows.first().locator(".fingerprint").textContent())!;
  appendFileSync(SSHD_LOG, `Accepted publickey for ${userInfo().username} from 10.2.3.4 port 50000 ssh2: ED25519 ${fingerprint}\n`);
  // Each look reloads the page; the note is absent until keyhatch has read the log, so it is
  // read without waiting for it.
  await expect
    .poll(async () => {
      await page.reload();
      return rows.first().locator("[data-field=last-used]").allTextContents();
    })
    .toEqual(["Last used just now from 10.2.3.4"]);
  await expect(rows.nth(1).locator("[data-field=last-used]")).toHaveText(/^Not used since \d{4}-\d{2}-\d{2}$/);
  if (!scriptsRun()) return;
  // The README's pictures: the list with its last logins, and the Restrict dialog.
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  const docs = join(REPO, "docs");
  mkdirSync(docs, { recursive: true });
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.screenshot({ path: join(docs, "last-used.png") });
  await rows.first().getByRole("button", { name: /^Restrict key/ }).click();
  const restrict = page.getByRole("dialog", { name: "Restrict SSH Key" });
  await restrict.getByLabel("Allow logins only from").selectOption({ label: "These addresses…" });
  await restrict.getByLabel("Addresses, networks or host names").fill("10.2.0.0/16, !10.2.9.9");
  await restrict.getByLabel("Stops working on (optional)").fill("2027-06-30");
  await page.screenshot({ path: join(docs, "restrict.png") });
});
