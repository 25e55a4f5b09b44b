// Site mode in a real browser: Debian's nginx authenticates a throwaway account with basic auth
// and passes its name to keyhatch over the socket; the whole flow runs as that person.
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
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

// Red team: a page of another site sent the browser to `?revoke=FP` on the first click of a
// double-click it asked for; the Revoke dialog opened under the second, which revoked the key.
// A link from another site opens no dialog; the same address typed still does.
test("a link from another site opens no dialog for a second click to land on", async ({ browser, person }) => {
  const stack = await SiteStack.start([person], (origin) => ["--public-url", origin, "--logout-url", "/oauth2/sign_out"], (socket, htpasswd) =>
    keyhatchLocation("/", socket, htpasswd));
  let asked = "";
  const elsewhere = createServer((_, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(`<!DOCTYPE html><title>A game</title><a href="${asked}">Double-click to play</a>`);
  });
  try {
    await new Promise<void>((ready) => elsewhere.listen(0, "127.0.0.1", () => ready()));
    const context = await browser.newContext({ httpCredentials: { username: person.name, password: person.password } });
    const page = await context.newPage();
    await openWhenUp(page, `${stack.origin}/ssh-keys`);
    const made = await context.request.post(`${stack.origin}/api/keys/generate`, { data: {} });
    expect(made.status()).toBe(200);
    const fingerprint = (await made.json()).info.fingerprint;
    asked = `${stack.origin}/ssh-keys?revoke=${encodeURIComponent(fingerprint)}`;
    const revoke = page.getByRole("dialog", { name: "Revoke SSH Key" });

    await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
    await page.getByRole("link", { name: "Double-click to play" }).click();
    await expect(page).toHaveURL(asked);
    await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(1);
    await expect(revoke).toHaveCount(0);
    await expect(page.getByRole("status").first()).toContainText("keyhatch opens one only from its own page");

    // Typed into the address bar, the same address is the person's own, and opens the dialog.
    await page.goto(asked);
    await expect(revoke).toBeVisible();
    expect(readFileSync(join(person.home, ".ssh", "authorized_keys"), "utf8")).toContain("fileglancer");
    await context.close();
  } finally {
    elsewhere.close();
    await stack.stop();
  }
});
