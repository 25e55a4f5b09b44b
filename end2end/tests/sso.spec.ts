// Site mode behind real single sign-on, end to end on this machine: panva's oidc-provider
// (tests/sso/provider.mjs) signs people in on its development login form; Debian's Apache with
// mod_auth_openidc runs the shipped deploy/apache-keyhatch.conf (changed only in addresses,
// secrets, certificates, the socket, the claim, a verified address where it names by email, and
// the CA it trusts; beside keyhatch, the host's
// other pages are a person's own web server at /other/) and names the person to keyhatch over its
// socket; a private sshd judges the keys. The people are throwaway accounts,
// removed afterwards whatever happens (tests/sso/chain.ts).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Browser, BrowserContext, Page, Request, Response, test as base, expect } from "@playwright/test";
import { fingerprintOf } from "./app";
import { Account, Chain, Site } from "./sso/chain";
import { freePort } from "./site";

/** The path keyhatch is served under (it starts and ends with "/"): every URL below, keyhatch's
 * public-url and logout-url, and the Apache configuration follow it. */
const PREFIX = "/keys/";

/** Two Apache sites on hosts of their own (Chromium resolves *.localhost to loopback itself),
 * so their cookies and the provider's (127.0.0.1) stay apart: one names the person by
 * `preferred_username`, the other by `email`, mapped to the account by keyhatch's
 * user-map-match. */
const BY_NAME_HOST = "portal.localhost";
const BY_EMAIL_HOST = "portal-email.localhost";

type World = {
  issuer: string;
  group: string;
  alice: Account;
  bob: Account;
  /** An account outside the allowed group. */
  outsider: Account;
  /** The preferred_username of the provider's person "nobody-here": no account has it. */
  noAccount: string;
  byName: Site;
  byEmail: Site;
  /** `http://127.0.0.1:PORT/`: the person's own web server the sites serve at /other/, at its own
   * address. */
  ownServer: string;
  /** Runs `true` over ssh to the private sshd as `user` with the key at `keyPath`. */
  ssh: (user: string, keyPath: string) => { ok: boolean; log: string };
  chain: Chain;
};

type Opened = { context: BrowserContext; page: Page; errors: string[] };

type Open = (site: Site, headers?: Record<string, string>, javaScriptEnabled?: boolean) => Promise<Opened>;

const test = base.extend<{ open: Open }, { world: World }>({
  world: [
    async ({}, use) => {
      const chain = new Chain([BY_NAME_HOST, BY_EMAIL_HOST]);
      try {
        const group = chain.group();
        const alice = chain.account("Alice Example", [group]);
        const bob = chain.account("Bob Example", [group]);
        const outsider = chain.account("Otto Outsider");
        const noAccount = `khsso${randomBytes(4).toString("hex")}`;
        // The provider's people: the login on its form, and the claims it gives. The names in
        // the profile menu must come from the accounts' GECOS, not from these `name` claims.
        const person = (account: string, name: string, email = `${account}@example.org`) => ({ preferred_username: account, name, email, email_verified: true });
        const people = {
          alice: person(alice.name, "Alice at the provider"),
          // Someone else, who gave the provider alice's address and never confirmed it.
          unverified: { ...person(`khsso${randomBytes(4).toString("hex")}`, "Mallory at the provider", `${alice.name}@example.org`), email_verified: false },
          bob: person(bob.name, "Bob at the provider"),
          "nobody-here": person(noAccount, "Nobody Here", "nobody-here@elsewhere.example"),
          outsider: person(outsider.name, "Otto at the provider"),
        };
        const [namePort, emailPort] = [await freePort(), await freePort()];
        const issuer = await chain.provider(people, [
          { origin: `https://${BY_NAME_HOST}:${namePort}`, prefix: PREFIX },
          { origin: `https://${BY_EMAIL_HOST}:${emailPort}`, prefix: PREFIX },
        ]);
        const own = await chain.ownServer();
        const byName = await chain.site("by-name", BY_NAME_HOST, namePort, PREFIX, { claim: "preferred_username" }, group, own);
        const byEmail = await chain.site("by-email", BY_EMAIL_HOST, emailPort, PREFIX,
          { claim: "email", userMapMatch: "^([^@]+)@example\\.org$", verifiedEmail: true }, group, own);
        const ssh = await chain.sshd([alice.name, bob.name]);
        const ownServer = `http://127.0.0.1:${own}/`;
        await use({ issuer, group, alice, bob, outsider, noAccount, byName, byEmail, ownServer, ssh, chain });
      } finally {
        await chain.close();
      }
    },
    { scope: "worker", timeout: 30_000 },
  ],

  // A fresh browser context (a person at a browser of their own), closed after the test; on a
  // failure the chain's logs are attached to the report.
  open: async ({ browser, world }, use, testInfo) => {
    const contexts: BrowserContext[] = [];
    await use(async (site, headers, javaScriptEnabled = true) => {
      const opened = await openContext(browser, site, headers, javaScriptEnabled);
      contexts.push(opened.context);
      return opened;
    });
    for (const context of contexts) await context.close();
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const log of ["provider.log", "by-name/error.log", "by-name/keyhatch.log", "by-email/error.log", "by-email/keyhatch.log"]) {
        const path = join(world.chain.dir, log);
        if (existsSync(path)) await testInfo.attach(log, { path });
      }
    }
  },
});

