// keyhatch under a path of a portal host (`public-url = http://localhost:PORT/ssh/`), behind
// Debian's nginx which passes only /ssh/ to it: the whole flow, with the page's code and without,
// and every request the browser makes stays under /ssh/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "@playwright/test";
import { fingerprintOf, keepPrivateKey, scriptsRun } from "./app";
import { SiteStack, keyhatchLocation, openWhenUp, test } from "./site";

test("under /ssh/ on a portal host: generate, list, revoke, and no request outside /ssh/", async ({ browser, person }) => {
  const js = scriptsRun();
  const stack = await SiteStack.start(
    [person],
    (origin) => ["--public-url", `${origin}/ssh/`, "--logout-url", "/ssh/oauth2/sign_out"],
    (socket, htpasswd) => `${keyhatchLocation("/ssh/", socket, htpasswd)}
    location / {
      return 404 "The portal's own pages.\\n";
    }`,
  );
  const origin = stack.origin;
  try {
    const context = await browser.newContext({
      javaScriptEnabled: js,
      httpCredentials: { username: person.name, password: person.password },
    });
    if (js) await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    const page = await context.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));

    await openWhenUp(page, `${origin}/ssh/`);
    await expect(page).toHaveURL(`${origin}/ssh/ssh-keys`);
    if (js) await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
    await expect(page.getByText("No SSH keys found")).toBeVisible();
    await expect(page.locator("a.brand")).toHaveAttribute("href", "/ssh/ssh-keys");

    await page.getByRole("button", { name: "+ New Key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
    await dialog.getByRole("button", { name: "Generate Key" }).click();
    const created = page.getByRole("dialog", { name: "SSH Key Generated" });
    const fingerprint = (await created.locator("[data-field=fingerprint]").textContent())!;
    expect(fingerprintOf(await keepPrivateKey(page, created, js))).toBe(fingerprint);
    await created.getByRole("button", { name: "Close" }).click();
    const keys = page.getByRole("list", { name: "SSH keys" }).getByRole("listitem");
    await expect(keys).toHaveCount(1);
    await expect(keys.first().locator(".fingerprint")).toHaveText(fingerprint);
    const file = join(person.home, ".ssh", "authorized_keys");
    expect(readFileSync(file, "utf8")).toMatch(/^restrict,pty ssh-ed25519 AAAA[A-Za-z0-9+/]+ fileglancer\n$/);

    await page.getByRole("button", { name: `Revoke key ${fingerprint}` }).click();
    await page.getByRole("dialog", { name: "Revoke SSH Key" }).getByRole("button", { name: "Revoke Key" }).click();
    await expect(page.getByText("No SSH keys found")).toBeVisible();
    expect(readFileSync(file, "utf8")).toBe("");

    if (js) {
      await page.locator(".profile-button").click();
      await expect(page.getByRole("menuitem", { name: "Log out" })).toHaveAttribute("href", "/ssh/oauth2/sign_out");
      await page.getByRole("menuitem", { name: "SSH Keys" }).click();
      await expect(page).toHaveURL(`${origin}/ssh/ssh-keys`);
      await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
      // The page's code came from under /ssh/, and so did its calls.
      expect(requested.some((u) => new URL(u).pathname.startsWith("/ssh/pkg/"))).toBe(true);
      expect(requested).toContain(`${origin}/ssh/api/keys/generate`);
    }
    const outside = requested.filter((u) => /^https?:/.test(u) && !new URL(u).pathname.startsWith("/ssh/"));
    expect(outside, "requests outside /ssh/").toEqual([]);
    // Without JavaScript, a revoke answers with the page the form posted to.
    expect(errors.filter((e) => js || !/status of 4\d\d/.test(e))).toEqual([]);
    await context.close();
  } finally {
    await stack.stop();
  }
});
