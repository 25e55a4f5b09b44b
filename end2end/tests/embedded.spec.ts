// The binary `make install` installs carries its browser bundle: copied alone to a directory
// with no site beside it, it still serves a page that hydrates and works.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, expect, openSshKeys, startKeyhatch, stop, test } from "./app";

test("the installed binary alone serves a page that hydrates and generates a key", async ({ page, home, consoleErrors }) => {
  const dir = mkdtempSync(join(tmpdir(), "keyhatch-bin-"));
  const exe = join(dir, "keyhatch");
  copyFileSync(join(REPO, "target/debug/keyhatch"), exe);
  const { child, base, runtime } = await startKeyhatch(["--addr", "127.0.0.1:0", "--home", home], exe);
  try {
    await openSshKeys(page, { base, home, authorizedKeys: join(home, ".ssh", "authorized_keys"), runtime });
    const wasm = await page.request.get(`${base}/pkg/keyhatch.wasm`);
    expect(wasm.headers()["content-type"]).toBe("application/wasm");
    await page.getByRole("button", { name: "+ New Key" }).click();
    await page.getByRole("dialog", { name: "Generate SSH Key" }).getByRole("button", { name: "Generate Key" }).click();
    await expect(page.getByRole("dialog", { name: "SSH Key Generated" }).locator("[data-field=type]")).toHaveText("ssh-ed25519");
  } finally {
    await stop(child);
    rmSync(runtime, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