async function openContext(browser: Browser, site: Site, headers: Record<string, string> | undefined, javaScriptEnabled: boolean): Promise<Opened> {
  // The certificates are the test CA's, which Chromium does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, extraHTTPHeaders: headers, javaScriptEnabled });
  // The provider's development pages load a web font; this network is closed.
  await context.route("https://fonts.googleapis.com/**", (route) => route.abort());
  if (javaScriptEnabled) await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: site.origin });
  const page = await context.newPage();
  // Console errors of keyhatch's pages (the provider's are not under test).
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && m.location().url.startsWith(site.origin) && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  return { context, page, errors };
}

/** Expects the provider's login form (its development one). */
async function expectLoginForm(page: Page, world: World) {
  await expect(page).toHaveURL(new RegExp(`^${escape(world.issuer)}/interaction/`));
  await expect(page.getByRole("heading", { name: "Sign-in" })).toBeVisible();
  await expect(page.getByPlaceholder("Enter any login")).toBeVisible();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Opens keyhatch at `site`, expects the provider's login form, signs in as `login` there, and
 * returns keyhatch's answer where the chain of redirects ends; fails when the browser went to the
 * provider's authorization endpoint more than once (a redirect loop). */
async function signIn(page: Page, world: World, site: Site, login: string): Promise<Response> {
  const authorizations: string[] = [];
  const count = (r: Request) => {
    const url = new URL(r.url());
    if (r.isNavigationRequest() && url.origin === world.issuer && url.pathname === "/auth") authorizations.push(r.url());
  };
  page.on("request", count);
  await page.goto(site.publicUrl);
  await expectLoginForm(page, world);
  await page.getByPlaceholder("Enter any login").fill(login);
  await page.getByPlaceholder("and password").fill("the development form takes any");
  const landed = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.url().startsWith(site.publicUrl) && (r.status() < 300 || r.status() >= 400),
  );
  await page.getByRole("button", { name: "Sign-in" }).click();
  const response = await landed;
  page.off("request", count);
  expect(authorizations, "one trip to the provider's authorization endpoint").toHaveLength(1);
  return response;
}

/** Signs in as `login` and expects SSH Keys, hydrated (unless `js` is false), with `account`'s
 * GECOS name in the menu. */
async function signInToKeys(page: Page, world: World, site: Site, login: string, account: Account, js = true) {
  const response = await signIn(page, world, site, login);
  expect(response.status()).toBe(200);
  await expect(page).toHaveURL(`${site.publicUrl}ssh-keys`);
  if (js) await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(page.locator(".profile-button")).toHaveText(account.gecos);
}

type Generated = { private_key: string; info: { fingerprint: string; public_key: string } };

/** Generates a key on the open SSH Keys page as a person would, keeps the private key through
 * the clipboard, closes the dialog, and returns what the server sent. */
