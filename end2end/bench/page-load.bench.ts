// First contentful paint and hydration of the SSH Keys page, as a first visit (empty cache)
// on loopback, in the Chromium the tests use. The home holds 50 keys made through the API.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { REPO, TOKEN, expect, test } from "../tests/app";

const LOADS = 15;
// The 50 generations below would each log a line and an audit line; only warnings matter here.
process.env.RUST_LOG = "warn";
process.env.KEYHATCH_AUDIT_LOG = "/dev/null";

test("page load: first contentful paint and hydration", async ({ app, browser, request }) => {
  for (let i = 0; i < 50; i++) {
    const reply = await request.post(`${app.base}/api/keys/generate`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
      data: {},
    });
    expect(reply.status()).toBe(200);
  }
  // One login, its session cookie given to every fresh context (the token never is a cookie).
  const login = await request.get(`${app.base}/?token=${TOKEN}`, { maxRedirects: 0 });
  const [name, value] = login.headers()["set-cookie"].split(";")[0].split("=");
  const samples: { ttfb: number; fcp: number; hydrated: number }[] = [];
  for (let i = 0; i < LOADS; i++) {
    // A new context each time: nothing cached, as on a first visit.
    const context = await browser.newContext();
    await context.addCookies([{ name, value, url: app.base }]);
    const page = await context.newPage();
    // Notes the moment the app marks <main> hydrated, without polling.
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.querySelector("main[data-hydrated=true]")) {
          (window as any).__hydratedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
    });
    await page.goto(`${app.base}/ssh-keys`);
    await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
    await expect(page.locator("li.key")).toHaveCount(50);
    samples.push(
      await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        const fcp = performance.getEntriesByName("first-contentful-paint")[0];
        return { ttfb: nav.responseStart, fcp: fcp.startTime, hydrated: (window as any).__hydratedAt };
      }),
    );
    await context.close();
  }
  // This Chromium's own floor on this machine: the same fresh-context load of a static two-line
  // page from Node, no script, no stylesheet. The page's first paint cannot beat it.
  const floor: number[] = [];
  const server = createServer((_, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end("<!DOCTYPE html><html><head><title>SSH Keys</title></head><body><h1>SSH Keys</h1></body></html>");
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  const port = (server.address() as { port: number }).port;
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0);
    floor.push(await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0].startTime));
    await context.close();
  }
  server.close();
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const figures = {
    floor_fcp_p50_ms: median(floor),
    loads: LOADS,
    ttfb_p50_ms: median(samples.map((s) => s.ttfb)),
    fcp_p50_ms: median(samples.map((s) => s.fcp)),
    hydrated_p50_ms: median(samples.map((s) => s.hydrated)),
    hydrated_max_ms: Math.max(...samples.map((s) => s.hydrated)),
  };
  console.log(JSON.stringify(figures, null, 2));
  const dir = join(REPO, "target", "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "browser.json"), JSON.stringify(figures, null, 2));
});
