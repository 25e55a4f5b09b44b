// Only in the "no-js" project: what is particular to the server-rendered forms.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, expect, openSshKeys, test } from "./app";

test("the page is whole without JavaScript, and its buttons are forms", async ({ page, app }) => {
  mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
  writeFileSync(app.authorizedKeys, readFileSync(join(REPO, "tests/fixtures/authorized_keys.mixed")));
  await openSshKeys(page, app);
  await expect(page.getByRole("heading", { name: "SSH Keys", level: 1 })).toBeVisible();
  await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(5);
  await page.getByRole("button", { name: "+ New Key" }).click();
  await expect(page).toHaveURL(`${app.base}/ssh-keys?dialog=generate`);
  await expect(page.getByRole("dialog", { name: "Generate SSH Key" })).toBeVisible();
});

test("the answer with the new key is not stored, runs no code, and says it is shown once", async ({ page, app }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  const answer = page.waitForResponse((r) => r.request().method() === "POST");
  await page.getByRole("button", { name: "Generate Key" }).click();
  const response = await answer;
  expect(response.headers()["cache-control"]).toBe("no-store");
  const html = await response.text();
  // The page's code is not loaded; no script (only Leptos's inert list data) holds the key.
  expect(html).not.toContain("keyhatch.js");
  for (const script of html.split("<script").slice(1)) expect(script.split("</script>")[0]).not.toContain("OPENSSH");
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await expect(created).toContainText("It cannot be shown again");
  const area = created.getByRole("textbox", { name: "Private key" });
  expect(await area.getAttribute("readonly")).not.toBeNull();

  // No link holds the key: a URL is kept in the browser's history and downloads (red team:
  // a `data:` link's whole key was in Chromium's History database).
  await expect(created.getByRole("link", { name: "Download" })).toHaveCount(0);
  expect(html).not.toContain("data:");
  const saved = await area.inputValue();
  expect(saved).toContain("OPENSSH PRIVATE KEY");
  await expect(created).toContainText("into a file of your own, such as ~/.ssh/id_ed25519_keyhatch");

  await created.getByRole("button", { name: "Close" }).click();
  await expect(page).toHaveURL(`${app.base}/ssh-keys?`);
  expect(await page.content()).not.toContain(saved.split("\n")[1]);
});

test("a Generate form sent again makes no second key, and names the one it made", async ({ page, app }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  await page.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  const fingerprint = (await created.locator("[data-field=fingerprint]").textContent())!;

  // Reloading the answer sends the form again (what a person confirming the browser's question
  // does, and what a browser does by itself when a connection drops before the answer).
  const resent = page.waitForRequest((r) => r.method() === "POST");
  await page.reload();
  await resent;
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await expect(dialog.getByRole("alert")).toContainText(`this form was sent already: it made the key ${fingerprint}`);
  await expect(page.getByRole("textbox", { name: "Private key" })).toHaveCount(0);
  const keys = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(keys).toHaveCount(1);
  expect(readFileSync(app.authorizedKeys, "utf8").trimEnd().split("\n")).toHaveLength(1);

  // The dialog is a new form: pressing Generate Key again is a new key, on purpose.
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  await expect(page.getByRole("dialog", { name: "SSH Key Generated" })).toBeVisible();
  await expect(page.getByRole("dialog", { name: "SSH Key Generated" }).locator("[data-field=fingerprint]")).not.toHaveText(fingerprint);
  expect(readFileSync(app.authorizedKeys, "utf8").trimEnd().split("\n")).toHaveLength(2);
});