async function generate(page: Page): Promise<Generated> {
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  const answer = page.waitForResponse("**/api/keys/generate");
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  const response = await answer;
  expect(response.status()).toBe(200);
  const sent: Generated = await response.json();
  // Compared as booleans: a failure must not print the key.
  expect(/^-----BEGIN OPENSSH [A-Z ]+-----\n/.test(sent.private_key), "an OpenSSH private key").toBe(true);
  expect(fingerprintOf(sent.private_key), "the key's own fingerprint").toBe(sent.info.fingerprint);
  const created = page.getByRole("dialog", { name: "SSH Key Generated" });
  await created.getByRole("button", { name: "Copy Private Key" }).click();
  await expect(created.getByRole("status")).toHaveText("Copied to the clipboard.");
  expect(await page.evaluate(() => navigator.clipboard.readText()) === sent.private_key, "the clipboard holds the key").toBe(true);
  await created.getByRole("button", { name: "Close" }).click();
  return sent;
}

/** The account's authorized_keys path. */
function keysFile(account: Account): string {
  return join(account.home, ".ssh", "authorized_keys");
}

/** The fingerprints (`SHA256:…`) in the account's authorized_keys, as ssh-keygen reads them. */
function fingerprintsIn(account: Account): string[] {
  const file = keysFile(account);
  if (!existsSync(file)) return [];
  const listed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
  return listed.trim().split("\n").filter(Boolean).map((line) => line.split(" ")[1]);
}

/** The fingerprints the open SSH Keys page lists. */
async function listed(page: Page): Promise<string[]> {
  return page.getByRole("list", { name: "SSH keys" }).getByRole("listitem").locator(".fingerprint").allTextContents();
}

/** The lines `path` gained since it was `before` bytes long (its text is ASCII). */
function since(path: string, before: number): string[] {
  return readFileSync(path, "utf8").slice(before).split("\n").filter(Boolean);
}

/** Access log lines with each cookie's value left out (`cookie=NAME;NAME`, `cookie=-` for none):
 * a failure may print them. */
function cookieNames(lines: string[]): string[] {
  return lines.map((l) => l.replace(/ cookie=(.*)$/, (_, c: string) =>
    ` cookie=${c === "-" ? "-" : c.split(";").map((p) => p.trim().split("=")[0]).join(";")}`));
}

/** The file's text; "" when it does not exist. */
function contents(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** The file's size in bytes; 0 when it does not exist. */
function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

test("named by preferred_username: each person signs in at the provider, gets their own account's keys, and sshd lets the key in", async ({ world, open }) => {
  const { alice, bob, byName } = world;
  const a = await open(byName);
  let aliceKey: Generated;

  await test.step("opening keyhatch lands on the provider's login; signed in, SSH Keys names the account", async () => {
    await signInToKeys(a.page, world, byName, "alice", alice);
  });

  await test.step("a key generated there is in alice's authorized_keys, hers, and sshd lets it in as alice only", async () => {
    aliceKey = await generate(a.page);
    await expect(a.page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(1);
    const file = keysFile(alice);
    expect(statSync(file).uid).toBe(alice.uid);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(alice.home, ".ssh")).uid).toBe(alice.uid);
    expect(readFileSync(file, "utf8")).toMatch(/^restrict,pty ssh-ed25519 AAAA[A-Za-z0-9+/]+ fileglancer\n$/);
    expect(fingerprintsIn(alice)).toEqual([aliceKey.info.fingerprint]);
    expect(fingerprintOf(aliceKey.private_key)).toBe(aliceKey.info.fingerprint);
    expect(existsSync(keysFile(bob)), "nothing written for bob").toBe(false);

    const key = world.chain.privateKeyFile("alice-key", aliceKey.private_key);
    const asAlice = world.ssh(alice.name, key);
    expect(asAlice.ok, asAlice.log).toBe(true);
    expect(world.ssh(bob.name, key).ok, "alice's key does not let anyone in as bob").toBe(false);
  });

  await test.step("bob, at a browser of his own, signs in and sees only his own keys", async () => {
    const b = await open(byName);
    await signInToKeys(b.page, world, byName, "bob", bob);
    await expect(b.page.getByText("No SSH keys found")).toBeVisible();
    const bobKey = await generate(b.page);
    expect(await listed(b.page)).toEqual([bobKey.info.fingerprint]);
    expect(fingerprintsIn(bob)).toEqual([bobKey.info.fingerprint]);
    expect(statSync(keysFile(bob)).uid).toBe(bob.uid);
    const key = world.chain.privateKeyFile("bob-key", bobKey.private_key);
    const asBob = world.ssh(bob.name, key);
    expect(asBob.ok, asBob.log).toBe(true);
    expect(b.errors).toEqual([]);

    // And alice, again, sees hers alone.
    await a.page.reload();
    await expect(a.page.locator("main[data-hydrated=true]")).toBeAttached();
    expect(await listed(a.page)).toEqual([aliceKey.info.fingerprint]);
    expect(fingerprintsIn(alice)).toEqual([aliceKey.info.fingerprint]);
  });
  expect(a.errors).toEqual([]);
});

