// Beyond the guide: labels, lifetimes, download, public keys, adding a key you have, the other
// keys of the file, and a page that works by keyboard, in the dark and on a phone.
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Page } from "@playwright/test";
import { REPO, expect, fingerprintOf, keepPrivateKey, openSshKeys, scriptsRun, test } from "./app";

const PUBLIC_KEYS = join(REPO, "tests/fixtures/public-keys");
const DOCS = join(REPO, "docs");

/** The day `days` from today (UTC), as the page shows it and as expiry-time writes it. */
function daysFromNow(days: number) {
  const d = new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  return { shown: d, written: d.replaceAll("-", "") };
}

/** Generates a key through the dialog with the given label and lifetime; returns the open
 * "SSH Key Generated" dialog and, with the page's code, what the server sent. */
async function generate(page: Page, label = "", lifetime = "Never") {
  await page.getByRole("button", { name: "+ New Key" }).first().click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  if (label) await dialog.getByLabel("Label (optional)").fill(label);
  await dialog.getByLabel("Expires").selectOption({ label: lifetime });
  const answer = scriptsRun() ? page.waitForResponse("**/api/keys/generate") : null;
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await expect(created).toBeVisible();
  return { sent: answer ? await (await answer).json() : null, created };
}

/** Skips the running test without JavaScript: `why` it needs the page's code. */
function needsScripts(why: string) {
  test.skip(!scriptsRun(), why);
}

