// Test fixtures: `app` is a running keyhatch (the debug build with the release bundle embedded) on a free port with its own temporary home;
// `home` is that home. Every test also fails on any browser console error it did not expect.
import { test as base, expect, Locator, Page } from "@playwright/test";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const REPO = resolve(__dirname, "../..");
/** The scripts' credential (`Authorization: Bearer`); it never logs a browser in from a URL. */
export const TOKEN = "e2e-token-0123456789abcdef-0123456789";
const EXE = process.env.KEYHATCH_EXE ?? join(REPO, "target/debug/keyhatch");

export type App = {
  base: string;
  home: string;
  /** Path of the home's authorized_keys. */
  authorizedKeys: string;
  /** The server's XDG_RUNTIME_DIR, where `keyhatch link` finds it. */
  runtime: string;
};

type Fixtures = {
  home: string;
  app: App;
  consoleErrors: string[];
  /** Console errors a test expects (a 401 page, say); matched by substring. */
  allowConsoleErrors: string[];
  /** Start keyhatch on a home directory that does not exist. */
  missingHome: boolean;
  /** Settings keyhatch starts with besides its address and home. */
  extraArgs: string[];
  /** Whether the page's code runs (the "js" project) or not ("no-js"). */
  js: boolean;
};

export const test = base.extend<Fixtures>({
  allowConsoleErrors: [[], { option: true }],
  missingHome: [false, { option: true }],
  extraArgs: [[], { option: true }],
  js: async ({ javaScriptEnabled }, use) => use(javaScriptEnabled),

  home: async ({ missingHome }, use) => {
    const dir = mkdtempSync(join(tmpdir(), "keyhatch-e2e-"));
    await use(missingHome ? join(dir, "missing") : dir);
    rmSync(dir, { recursive: true, force: true });
  },

  app: async ({ home, context, extraArgs }, use) => {
    const { child, base, runtime } = await startKeyhatch(["--addr", "127.0.0.1:0", "--home", home, ...extraArgs]);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await use({ base, home, authorizedKeys: join(home, ".ssh", "authorized_keys"), runtime });
    await stop(child);
    rmSync(runtime, { recursive: true, force: true });
  },

  consoleErrors: async ({ page, allowConsoleErrors }, use) => {
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    await use(errors);
    // Without JavaScript a refused form comes back as the page with a 4xx status, which Chromium
    // reports as a failed load: that is the page telling the person what was wrong.
    const refusedForm = (e: string) => !scriptsRun() && /status of 4\d\d/.test(e);
    const unexpected = errors.filter((e) => !refusedForm(e) && !allowConsoleErrors.some((a) => e.includes(a)));
    expect(unexpected, "browser console errors").toEqual([]);
  },
});

export { expect };

/** Starts the test build of keyhatch (or `exe`; `make bench` sets KEYHATCH_EXE to the release build) with `args`,
 * its own runtime directory (for its login files) and the test token; resolves once it prints its login link, with
 * `http://HOST:PORT` from it. */
export async function startKeyhatch(args: string[], exe = EXE) {
  const runtime = mkdtempSync(join(tmpdir(), "keyhatch-run-"));
  const child = spawn(exe, args, {
    cwd: REPO,
    // No settings file: not the developer's, not a site mode installed on this machine.
    env: { ...process.env, KEYHATCH_TOKEN: TOKEN, XDG_RUNTIME_DIR: runtime, KEYHATCH_CONFIG: "none" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const { link, origin } = await loginUrl(child);
  // The link opens an origin of this start alone (`http://k….localhost:PORT`), which Chromium
  // sends to loopback but Node's resolver does not know: the tests reach the server at
  // 127.0.0.1 unless they test that origin.
  const base = origin.replace(/^http:\/\/[^:]+/, "http://127.0.0.1");
  return { child, base, runtime, link, origin };
}

/** Stops keyhatch as Ctrl-C would, so it removes its login files, and waits for it. */
export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Reads the server's stdout until it prints its login link; returns it and its origin
 * (`http://HOST:PORT`). */
function loginUrl(child: ChildProcess): Promise<{ link: string; origin: string }> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = line.match(/(http:\/\/[^/ ]+)\/\?token=\S+/);
      if (m) resolve({ link: m[0], origin: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`keyhatch exited with ${code} before listening`)));
  });
}

/** The query of a new login link (`?token=…`, it works once), from `keyhatch link` run with the
 * server's runtime directory, as the person would. */
export function loginQuery(app: App): string {
  const printed = execFileSync(EXE, ["link"], {
    env: { ...process.env, XDG_RUNTIME_DIR: app.runtime },
    encoding: "utf8",
  });
  return printed.match(/\/(\?token=[0-9a-f]+)/)![1];
}

/** Logs in with a new login link, lands on SSH Keys, and waits until the page is hydrated (when
 * JavaScript runs at all). */
export async function openSshKeys(page: Page, app: App) {
  await page.goto(`${app.base}/${loginQuery(app)}`);
  await expect(page).toHaveURL(`${app.base}/ssh-keys`);
  if (scriptsRun()) await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
}

/** Whether the running test's project lets the page's code run. */
export function scriptsRun(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}

/** Keeps the private key shown in the "SSH Key Generated" dialog, as a person would: with the
 * page's code, Copy Private Key and the clipboard; without, the text area the server rendered. */
export async function keepPrivateKey(page: Page, created: Locator, js: boolean): Promise<string> {
  if (!js) return created.getByRole("textbox", { name: "Private key" }).inputValue();
  await created.getByRole("button", { name: "Copy Private Key" }).click();
  await expect(created.getByRole("status")).toHaveText("Copied to the clipboard.");
  return page.evaluate(() => navigator.clipboard.readText());
}

/** `ssh-keygen -l` of a private key, as `SHA256:…`, loading it with `passphrase`; throws when
 * ssh-keygen cannot load it. The key file lives only in a temporary directory, removed after. */
export function fingerprintOf(privateKey: string, passphrase = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "keyhatch-key-"));
  try {
    const path = join(dir, "id");
    writeFileSync(path, privateKey, { mode: 0o600 });
    const pub = execFileSync("ssh-keygen", ["-y", "-P", passphrase, "-f", path], { encoding: "utf8", stdio: "pipe" });
    writeFileSync(`${path}.pub`, pub);
    return execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`], { encoding: "utf8" }).split(" ")[1];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
