// The single sign-on chain of sso.spec.ts, on this machine: a real OpenID Provider
// (provider.mjs), Debian's Apache with mod_auth_openidc running the shipped
// deploy/apache-keyhatch.conf, keyhatch in site mode on its Unix socket behind it, a private sshd,
// and throwaway accounts. Everything it starts or makes is listed in a Chain, whose close() takes
// it all back: processes killed by PID, accounts and the group removed, the directory deleted.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import type { IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { REPO } from "../app";
import { freePort } from "../site";

const KEYHATCH = process.env.KEYHATCH_BIN ?? join(REPO, "target/debug/keyhatch");
const EXAMPLE = join(REPO, "deploy/apache-keyhatch.conf");
/** The OIDC client keyhatch's Apache is, at the provider. */
const CLIENT_ID = "keyhatch";

/** A throwaway account: its login name, uid, home and the name in its GECOS comment. */
export type Account = { name: string; uid: number; home: string; gecos: string };

/** One Apache (the shipped example) and the keyhatch behind it. */
export type Site = {
  /** `https://HOST:PORT`, what the browser opens. */
  origin: string;
  /** keyhatch's public-url: the origin and the prefix it is served under. */
  publicUrl: string;
  /** keyhatch's logout-url: mod_auth_openidc's OIDCRedirectURI with `?logout=` the public URL. */
  logoutUrl: string;
  /** keyhatch's audit log (JSON lines). */
  auditLog: string;
  /** Apache's access log, one line a request, with the headers as Apache passed them on. */
  accessLog: string;
  /** Apache's error log, for failure messages. */
  errorLog: string;
  /** `https://HOST:PORT/other/`: another location of the host, a person's own web server. */
  other: string;
};

/** An answer to `Chain.send`. */
export type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

/** How one site names the person: mod_auth_openidc's claim, keyhatch's user-map-match, and
 * whether Apache also requires the provider to have verified the address (`Require claim
 * email_verified:true` in the example's RequireAll, as the README says to when naming by email). */
export type Naming = { claim: string; userMapMatch?: string; verifiedEmail?: boolean };

/** Runs a program and returns its standard output; throws with its standard error. */
function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Resolves once `ready()` holds; rejects with `what` and `log()` when `child` has exited or
 * after 10 s. */
