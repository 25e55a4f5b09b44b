// Site mode in a real browser: Debian's nginx authenticates a throwaway account with basic auth
// and passes its name to keyhatch over the socket; the whole flow runs as that person.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "@playwright/test";
import { fingerprintOf } from "./app";
import { SiteStack, keyhatchLocation, openWhenUp, test } from "./site";

test("the whole flow through nginx, as the person it authenticates", async ({ browser, person }) => {
  const stack = await SiteStack.start([person], (origin) => ["--public-url", origin, "--logout-url", "/oauth2/sign_out"], (socket, htpasswd) =>
    keyhatchLocation("/", socket, htpasswd));
  const origin = stack.origin;
  try {
    const context = await browser.newContext({ httpCredentials: { username: person.name, password: person.password } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    const response = await openWhenUp(page, `${origin}/ssh-keys`);
    expect(response.status()).toBe(200);
    await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
    await expect(page.locator(".profile-button")).toHaveText("Ada Example");
    await expect(page.locator(".lead")).toContainText("~/.ssh/authorized_keys");

    await page.getByRole("button", { name: "+ New Key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
    const generated = page.waitForResponse("**/api/keys/generate");
    await dialog.getByRole("button", { name: "Generate Key" }).click();
    const sent = await (await generated).json();
    const created = page.getByRole("dialog", { name: "SSH Key Generated" });
    await created.getByRole("button", { name: "Copy Private Key" }).click();
    await expect(created.getByRole("status")).toHaveText("Copied to the clipboard.");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(sent.private_key);
    await created.getByRole("button", { name: "Close" }).click();
    await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(1);

    const file = join(person.home, ".ssh", "authorized_keys");
    expect(statSync(file).uid).toBe(person.uid);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(person.home, ".ssh")).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, "utf8")).toMatch(/^restrict,pty ssh-ed25519 AAAA[A-Za-z0-9+/]+ fileglancer\n$/);
    expect(fingerprintOf(sent.private_key)).toBe(sent.info.fingerprint);

    await page.locator(".profile-button").click();
    // Log out is the site's sign-out: the proxy holds the login, not keyhatch.
    await expect(page.getByRole("menuitem", { name: "Log out" })).toHaveAttribute("href", "/oauth2/sign_out");
    expect(errors).toEqual([]);
    await context.close();
  } finally {
    await stack.stop();
  }
});