/** A real private key from ssh-keygen, in memory only: its directory is removed at once. */
function privateKeyText(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyhatch-paste-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
    return readFileSync(join(dir, "id"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** No serious or critical accessibility violation on the page as it is now. */
async function expectAccessible(page: Page, state: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(bad, `axe in state "${state}"`).toEqual([]);
}

test("a label and a lifetime go into the comment and the options, and show in the dialog and the list", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  const { created } = await generate(page, "Seqera production", "In 90 days");
  const expiry = daysFromNow(90);
  await expect(created.locator("[data-field=label]")).toHaveText("Seqera production");
  await expect(created.locator("[data-field=comment]")).toHaveText("fileglancer Seqera production");
  await expect(created.locator("[data-field=expires]")).toHaveText(expiry.shown);
  const fingerprint = (await created.locator("[data-field=fingerprint]").textContent())!;
  expect(fingerprintOf(await keepPrivateKey(page, created, js))).toBe(fingerprint);
  await created.getByRole("button", { name: "Close" }).click();

  const row = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(row).toHaveCount(1);
  await expect(row.locator(".label")).toHaveText("Seqera production");
  await expect(row.locator("[data-field=expires]")).toHaveText(`Expires ${expiry.shown}`);
  const file = readFileSync(app.authorizedKeys, "utf8");
  expect(file).toMatch(
    new RegExp(`^restrict,pty,expiry-time="${expiry.written}" ssh-ed25519 AAAA\\S+ fileglancer Seqera production\n$`),
  );
});

test("a label that is too long is refused with a clear message and makes no key", async ({ page, app, consoleErrors, js }) => {
  await openSshKeys(page, app);
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Label (optional)").fill("x".repeat(65));
  if (js) {
    // Said before anything is sent.
    await expect(dialog.getByRole("alert")).toHaveText("A label has at most 64 characters.");
    await expect(dialog.getByRole("button", { name: "Generate Key" })).toBeDisabled();
    await dialog.getByLabel("Label (optional)").fill("x".repeat(64));
    await expect(dialog.getByRole("alert")).toHaveCount(0);
    await expect(dialog.getByRole("button", { name: "Generate Key" })).toBeEnabled();
  } else {
    await dialog.getByRole("button", { name: "Generate Key" }).click();
    await expect(dialog.getByRole("alert").filter({ hasText: "The key could not be generated." })).toContainText(
      "a label has at most 64 characters; this one has 65",
    );
    await expect(dialog.getByLabel("Label (optional)")).toHaveValue("x".repeat(65));
  }
  expect(existsSync(app.authorizedKeys)).toBe(false);
});

test("Download saves the private key from memory, byte for byte, with no request", async ({ page, app, consoleErrors }) => {
  needsScripts("without JavaScript the server's link downloads it (no-js.spec.ts)");
  await openSshKeys(page, app);
  const { sent, created } = await generate(page);
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  const downloading = page.waitForEvent("download");
  await created.getByRole("button", { name: "Download" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("id_ed25519_keyhatch");
  const saved = readFileSync((await download.path())!, "utf8");
  await download.delete();
  expect(saved).toBe(sent.private_key);
  expect(fingerprintOf(saved)).toBe(sent.info.fingerprint);
  expect(requests.filter((u) => u.startsWith(app.base))).toEqual([]);
  await expect(created.getByRole("button", { name: "✓ Downloaded" })).toBeVisible();
  // Downloading keeps the key: closing asks nothing more.
  await created.getByRole("button", { name: "Close" }).click();
  await expect(created).toBeHidden();
});

test("Copy Public Key copies the public line, in the dialog and from the list", async ({ page, app, consoleErrors }) => {
  needsScripts("the clipboard is the page's code");
  await openSshKeys(page, app);
  const { sent, created } = await generate(page, "laptop");
  await created.getByRole("button", { name: "Copy Public Key" }).click();
  await expect(created.getByRole("button", { name: "✓ Public key copied" })).toBeVisible();
  const line = await page.evaluate(() => navigator.clipboard.readText());
  expect(line).toBe(sent.info.public_key);
  expect(readFileSync(app.authorizedKeys, "utf8")).toBe(`restrict,pty ${line}\n`);
  await created.getByRole("button", { name: "Copy Private Key" }).click();
  await created.getByRole("button", { name: "Close" }).click();

  await page.evaluate(() => navigator.clipboard.writeText(""));
  await page.getByRole("button", { name: `Copy public key ${sent.info.fingerprint}` }).click();
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(line);
});

test.describe("adding a key you already have", () => {
  test.use({ allowConsoleErrors: ["400", "409"] });

  test("a pasted public key shows its fingerprint, is added tagged, and cannot be added twice", async ({ page, app, consoleErrors, js }) => {
    const pub = readFileSync(join(PUBLIC_KEYS, "ed25519.pub"), "utf8");
    const fingerprint = readFileSync(join(PUBLIC_KEYS, "ed25519.fingerprint"), "utf8").trim();
    await openSshKeys(page, app);
    await page.getByRole("button", { name: "Add existing key" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Existing Key" });
    const add = dialog.getByRole("button", { name: "Add Key" });
    if (js) {
      await expect(dialog.getByLabel("Public key", { exact: true })).toBeFocused();
      await expect(add).toBeDisabled();
    }
    await dialog.getByLabel("Public key", { exact: true }).fill(pub);
    await dialog.getByLabel("Expires").selectOption({ label: "In 30 days" });
    if (!js) await add.click(); // the server reads the key, then asks again
    await expect(dialog.locator("[data-field=fingerprint]")).toHaveText(fingerprint);
    await expect(dialog.locator("[data-field=type]")).toHaveText("ssh-ed25519");
    await expect(dialog.getByLabel("Label (optional)")).toHaveAttribute("placeholder", "alice@laptop");
    await expect(dialog.getByLabel("Expires")).toHaveValue("30");
    await add.click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole("status").filter({ hasText: "Key added" })).toHaveText(`Key added: ${fingerprint}`);

    const row = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
    await expect(row).toHaveCount(1);
    await expect(row.locator(".label")).toHaveText("alice@laptop");
    await expect(row.locator(".fingerprint")).toHaveText(fingerprint);
    const [type, blob] = pub.split(" ");
    const expiry = daysFromNow(30).written;
    expect(readFileSync(app.authorizedKeys, "utf8")).toBe(
      `restrict,pty,expiry-time="${expiry}" ${type} ${blob} fileglancer alice@laptop\n`,
    );

    // The same key again: refused, and the file does not change.
    await page.getByRole("button", { name: "Add existing key" }).click();
    await dialog.getByLabel("Public key", { exact: true }).fill(pub);
    if (js) {
      await expect(dialog.getByRole("alert")).toHaveText("This key is already in your authorized_keys.");
      await expect(add).toBeDisabled();
    } else {
      await add.click();
      await add.click();
      await expect(dialog.getByRole("alert")).toContainText("is already in the file");
    }
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();
    expect(readFileSync(app.authorizedKeys, "utf8").split("\n")).toHaveLength(2);
  });

  test("a .pub file can be chosen instead of pasted", async ({ page, app, consoleErrors }) => {
    needsScripts("reading a file is the page's code; without it, paste");
    const fingerprint = readFileSync(join(PUBLIC_KEYS, "rsa-3072.fingerprint"), "utf8").trim();
    await openSshKeys(page, app);
    await page.getByRole("button", { name: "Add existing key" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Existing Key" });
    await dialog.getByLabel("Or choose a .pub file").setInputFiles(join(PUBLIC_KEYS, "rsa-3072.pub"));
    await expect(dialog.locator("[data-field=fingerprint]")).toHaveText(fingerprint);
    await expect(dialog.locator("[data-field=type]")).toHaveText("ssh-rsa");
    await dialog.getByLabel("Label (optional)").fill("workstation");
    await dialog.getByRole("button", { name: "Add Key" }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole("list", { name: "SSH keys" }).locator(".label")).toHaveText("workstation");
  });

  test("weak, old and unreadable keys are refused with the reason", async ({ page, app, consoleErrors, js }) => {
    await openSshKeys(page, app);
    await page.getByRole("button", { name: "Add existing key" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Existing Key" });
    const field = dialog.getByLabel("Public key", { exact: true });
    const add = dialog.getByRole("button", { name: "Add Key" });
    for (const [text, message] of [
      [readFileSync(join(PUBLIC_KEYS, "rsa-2048.pub"), "utf8"), "this RSA key has 2048 bits; keyhatch accepts RSA keys of at least 3072 bits"],
      [readFileSync(join(PUBLIC_KEYS, "dsa.pub"), "utf8"), "ssh-dss keys are not accepted"],
      ["ssh-ed25519 not-a-key", "this is not a public key sshd can read"],
    ]) {
      await field.fill(text);
      if (!js) await add.click();
      await expect(dialog.getByRole("alert")).toContainText(message);
      if (js) await expect(add).toBeDisabled();
    }
    expect(existsSync(app.authorizedKeys)).toBe(false);
  });

  test("a pasted private key is refused, cleared, and (with the page's code) never sent", async ({ page, app, consoleErrors, js }) => {
    await openSshKeys(page, app);
    const sent: string[] = [];
    page.on("request", (r) => r.method() === "POST" && sent.push(r.postData() ?? ""));
    await page.getByRole("button", { name: "Add existing key" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Existing Key" });
    const secret = privateKeyText();
    await dialog.getByLabel("Public key", { exact: true }).fill(secret);
    if (!js) await dialog.getByRole("button", { name: "Add Key" }).click();
    await expect(dialog.getByRole("alert")).toContainText("A private key must never be shared");
    await expect(dialog.getByLabel("Public key", { exact: true })).toHaveValue("");
    if (js) {
      await expect(dialog.getByRole("button", { name: "Add Key" })).toBeDisabled();
      expect(sent).toEqual([]);
    }
    expect(await page.content()).not.toContain(secret.split("\n")[1]);
    expect(existsSync(app.authorizedKeys)).toBe(false);
  });
});

test("the other keys of the file are listed read-only, with options and the unreadable lines counted", async ({ page, app, consoleErrors }) => {
  mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
  writeFileSync(app.authorizedKeys, readFileSync(join(REPO, "tests/fixtures/authorized_keys.mixed")));
  await openSshKeys(page, app);
  const section = page.locator("details.others");
  await expect(section.locator("summary")).toHaveText("Other keys in this file (7)");
  const others = section.getByRole("list", { name: "Other keys" });
  await expect(others).toBeHidden();
  await section.locator("summary").click();
  await expect(others.getByRole("listitem")).toHaveCount(7);
  await expect(others.getByText("alice@fileglancer-dev.example")).toBeVisible();
  await expect(others.locator("[data-field=options]").first()).toHaveText(
    'command="echo \\"hi there\\", ok",from="10.0.0.0/8,192.168.1.1"',
  );
  await expect(section.locator("[data-field=unreadable]")).toHaveText(
    "3 lines of the file cannot be read by sshd, and are not shown.",
  );
  await expect(section.getByRole("button")).toHaveCount(0);
});

test("a key past its expiry-time is marked expired", async ({ page, app, consoleErrors }) => {
  mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
  const pub = readFileSync(join(PUBLIC_KEYS, "ed25519.pub"), "utf8").trim().replace("alice@laptop", "fileglancer old");
  writeFileSync(app.authorizedKeys, `restrict,expiry-time="20200101" ${pub}\n`);
  await openSshKeys(page, app);
  const row = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
  await expect(row.locator("[data-field=expires]")).toHaveText("Expired 2020-01-01");
  await expect(row).toHaveClass(/expired/);
});

test.describe("accessible", () => {
  test.skip(({ js }) => !js, "native modal dialogs, focus and keyboard flows are the page's code");
  test("dialogs are native and modal; focus goes in and comes back to the opener", async ({ page, app, consoleErrors }) => {
    await openSshKeys(page, app);
    const opener = page.getByRole("button", { name: "+ New Key" });
    await opener.click();
    const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
    expect(await dialog.evaluate((d) => d.tagName === "DIALOG" && d.matches(":modal"))).toBe(true);
    await expect(dialog.getByLabel("Passphrase (optional)")).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
    await expect(opener).toBeFocused();

    const add = page.getByRole("button", { name: "Add existing key" });
    await add.click();
    await page.getByRole("dialog", { name: "Add Existing Key" }).getByRole("button", { name: "Cancel" }).click();
    await expect(add).toBeFocused();
  });

  test("the whole flow works from the keyboard alone", async ({ page, app, consoleErrors }) => {
    await openSshKeys(page, app);
    /** Presses Tab until the focused element's accessible text is `name`. */
    async function tabTo(name: string) {
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press("Tab");
        const focused = await page.evaluate(() => {
          const e = document.activeElement as HTMLElement | null;
          return e?.getAttribute("aria-label") || e?.innerText?.trim() || "";
        });
        if (focused === name) return;
      }
      throw new Error(`Tab never reached ${name}`);
    }
    await tabTo("+ New Key");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
    await expect(dialog.getByLabel("Passphrase (optional)")).toBeFocused();
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await expect(dialog.getByLabel("Label (optional)")).toBeFocused();
    await page.keyboard.type("by keyboard");
    await tabTo("Generate Key");
    await page.keyboard.press("Enter");
    const created = page.getByRole("dialog", { name: "SSH Key Generated" });
    await expect(created.getByRole("button", { name: "Copy Private Key" })).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(created.getByRole("status")).toHaveText("Copied to the clipboard.");
    await expect(created.locator("[data-field=label]")).toHaveText("by keyboard");
    const fingerprint = (await created.locator("[data-field=fingerprint]").textContent())!;
    await tabTo("Close");
    await page.keyboard.press("Enter");
    await expect(created).toBeHidden();

    await tabTo(`Revoke key ${fingerprint}`);
    await page.keyboard.press("Enter");
    await tabTo("Revoke Key");
    // As a person reads the dialog first: Revoke Key takes no press in its first moment.
    await page.waitForTimeout(600);
    await page.keyboard.press("Enter");
    await expect(page.getByText("No SSH keys found")).toBeVisible();
    expect(readFileSync(app.authorizedKeys, "utf8")).toBe("");
  });

  for (const scheme of ["light", "dark"] as const) {
    test(`axe finds nothing serious in any state, ${scheme}`, async ({ page, app, consoleErrors }) => {
      await page.emulateMedia({ colorScheme: scheme });
      mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
      writeFileSync(app.authorizedKeys, readFileSync(join(REPO, "tests/fixtures/authorized_keys.mixed")));
      await openSshKeys(page, app);
      await expectAccessible(page, "list");
      await page.locator("details.others summary").click();
      await expectAccessible(page, "other keys open");
      await page.getByRole("button", { name: "+ New Key" }).click();
      await expectAccessible(page, "generate dialog");
      await page.getByRole("button", { name: "Generate Key" }).click();
      const created = page.getByRole("dialog", { name: "SSH Key Generated" });
      await expect(created).toBeVisible();
      await expectAccessible(page, "generated dialog");
      await created.getByRole("button", { name: "Close" }).click();
      await expectAccessible(page, "close guard");
      await created.getByRole("button", { name: "Close without copying" }).click();
      await page.getByRole("button", { name: "Add existing key" }).click();
      await expectAccessible(page, "add dialog");
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByRole("button", { name: /^Revoke key / }).first().click();
      await expectAccessible(page, "revoke dialog");
    });
  }
});

test.describe("looks right everywhere", () => {
  test("dark mode follows the system", async ({ page, app, consoleErrors }) => {
    await openSshKeys(page, app);
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await background()).toBe("rgb(249, 250, 251)");
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await background()).toBe("rgb(17, 24, 39)");
  });

  test("at 360 px nothing overflows, and opening a dialog shifts nothing", async ({ page, app, consoleErrors }) => {
    needsScripts("dialogs open in place only with the page's code");
    await page.setViewportSize({ width: 360, height: 740 });
    mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
    writeFileSync(app.authorizedKeys, readFileSync(join(REPO, "tests/fixtures/authorized_keys.mixed")));
    await openSshKeys(page, app);
    const width = () => page.evaluate(() => document.documentElement.scrollWidth);
    expect(await width()).toBeLessThanOrEqual(360);
    // The other keys' section itself, not its list: the list inside the closed <details> was
    // measured once as an empty box and once laid out, with the section closed both times.
    const layout = () => page.evaluate(() =>
      [...document.querySelectorAll("h1, .lead, ul[aria-label='SSH keys'], details.others")]
        .map((e) => JSON.stringify(e.getBoundingClientRect())));
    const before = await layout();
    await page.getByRole("button", { name: "+ New Key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
    const box = (await dialog.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(360);
    expect(await layout()).toEqual(before);
    await dialog.getByRole("button", { name: "Generate Key" }).click();
    const created = page.getByRole("dialog", { name: "SSH Key Generated" });
    const createdBox = (await created.boundingBox())!;
    expect(createdBox.x + createdBox.width).toBeLessThanOrEqual(360);
    expect(await width()).toBeLessThanOrEqual(360);
  });
});

test("screenshots for the README", async ({ page, app, consoleErrors }) => {
  needsScripts("the screenshots show the page with its code");
  mkdirSync(DOCS, { recursive: true });
  await page.setViewportSize({ width: 1000, height: 700 });
  await openSshKeys(page, app);
  await page.screenshot({ path: join(DOCS, "empty.png") });
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByLabel("Label (optional)").fill("Seqera production");
  await dialog.getByLabel("Expires").selectOption({ label: "In 90 days" });
  await page.screenshot({ path: join(DOCS, "generate.png") });
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await created.getByRole("button", { name: "Copy Private Key" }).click();
  await page.screenshot({ path: join(DOCS, "generated.png") });
  await created.getByRole("button", { name: "Close" }).click();
  const { created: second } = await generate(page, "CI runner", "In 30 days");
  await second.getByRole("button", { name: "Copy Private Key" }).click();
  await second.getByRole("button", { name: "Close" }).click();
  await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(2);
  await page.screenshot({ path: join(DOCS, "list.png") });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: join(DOCS, "dark.png") });
});

test("without a Platform set, the dialog shows the guide's steps to take the key by hand", async ({ page, app, consoleErrors }) => {
  await openSshKeys(page, app);
  const { created } = await generate(page);
  await expect(created.getByRole("heading", { name: "Using it in Seqera Platform" })).toBeVisible();
  await expect(created.getByRole("listitem")).toHaveText([
    "Copy the private key.",
    "Log in to Seqera Platform.",
    "Open Your credentials, then Add credentials, then Provider: SSH.",
    "Paste the key, and its passphrase if it has one.",
  ]);
  await expect(created.getByRole("button", { name: "Add to Seqera Platform" })).toHaveCount(0);
});

test("a file with only keyhatch's keys shows no other-keys section", async ({ page, app, consoleErrors }) => {
  await openSshKeys(page, app);
  await expect(page.getByText("No SSH keys found")).toBeVisible();
  await expect(page.locator("details.others")).toHaveCount(0);
});