test("a person keyhatch does not serve gets its refusal page, not an error or a redirect loop", async ({ world, open }) => {
  const { byName, byEmail } = world;
  const refused = async (site: Site, login: string, heading: string, text: string) => {
    const { page } = await open(site);
    const response = await signIn(page, world, site, login);
    expect(response.status()).toBe(403);
    await expect(page).toHaveTitle("Not served · keyhatch");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(heading);
    await expect(page.locator("p").first()).toHaveText(text);
    // The way out is the site's sign-out, to sign in with another login.
    await expect(page.locator("p").last()).toHaveText("To sign in with another login, log out first.");
    await expect(page.getByRole("link", { name: "log out" })).toHaveAttribute("href", site.logoutUrl);
    // Opened again, the same answer: the session holds, nothing loops.
    expect((await page.reload())!.status()).toBe(403);
  };
  await refused(byName, "nobody-here", "No account",
    `There is no account ${world.noAccount} on this cluster. Ask your administrator.`);
  await refused(byName, "outsider", "Not allowed",
    `${world.outsider.name} is not in the group ${world.group}, whose members this keyhatch serves. Ask your administrator.`);
  // Named by email: an address outside example.org matches no account at all.
  await refused(byEmail, "nobody-here", "Unknown person",
    "Your login name does not match any account on this cluster. Ask your administrator.");
});

test("named by email through user-map-match: ACCOUNT@example.org is that account", async ({ world, open }) => {
  const { alice, bob, byEmail } = world;
  const { page, errors } = await open(byEmail);
  await signInToKeys(page, world, byEmail, "alice", alice);
  const before = fingerprintsIn(alice);
  const bobBefore = fingerprintsIn(bob);
  const audited = size(byEmail.auditLog);
  const key = await generate(page);
  expect(fingerprintsIn(alice)).toEqual([...before, key.info.fingerprint]);
  expect(fingerprintsIn(bob)).toEqual(bobBefore);
  const generateLine = since(byEmail.auditLog, audited).find((l) => l.includes('"generate"'));
  expect(generateLine).toContain(`"account":"${alice.name}"`);
  expect(errors).toEqual([]);
});

test("named by email, an address the provider has not verified is refused by Apache, and keyhatch never hears of it", async ({ world, open }) => {
  const { alice, byEmail } = world;
  const audited = size(byEmail.auditLog);
  const aliceBefore = contents(keysFile(alice));
  const { page } = await open(byEmail);
  // Another login at the provider, whose unverified email is alice's address.
  const response = await signIn(page, world, byEmail, "unverified");
  // Apache's own refusal: 401 to a signed-in person who fails a Require (its
  // AuthzSendForbiddenOnFailure is off), not keyhatch's page.
  expect(response.status(), "Apache's refusal").toBe(401);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Unauthorized");
  await expect(page.locator(".profile-button")).toHaveCount(0);
  expect(contents(keysFile(alice))).toBe(aliceBefore);
  expect(size(byEmail.auditLog), "keyhatch recorded nothing").toBe(audited);
});

