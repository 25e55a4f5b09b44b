import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, TOKEN, expect, test } from "./app";

test.describe("with JavaScript off", () => {
  test.use({ javaScriptEnabled: false });

  test("the server-rendered page lists the keys and says generating needs JavaScript", async ({ page, app }) => {
    mkdirSync(join(app.home, ".ssh"), { mode: 0o700 });
    writeFileSync(app.authorizedKeys, readFileSync(join(REPO, "tests/fixtures/authorized_keys.mixed")));
    const response = await page.goto(`${app.base}/?token=${TOKEN}`);
    await expect(page.getByRole("heading", { name: "SSH Keys", level: 1 })).toBeVisible();
    await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(5);
    await expect(page.getByRole("button", { name: "+ New Key" })).toBeDisabled();
    // Chromium's "JavaScript off" emulation does not render <noscript>: check the page sends it.
    expect(await response!.text()).toMatch(/<noscript>.*This page needs JavaScript.*<\/noscript>/);
  });
});
