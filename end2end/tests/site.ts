// Site mode's fixtures: a throwaway account (`person`, removed after the test, even when it fails),
// keyhatch in site mode on a Unix socket, and Debian's nginx in front of it with basic auth.
import { execFileSync, spawn, ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base } from "@playwright/test";
import { REPO, stop } from "./app";

export type Person = { name: string; password: string; home: string; uid: number };

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(ready: () => boolean, what: string) {
  const started = Date.now();
  while (!ready()) {
    if (Date.now() - started > 10_000) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A new account named `khe2e…`, with a home and the full name "Ada Example"; removed with its home after `use`. */
export async function withAccount(use: (person: Person) => Promise<void>) {
  const name = `khe2e${Math.floor(Math.random() * 1e8).toString(16)}`;
  execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", "--comment", "Ada Example", name]);
  try {
    const [, , uid, , , home] = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).split(":");
    await use({ name, password: `pw-${name}`, home, uid: Number(uid) });
  } finally {
    execFileSync("userdel", ["--remove", name], { stdio: "ignore" });
  }
}

export const test = base.extend<{ person: Person }>({
  person: async ({}, use) => withAccount(use),
});

/** keyhatch in site mode and nginx with basic auth for `people` in front of it, on a free port of
 * 127.0.0.1; `locations` is nginx's server block, given `socket` and the password file's path. */
export class SiteStack {
  readonly dir = mkdtempSync(join(tmpdir(), "keyhatch-site-"));
  readonly socket = join(this.dir, "keyhatch.sock");
  private keyhatch?: ChildProcess;
  private nginx?: ChildProcess;

  private constructor(readonly port: number) {
    // nginx's workers (www-data) reach the password file and the socket through it.
    chmodSync(this.dir, 0o755);
  }

  /** `http://localhost:PORT`. */
  get origin() {
    return `http://localhost:${this.port}`;
  }

  static async start(people: Person[], keyhatchArgs: (origin: string) => string[], locations: (socket: string, htpasswd: string) => string) {
    const stack = new SiteStack(await freePort());
    try {
      stack.keyhatch = spawn(join(REPO, "target/debug/keyhatch"), [
        "--mode", "site", "--proxy-user", "www-data", "--socket", stack.socket, ...keyhatchArgs(stack.origin),
      ], { env: { ...process.env, KEYHATCH_CONFIG: "none", KEYHATCH_TOKEN: "" }, stdio: ["ignore", "ignore", "inherit"] });
      const n = join(stack.dir, "nginx");
      mkdirSync(n);
      const htpasswd = join(n, "htpasswd");
      const hash = (p: Person) => execFileSync("openssl", ["passwd", "-apr1", p.password], { encoding: "utf8" });
      writeFileSync(htpasswd, people.map((p) => `${p.name}:${hash(p)}`).join(""), { mode: 0o644 });
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
    listen 127.0.0.1:${stack.port};
${locations(stack.socket, htpasswd)}
  }
}
`);
      await waitFor(() => { try { return statSync(stack.socket).isSocket(); } catch { return false; } }, "keyhatch");
      stack.nginx = spawn("/usr/sbin/nginx", ["-p", n, "-c", join(n, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "inherit"] });
      return stack;
    } catch (e) {
      await stack.stop();
      throw e;
    }
  }

  async stop() {
    if (this.nginx) await stop(this.nginx);
    if (this.keyhatch) await stop(this.keyhatch);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** nginx's location `path` that asks for basic auth and passes the person to keyhatch on
 * `socket`, with the path as the browser sent it. */
export function keyhatchLocation(path: string, socket: string, htpasswd: string): string {
  return `
    location ${path} {
      auth_basic "keyhatch";
      auth_basic_user_file ${htpasswd};
      proxy_pass http://unix:${socket}:;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-User $remote_user;
      proxy_set_header X-Real-IP $remote_addr;
    }`;
}

/** Opens `url` once nginx answers (it starts in the background). */
export async function openWhenUp(page: import("@playwright/test").Page, url: string) {
  let response = await page.goto(url).catch(() => null);
  for (let i = 0; !response && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    response = await page.goto(url).catch(() => null);
  }
  if (!response) throw new Error(`${url} did not answer`);
  return response;
}