test("Log out ends keyhatch's session and the provider's: opening keyhatch again asks to sign in", async ({ world, open }) => {
  const { alice, byName } = world;
  const { context, page } = await open(byName);
  await signInToKeys(page, world, byName, "alice", alice);
  // Only keyhatch's path gets mod_auth_openidc's session cookie (OIDCCookiePath).
  expect((await context.cookies(byName.origin)).map((c) => c.name)).not.toContain("mod_auth_openidc_session");
  const session = (await context.cookies(byName.publicUrl)).find((c) => c.name === "mod_auth_openidc_session");
  expect(session, "mod_auth_openidc's session cookie").toBeDefined();
  const { secure, httpOnly, sameSite, path } = session!;
  expect({ secure, httpOnly, sameSite, path }).toEqual({ secure: true, httpOnly: true, sameSite: "Lax", path: PREFIX });
  // The session as a script holding a copy of the cookie would send it: it works until Log out.
  const kept = { Cookie: `${session!.name}=${session!.value}` };
  expect((await world.chain.send(`${byName.publicUrl}api/keys/list`, { headers: kept })).status).toBe(200);

  await page.locator(".profile-button").click();
  const logOut = page.getByRole("menuitem", { name: "Log out" });
  await expect(logOut).toHaveAttribute("href", byName.logoutUrl);
  await logOut.click();
  // The provider's end_session page asks first (RP-initiated logout).
  await expect(page).toHaveURL(new RegExp(`^${escape(world.issuer)}/session/end`));
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  // Back at keyhatch's address, which sends to the provider, whose session is gone: its form.
  await expectLoginForm(page, world);

  // keyhatch's view has ended: with the browser's cookies now, or the copy kept before, the page
  // only sends to the provider.
  const now = (await context.cookies(byName.publicUrl)).map((c) => `${c.name}=${c.value}`).join("; ");
  for (const cookie of [now, kept.Cookie]) {
    const answer = await world.chain.send(`${byName.publicUrl}ssh-keys`, { headers: { Cookie: cookie, Accept: "text/html" } });
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toMatch(new RegExp(`^${escape(world.issuer)}/auth\\?`));
  }
});

test("the log-out's address sends only to keyhatch: not to another port of the host, nor to another of its pages", async ({ world, open }) => {
  const { byName } = world;
  const logout = (to: string) => `${byName.origin}${PREFIX}oidc/redirect_uri?logout=${encodeURIComponent(to)}`;
  // Without a session, mod_auth_openidc sends the browser straight to the address after
  // `logout=` (with one, to the provider, which checks it against the registered ones).
  const own = await world.chain.send(`${byName.origin}${byName.logoutUrl}`);
  expect(own.status, "keyhatch's own log-out").toBe(302);
  expect(own.headers.location).toBe(byName.publicUrl);
  const otherPort = new URL(byName.origin).port === "443" ? 8443 : 443;
  const elsewhere = [
    `https://${BY_NAME_HOST}:${otherPort}/`,
    "/other/page",
    `${byName.publicUrl}../other/page`,
    `${byName.publicUrl}%2e%2e/other/page`,
  ];
  for (const to of elsewhere) {
    const answer = await world.chain.send(logout(to));
    expect.soft(answer.headers.location, `logout=${to}: ${answer.status}`).toBeUndefined();
  }
  // A browser resolves the dots: sent there, it would land on the other page.
  const { page } = await open(byName);
  await page.goto(logout(`${byName.publicUrl}../other/page`));
  expect(page.url()).toMatch(new RegExp(`^${escape(byName.origin)}${PREFIX}oidc/redirect_uri\\?`));
});