async function waitFor(child: ChildProcess, ready: () => boolean | Promise<boolean>, what: string, log: () => string) {
  const started = Date.now();
  while (!(await ready())) {
    // After the pause: a program that could not start has said why in its log by then.
    await new Promise((r) => setTimeout(r, 50));
    const exited = child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    if (exited || Date.now() - started > 10_000) {
      throw new Error(`${what} ${exited ? "exited" : "did not come up"}:\n${log()}`);
    }
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
  });
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** `text` with each `[from, to]` replaced; a `from` the text no longer has throws, so the shipped
 * example cannot drift away from what the spec runs (as tests/it/deploy/proxies.rs's `replaced`). */
function replaced(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`deploy/apache-keyhatch.conf no longer has ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** The modules the Apache example's opening comment says it needs (`mod_ssl` → `ssl`), as
 * tests/it/deploy/proxies.rs reads them. */
function neededModules(example: string): string[] {
  const lines = example.split("\n");
  const comment = lines.slice(0, lines.findIndex((l) => !l.startsWith("#"))).join(" ");
  const needs = comment.slice(comment.indexOf("Needs")).split("(")[0];
  return [...needs.matchAll(/mod_(\w+)/g)].map((m) => m[1]);
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

export class Chain {
  /** The scratch directory: certificates, configurations, logs, sockets, private keys. */
  readonly dir: string;
  /** The test CA, which signed the provider's and Apache's certificate. */
  readonly ca: string;
  private readonly cert: string;
  private readonly key: string;
  private readonly children: ChildProcess[] = [];
  private readonly accounts: string[] = [];
  private readonly groups: string[] = [];
  private readonly clientSecret = randomBytes(24).toString("hex");
  /** The provider's issuer, once started. */
  issuer = "";

  /** A scratch directory the proxy's account can search (for the socket and the CA), and a
   * test CA with one certificate for 127.0.0.1 and the `hosts` (its key never leaves `dir`). */
  constructor(hosts: string[]) {
    this.dir = mkdtempSync(join(tmpdir(), "keyhatch-sso-"));
    const d = (f: string) => join(this.dir, f);
    this.ca = d("ca.pem");
    this.cert = d("cert.pem");
    this.key = d("key.pem");
    try {
      chmodSync(this.dir, 0o755);
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
      run("openssl", ["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=keyhatch sso test CA", "-keyout", d("ca.key"),
        "-out", this.ca, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
      const names = ["IP:127.0.0.1", ...hosts.map((h) => `DNS:${h}`)].join(",");
      run("openssl", ["req", "-new", ...ec, "-subj", "/CN=127.0.0.1", "-keyout", this.key, "-out", d("cert.csr"),
        "-addext", `subjectAltName=${names}`]);
      run("openssl", ["x509", "-req", "-in", d("cert.csr"), "-CA", this.ca, "-CAkey", d("ca.key"), "-CAcreateserial",
        "-days", "1", "-copy_extensions", "copy", "-out", this.cert]);
      rmSync(d("ca.key"));
      chmodSync(this.ca, 0o644);
    } catch (e) {
      rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The base64 SHA-256 of the certificate's public key, as Chromium's
   * `--ignore-certificate-errors-spki-list` takes it: a browser started with it trusts the
   * provider and the sites as a real CA's certificate would be (a page with a certificate error
   * cannot register a service worker, even with the error ignored). */
  spki(): string {
    const key = execFileSync("openssl", ["x509", "-in", this.cert, "-noout", "-pubkey"]);
    const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: key });
    return createHash("sha256").update(der).digest("base64");
  }

  /** A throwaway group, removed by close(). */
  group(): string {
    const name = `khsso${randomBytes(4).toString("hex")}`;
    this.groups.push(name); // before: a half-made group is removed too
    retry(["groupadd", name]);
    return name;
  }

  /** A throwaway person's account (a home, a shell, `gecos` as its name, a password field sshd
   * does not take for locked), in `groups`; removed with its home by close(). */
  account(gecos: string, groups: string[] = []): Account {
    const name = `khsso${randomBytes(4).toString("hex")}`;
    const extra = groups.length ? ["--groups", groups.join(",")] : [];
    this.accounts.push(name); // before: a half-made account is removed too
    retry(["useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", "--comment", gecos, ...extra, name]);
    const entry = run("getent", ["passwd", name]).trim().split(":");
    return { name, uid: Number(entry[2]), home: entry[5], gecos };
  }

  /** Starts `program` with `args`, its standard error (and output, unless `stdout` is piped) to
   * `log` in the scratch directory; it is killed by close(). */
  private start(program: string, args: string[], log: string, options: { env?: NodeJS.ProcessEnv; stdout?: "pipe" } = {}) {
    const path = join(this.dir, log);
    const fd = openSync(path, "a", 0o600);
    const child = spawn(program, args, { env: options.env ?? process.env, stdio: ["ignore", options.stdout ?? fd, fd] });
    closeSync(fd);
    // A program that cannot be started says so in its log (and the wait for it fails).
    child.on("error", (e) => appendFileSync(path, `${program}: ${e.message}\n`));
    this.children.push(child);
    return child;
  }

  /** Starts the OpenID Provider with `people` (login → claims) and the client keyhatch's Apache
   * is, for the `sites`' origins; resolves with its issuer once it listens. */
  async provider(people: Record<string, Record<string, string | boolean>>, sites: { origin: string; prefix: string }[]) {
    const settings = join(this.dir, "provider.json");
    writeFileSync(settings, JSON.stringify({
      cert: this.cert,
      key: this.key,
      clientId: CLIENT_ID,
      clientSecret: this.clientSecret,
      redirectUris: sites.map((s) => `${s.origin}${s.prefix}oidc/redirect_uri`),
      postLogoutRedirectUris: sites.map((s) => `${s.origin}${s.prefix}`),
      people,
    }), { mode: 0o600 });
    const child = this.start("node", [join(__dirname, "provider.mjs"), settings], "provider.log", { stdout: "pipe" });
    this.issuer = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line).issuer));
      child.once("exit", (code) => reject(new Error(`the provider exited with ${code}:\n${read(join(this.dir, "provider.log"))}`)));
    });
    return this.issuer;
  }

  /** Starts a person's own web server (own-server.mjs: a page that registers a service worker
   * over keyhatch's path, and the worker, sent with `Service-Worker-Allowed: /`) on a loopback
   * port; resolves with the port once it listens. Killed by its PID in close(). */
  async ownServer(): Promise<number> {
    const child = this.start("node", [join(__dirname, "own-server.mjs")], "own-server.log", { stdout: "pipe" });
    return new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line).port));
      child.once("exit", (code) => reject(new Error(`the own server exited with ${code}:\n${read(join(this.dir, "own-server.log"))}`)));
    });
  }

  /** Starts keyhatch (site mode, on a socket, as root) and, in front of it, an Apache of its own
   * (configuration, pid file, port and ServerRoot in `dir/name`; never the system's service)
   * running the shipped example, changed only in what a test must change. Beside keyhatch, the
   * host's other pages: `/other/` proxied to `ownServer`'s port (as Open OnDemand's
   * /rnode/HOST/PORT/ proxies users' own web servers). */
  async site(name: string, host: string, port: number, prefix: string, naming: Naming, group: string, ownServer: number): Promise<Site> {
    const d = join(this.dir, name);
    mkdirSync(d, { mode: 0o755 });
    const origin = `https://${host}:${port}`;
    const publicUrl = `${origin}${prefix}`;
    const logoutUrl = `${prefix}oidc/redirect_uri?logout=${encodeURIComponent(publicUrl)}`;
    const socket = join(d, "keyhatch.sock");
    const auditLog = join(d, "audit.log");
    const example = readFileSync(EXAMPLE, "utf8");
    const verified: [string, string][] = naming.verifiedEmail
      ? [["            Require valid-user\n", "            Require valid-user\n            Require claim email_verified:true\n"]]
      : [];
    const conf = replaced(example, [
      ...verified,
      ["<VirtualHost *:443>", `<VirtualHost 127.0.0.1:${port}>`],
      ["ServerName portal.example.org", `ServerName ${host}`],
      ["/etc/ssl/certs/portal.example.org.pem", this.cert],
      ["/etc/ssl/private/portal.example.org.key", this.key],
      // The provider, and the test CA to trust it by (mod_auth_openidc's calls go through libcurl).
      ["OIDCProviderMetadataURL https://login.example.org/.well-known/openid-configuration",
        `OIDCProviderMetadataURL ${this.issuer}/.well-known/openid-configuration\n    OIDCCABundlePath        ${this.ca}`],
      ["OIDCClientSecret        change-me", `OIDCClientSecret        ${this.clientSecret}`],
      ["OIDCCryptoPassphrase    change-me-too", `OIDCCryptoPassphrase    ${randomBytes(24).toString("hex")}`],
      [`OIDCRedirectURI         https://portal.example.org${prefix}oidc/redirect_uri`,
        `OIDCRedirectURI         ${origin}${prefix}oidc/redirect_uri`],
      ["OIDCRemoteUserClaim     preferred_username", `OIDCRemoteUserClaim     ${naming.claim}`],
      // The one address the log-out may send to: keyhatch's public URL, as a regular expression.
      [`OIDCRedirectURLsAllowed ^https://portal\\.example\\.org${prefix}$`,
        `OIDCRedirectURLsAllowed ^${publicUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`],
      // keyhatch's socket; the paths stay the example's (keyhatch gets them unchanged).
      ["unix:/run/keyhatch/keyhatch.sock|", `unix:${socket}|`],
      // Another location of the host, not the site's own: a person's web server, with header
      // rules of its own (mod_headers runs the virtual host's, then the Location's).
      ["\n</VirtualHost>", `\n    <Location /other/>\n        ProxyPass http://127.0.0.1:${ownServer}/\n`
        + "        Header set X-Content-Type-Options nosniff\n        Header always set X-Frame-Options SAMEORIGIN\n"
        + "    </Location>\n</VirtualHost>"],
    ]);
    writeFileSync(join(d, "keyhatch.conf"), conf, { mode: 0o600 });
    // What every Apache has (Debian enables these by default), then exactly the modules the
    // example says it needs. The access log records, for each request, the headers as Apache
    // passes them on (read after mod_auth_openidc and mod_headers have changed them): the spec
    // reads it to see what reached keyhatch.
    const modules = ["mpm_event", "authn_core", "authz_core", "socache_shmcb", ...neededModules(example)];
    writeFileSync(join(d, "apache.conf"), [
      `ServerName ${host}`, `ServerRoot ${d}`, `Listen 127.0.0.1:${port}`, `PidFile ${d}/apache.pid`,
      `ErrorLog ${d}/error.log`, `Mutex file:${d} default`, "User www-data", "Group www-data",
      ...modules.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`),
      `LogFormat "%m %U %>s user=%u xfu=%{X-Forwarded-User}i claim=%{OIDC_CLAIM_preferred_username}i token=%{OIDC_access_token}i cookie=%{Cookie}i" passed`,
      `CustomLog ${d}/access.log passed`,
      `Include ${d}/keyhatch.conf`, "",
    ].join("\n"));
    const flags = ["--mode", "site", "--proxy-user", "www-data", "--socket", socket, "--public-url", publicUrl,
      "--logout-url", logoutUrl, "--allowed-group", group, "--audit-log", auditLog];
    if (naming.userMapMatch) flags.push("--user-map-match", naming.userMapMatch);
    const keyhatch = this.start(KEYHATCH, flags, `${name}/keyhatch.log`, { env: { ...process.env, KEYHATCH_CONFIG: "none", KEYHATCH_TOKEN: "" } });
    const log = () => `keyhatch:\n${read(join(d, "keyhatch.log"))}\napache:\n${read(join(d, "error.log"))}`;
    await waitFor(keyhatch, () => isSocket(socket), "keyhatch", log);
    const apache = this.start("/usr/sbin/apache2", ["-DFOREGROUND", "-f", join(d, "apache.conf")], `${name}/apache.stderr`);
    await waitFor(apache, () => listening(port), "apache", log);
    return { origin, publicUrl, logoutUrl, auditLog, accessLog: join(d, "access.log"), errorLog: join(d, "error.log"), other: `${origin}/other/` };
  }

  /** Starts a private sshd on a free loopback port that lets in only `users`, with the keys in
   * their homes (`StrictModes yes`: the homes useradd made under /home pass its checks);
   * resolves with a function that runs `true` over ssh as `user` with the key at `keyPath`. */
  async sshd(users: string[]) {
    mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation directory
    const d = join(this.dir, "sshd");
    mkdirSync(d, { mode: 0o700 });
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", join(d, "host_key")]);
    const port = await freePort();
    writeFileSync(join(d, "sshd_config"), [
      `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${d}/host_key`, `PidFile ${d}/sshd.pid`,
      "AuthorizedKeysFile .ssh/authorized_keys", "StrictModes yes", "UsePAM no", "PubkeyAuthentication yes",
      "PasswordAuthentication no", "KbdInteractiveAuthentication no", `AllowUsers ${users.join(" ")}`, "LogLevel VERBOSE", "",
    ].join("\n"));
    const sshd = this.start("/usr/sbin/sshd", ["-D", "-e", "-f", join(d, "sshd_config")], "sshd/sshd.log");
    await waitFor(sshd, () => listening(port), "sshd", () => read(join(d, "sshd.log")));
    return (user: string, keyPath: string): { ok: boolean; log: string } => {
      try {
        execFileSync("ssh", ["-F", "/dev/null", "-i", keyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
          "-p", String(port), `${user}@127.0.0.1`, "true"], { stdio: ["ignore", "pipe", "pipe"] });
        return { ok: true, log: "" };
      } catch (e) {
        return { ok: false, log: `${(e as { stderr?: Buffer }).stderr ?? ""}\nsshd:\n${read(join(d, "sshd.log"))}` };
      }
    };
  }

  /** Sends one request to `url` as a script would (no redirect followed), connecting to
   * 127.0.0.1 whatever the host (Chromium resolves *.localhost itself, Node does not) and
   * trusting the test CA for it. A connection of its own each time: mod_auth_openidc 2.4.12's
   * error pages are followed by Apache's own error document past their Content-Length, which a
   * kept-alive connection would read as the next answer. */
  send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const ca = readFileSync(this.ca);
    return new Promise((resolve, reject) => {
      const sent = httpsRequest(url, {
        method: options.method ?? "GET",
        headers: options.headers,
        agent: false,
        ca,
        lookup: (_host, opts, callback) =>
          opts.all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : (callback as (e: null, a: string, f: number) => void)(null, "127.0.0.1", 4),
      }, (answer) => {
        let body = "";
        answer.setEncoding("utf8");
        answer.on("data", (chunk) => (body += chunk));
        answer.on("end", () => resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body }));
      });
      sent.on("error", reject);
      sent.end(options.body);
    });
  }

  /** Writes `privateKey` to a 0600 file in the scratch directory (removed by close()) and
   * returns its path. */
  privateKeyFile(name: string, privateKey: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, privateKey, { mode: 0o600, flag: "wx" });
    return path;
  }

  /** Takes everything back, whatever failed: every process killed by its PID (SIGTERM, SIGKILL
   * after 5 s) and waited for, then the accounts with their homes, the groups, the directory. */
  async close() {
    try {
      await Promise.all(this.children.map(stop));
    } finally {
      for (const name of this.accounts) retry(["userdel", "--remove", name], [6], false);
      for (const name of this.groups) retry(["groupdel", name], [6], false);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Stops `child` by its PID and waits for it. */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    // Never started (no such program), or gone already: nothing to wait for.
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    const hard = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Runs `command` until it succeeds or exits with one of `gone` (nothing there to remove),
 * retrying while another program (another test run) holds /etc/passwd's or /etc/group's lock;
 * throws after ten tries, or only says so when `required` is false. */
function retry(command: string[], gone: number[] = [], required = true) {
  let failure = "";
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      execFileSync(command[0], command.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
      return;
    } catch (e) {
      const { status, stderr } = e as { status?: number; stderr?: Buffer };
      if (gone.includes(status ?? -1)) return;
      failure = `${stderr ?? ""}`;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  if (required) throw new Error(`${command.join(" ")}: ${failure}`);
  console.error(`could not ${command.join(" ")}: ${failure}`);
}
