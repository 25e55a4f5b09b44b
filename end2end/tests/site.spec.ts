// Site mode in a real browser: Debian's nginx authenticates a throwaway account with basic auth
// and passes its name to keyhatch over the socket; the whole flow runs as that person.
import { execFileSync, spawn, ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base, expect } from "@playwright/test";
import { REPO, fingerprintOf, stop } from "./app";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(ready: () => boolean, what: string) {
  const started = Date.now();
  while (!ready()) {
    if (Date.now() - started > 10_000) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const test = base.extend<{ person: { name: string; password: string; home: string } }>({
  person: async ({}, use) => {
    const name = `khe2e${Math.floor(Math.random() * 1e8).toString(16)}`;
    execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", "--comment", "Ada Example", name]);
    try {
      const home = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).split(":")[5];
      await use({ name, password: `pw-${name}`, home });
    } finally {
      execFileSync("userdel", ["--remove", name], { stdio: "ignore" });
    }
  },
});

test("the whole flow through nginx, as the person it authenticates", async ({ browser, person }) => {
  const dir = mkdtempSync(join(tmpdir(), "keyhatch-site-"));
  chmodSync(dir, 0o755);
  const socket = join(dir, "keyhatch.sock");
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  let keyhatch: ChildProcess | undefined;
  let nginx: ChildProcess | undefined;
  try {
    keyhatch = spawn(join(REPO, "target/debug/keyhatch"), [
      "--mode", "site", "--proxy-user", "www-data", "--socket", socket, "--public-url", origin,
      "--logout-url", "/oauth2/sign_out",
    ], { env: { ...process.env, KEYHATCH_CONFIG: "none", KEYHATCH_TOKEN: "" }, stdio: ["ignore", "ignore", "inherit"] });
    const hash = execFileSync("openssl", ["passwd", "-apr1", person.password], { encoding: "utf8" });
    const n = join(dir, "nginx");
    mkdirSync(n);
    writeFileSync(join(n, "htpasswd"), `${person.name}:${hash}`, { mode: 0o644 });
    writeFileSync(join(n, "nginx.conf"), `user www-data;
worker_processes 1;
pid ${n}/nginx.pid;
error_log ${n}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${n}/body; proxy_temp_path ${n}/proxy; fastcgi_temp_path ${n}/fastcgi;
  uwsgi_temp_path ${n}/uwsgi; scgi_temp_path ${n}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      auth_basic "keyhatch";
      auth_basic_user_file ${n}/htpasswd;
      proxy_pass http://unix:${socket}:;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-User $remote_user;
      proxy_set_header X-Real-IP $remote_addr;
    }
  }
}
`);
    await waitFor(() => { try { return statSync(socket).isSocket(); } catch { return false; } }, "keyhatch");
    nginx = spawn("/usr/sbin/nginx", ["-p", n, "-c", join(n, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "inherit"] });
    const context = await browser.newContext({ httpCredentials: { username: person.name, password: person.password } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    let response = await page.goto(`${origin}/ssh-keys`).catch(() => null);
    for (let i = 0; !response && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      response = await page.goto(`${origin}/ssh-keys`).catch(() => null);
    }
    expect(response!.status()).toBe(200);
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
    const uid = Number(execFileSync("id", ["-u", person.name], { encoding: "utf8" }));
    expect(statSync(file).uid).toBe(uid);
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
    if (nginx) await stop(nginx);
    if (keyhatch) await stop(keyhatch);
    rmSync(dir, { recursive: true, force: true });
  }
});