test("a client's own X-Forwarded-User or OIDC_CLAIM_ header never reaches keyhatch through Apache", async ({ world, open }) => {
  const { alice, bob, byName } = world;
  const forged = { "X-Forwarded-User": bob.name, OIDC_CLAIM_preferred_username: bob.name };
  const passed = size(byName.accessLog);
  const audited = size(byName.auditLog);
  const bobBefore = contents(keysFile(bob));
  const aliceBefore = fingerprintsIn(alice);
  const { page, errors } = await open(byName, forged);

  await test.step("without a session the headers get only the provider's login", async () => {
    await page.goto(byName.publicUrl);
    await expectLoginForm(page, world);
    // And as a script would send them, with no cookie: mod_auth_openidc answers (a page is sent
    // to the provider, anything else gets Apache's 401), keyhatch is never asked.
    for (const [path, accept] of [["", "text/html"], ["ssh-keys", "text/html"], ["api/keys/list", "application/json"]]) {
      const answer = await world.chain.send(`${byName.publicUrl}${path}`, { headers: { ...forged, Accept: accept } });
      if (accept === "text/html") {
        expect(answer.status, path).toBe(302);
        expect(answer.headers.location, path).toMatch(new RegExp(`^${escape(world.issuer)}/auth\\?`));
      } else {
        expect(answer.status, path).toBe(401);
        expect(answer.body, path).toContain("This server could not verify that you");
      }
    }
    const post = await world.chain.send(`${byName.publicUrl}api/keys/generate`, {
      method: "POST",
      headers: { ...forged, "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    });
    expect(post.status).toBe(401);
    expect(post.body).toContain("This server could not verify that you");
    expect(contents(keysFile(bob))).toBe(bobBefore);
    expect(fingerprintsIn(alice)).toEqual(aliceBefore);
    expect(size(byName.auditLog), "keyhatch recorded nothing").toBe(audited);
  });

  await test.step("signed in as alice with the headers, the page and the new key are alice's", async () => {
    await signInToKeys(page, world, byName, "alice", alice);
    const key = await generate(page);
    expect(fingerprintsIn(alice)).toEqual([...aliceBefore, key.info.fingerprint]);
    expect(contents(keysFile(bob))).toBe(bobBefore);
    expect(await listed(page)).toEqual(fingerprintsIn(alice));
  });

  await test.step("the health check with a client's X-Forwarded-User tells nothing", async () => {
    const health = await world.chain.send(`${byName.publicUrl}healthz`, { headers: forged });
    expect(health.status).toBe(200);
    expect(health.body).toBe("ok\n");
  });

  await test.step("what Apache passed on and what keyhatch recorded name alice alone", async () => {
    // keyhatch's audit log: every line since the test began names alice, none bob.
    const audit = since(byName.auditLog, audited);
    expect(audit.length).toBeGreaterThan(0);
    for (const line of audit) {
      expect(line).toContain(`"account":"${alice.name}"`);
      expect(line).not.toContain(bob.name);
    }
    // Apache's access log, with the headers as Apache passed them on. Signed in (a user), the
    // name header is alice's and no claim or access token travels in a header; not signed in,
    // mod_auth_openidc answered itself (to the provider, or 401) and nothing was passed on; the
    // health check, the one path without a login, passed on no name.
    // (An access token, were one passed on, is not printed by a failure.)
    const lines = cookieNames(since(byName.accessLog, passed))
      .filter((l) => !l.includes(` ${PREFIX}oidc/`))
      .map((l) => l.replace(/ token=(?!- ).* cookie=/, " token=<an access token> cookie="));
    const health = lines.filter((l) => l.startsWith(`GET ${PREFIX}healthz `));
    const signedIn = lines.filter((l) => !l.includes(" user=- "));
    expect(health).toHaveLength(1);
    expect(health[0]).toMatch(/^\S+ \S+ 200 user=- xfu=- /);
    expect(signedIn.length).toBeGreaterThan(3);
    // No cookie at all: not the session's, nor the state cookie of the sign-in this test left
    // unfinished in its first step.
    for (const line of signedIn) expect(line).toMatch(new RegExp(` user=${alice.name} xfu=${alice.name} claim=- token=- cookie=-$`));
    for (const line of lines.filter((l) => !health.includes(l) && !signedIn.includes(l))) expect(line).toMatch(/^\S+ \S+ (302|401) user=- /);
    // mod_auth_openidc itself reports the forged claim header it dropped.
    expect(readFileSync(byName.errorLog, "utf8")).toContain("scrubbed suspicious request header (OIDC_CLAIM_preferred_username");
  });
  expect(errors).toEqual([]);
});

test("the health check opened in a signed-in browser passes no cookie on to keyhatch", async ({ world, open }) => {
  const { alice, byName } = world;
  const { page } = await open(byName);
  await signInToKeys(page, world, byName, "alice", alice);
  const passed = size(byName.accessLog);
  const answer = (await page.goto(`${byName.publicUrl}healthz`))!;
  expect(answer.status()).toBe(200);
  expect(await answer.text()).toBe("ok\n");
  // The session cookie's path is /keys/: the browser sends it to the health check too.
  // (Compared as a boolean: a failure must not print the session.)
  const sent = (await answer.request().allHeaders()).cookie ?? "";
  expect(/(^|; )mod_auth_openidc_session=/.test(sent), "the browser sent its session cookie").toBe(true);
  // The one path without a login, where mod_auth_openidc does not run.
  await expect.poll(() => cookieNames(since(byName.accessLog, passed)).filter((l) => l.startsWith(`GET ${PREFIX}healthz `)))
    .toEqual([expect.stringMatching(/^\S+ \S+ 200 user=- xfu=- .* cookie=-$/)]);
});

test("at /keys/ on the portal host, with the page's code and without: the whole flow, and no request to the portal outside /keys/", async ({ world, open }) => {
  const { alice, byName } = world;
  for (const js of [true, false]) {
    await test.step(js ? "with JavaScript" : "without JavaScript", async () => {
      const { page, errors } = await open(byName, undefined, js);
      const requested: string[] = [];
      page.on("request", (r) => requested.push(r.url()));
      await signInToKeys(page, world, byName, "alice", alice, js);
      const before = fingerprintsIn(alice);

      await page.getByRole("button", { name: "+ New Key" }).click();
      await page.getByRole("dialog", { name: "Generate SSH Key" }).getByRole("button", { name: "Generate Key" }).click();
      const created = page.getByRole("dialog", { name: "SSH Key Generated" });
      const fingerprint = (await created.locator("[data-field=fingerprint]").textContent())!;
      const kept = js
        ? (await created.getByRole("button", { name: "Copy Private Key" }).click(), await page.evaluate(() => navigator.clipboard.readText()))
        : await created.getByRole("textbox", { name: "Private key" }).inputValue();
      expect(fingerprintOf(kept)).toBe(fingerprint);
      await created.getByRole("button", { name: "Close" }).click();
      expect(fingerprintsIn(alice)).toEqual([...before, fingerprint]);
      await page.getByRole("button", { name: `Revoke key ${fingerprint}` }).click();
      await page.getByRole("dialog", { name: "Revoke SSH Key" }).getByRole("button", { name: "Revoke Key" }).click();
      await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(before.length);
      expect(fingerprintsIn(alice)).toEqual(before);

      // Log out: a link, with or without the page's code (the menu opens only with it).
      if (js) {
        await page.locator(".profile-button").click();
        await page.getByRole("menuitem", { name: "Log out" }).click();
      } else {
        await page.goto(`${byName.origin}${byName.logoutUrl}`);
      }
      await page.getByRole("button", { name: "Yes, sign me out" }).click();
      await expectLoginForm(page, world);

      const portal = requested.map((u) => new URL(u)).filter((u) => u.origin === byName.origin);
      expect(portal.length).toBeGreaterThan(3);
      expect(portal.filter((u) => !u.pathname.startsWith(PREFIX)).map(String), "requests outside /keys/").toEqual([]);
      if (js) expect(portal.some((u) => u.pathname.startsWith(`${PREFIX}pkg/`)), "the bundle came from under /keys/").toBe(true);
      expect(errors.filter((e) => js || !/status of 4\d\d/.test(e))).toEqual([]);
    });
  }
});

test("a path Apache normalises (ssh%2Dkeys) still gets the page's code: the browser takes the page from the document, not the address bar", async ({ world, open }) => {
  const { alice, byName } = world;
  const { page, errors } = await open(byName);
  await signInToKeys(page, world, byName, "alice", alice);
  await page.goto(`${byName.publicUrl}ssh%2Dkeys`);
  await expect(page.getByRole("heading", { name: "SSH Keys", level: 1 })).toBeVisible();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  // The page's code opens the dialog in place: no navigation to ?dialog=generate.
  await page.getByRole("button", { name: "+ New Key" }).click();
  await expect(page.getByRole("dialog", { name: "Generate SSH Key" })).toBeVisible();
  expect(new URL(page.url()).search).toBe("");
  expect(errors).toEqual([]);
});

test("a sign-in that ends while the page is open: the page says to reload, and a reload signs in again at the provider without its form", async ({ world, open }) => {
  const { alice, byName } = world;
  const { context, page } = await open(byName);
  await signInToKeys(page, world, byName, "alice", alice);
  const before = fingerprintsIn(alice);
  // The dialogs' code is in before the session ends (a person who had opened one).
  await page.getByRole("button", { name: "+ New Key" }).click();
  const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // Apache's session ends (idle past OIDCSessionInactivityTimeout, or the cookie gone): Apache,
  // not keyhatch, answers the page's next call.
  await context.clearCookies({ domain: BY_NAME_HOST });
  await page.getByRole("button", { name: "+ New Key" }).click();
  await dialog.getByRole("button", { name: "Generate Key" }).click();
  await expect(dialog.getByRole("alert")).toHaveText(
    "The key could not be generated. keyhatch's answer did not arrive: the connection dropped, or your sign-in has ended. Reload the page, then try again.",
  );
  expect(fingerprintsIn(alice)).toEqual(before);

  // The provider still knows the person: a reload goes there and straight back, no form.
  await page.reload();
  await expect(page).toHaveURL(`${byName.publicUrl}ssh-keys`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(page.locator(".profile-button")).toHaveText(alice.gecos);
});

test("a page elsewhere on the portal host cannot put a service worker over /keys/: Apache takes Service-Worker-Allowed out of every answer", async ({ world, playwright, launchOptions }) => {
  const { alice, byName, ownServer } = world;
  // A browser of its own that trusts the chain's certificate (not one that ignores its errors,
  // where no page can register a service worker at all).
  const browser = await playwright.chromium.launch({
    ...launchOptions,
    args: [...(launchOptions.args ?? []), `--ignore-certificate-errors-spki-list=${world.chain.spki()}`],
  });
  try {
    const context = await browser.newContext();
    await context.route("https://fonts.googleapis.com/**", (route) => route.abort());
    const page = await context.newPage();
    const attempt = () => page.evaluate(() => (window as unknown as { attempt: Promise<string> }).attempt);
    const controlled = () => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null);
    const activated = () =>
      page.evaluate(async () => (await navigator.serviceWorker.getRegistration("/keys/"))?.active?.state ?? null);

    await test.step("at the person's server's own address, where its header arrives, the worker takes /keys/ there", async () => {
      // The contrast: the same page, worker and header, with nothing between them and Chromium.
      const direct = await fetch(`${ownServer}sw.js`);
      expect(direct.headers.get("service-worker-allowed")).toBe("/");
      await page.goto(`${ownServer}index.html`);
      expect(await attempt()).toBe(`registered ${ownServer}keys/`);
      // Active before the page under its scope is opened, so that page's load goes through it.
      // (Opened while the worker was still installing, the page was left to the worker's claim,
      // and once was not controlled within 10 s.)
      await expect.poll(activated).toBe("activated");
      await page.goto(`${ownServer}keys/anything`);
      await expect.poll(controlled).toBe(`${ownServer}sw.js`);
    });

    await test.step("signed in as alice, the person's page at /other/ on the portal host is refused the scope /keys/", async () => {
      await signInToKeys(page, world, byName, "alice", alice);
      const proxied = await world.chain.send(`${byName.other}sw.js`);
      expect(proxied.status).toBe(200);
      expect.soft(proxied.headers["service-worker-allowed"], "the header through Apache").toBeUndefined();
      // The Location's own header rules ran too: the virtual host's unset is not lost in the merge.
      expect(proxied.headers["x-content-type-options"]).toBe("nosniff");
      await page.goto(`${byName.other}index.html`);
      expect.soft(await attempt()).toMatch(/^refused SecurityError: .*scope \('\/keys\/'\) is not under the max scope allowed \('\/other\/'\)/);
    });

    await test.step("keyhatch's page, opened afterwards, is controlled by no service worker", async () => {
      await page.goto(`${byName.publicUrl}ssh-keys`);
      await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
      // A worker that claims its clients does so once it is active: give it the time.
      await page.waitForTimeout(500);
      expect(await controlled()).toBeNull();
      const scopes = await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map((r) => r.scope));
      expect(scopes).toEqual([]);
    });
  } finally {
    await browser.close();
  }
});
