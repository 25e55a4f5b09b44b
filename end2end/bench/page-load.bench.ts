// First contentful paint and hydration of the SSH Keys page, as a first visit (empty cache)
// on loopback, in the Chromium the tests use. The home holds 50 keys made through the API.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import type { Browser } from "@playwright/test";
import { REPO, TOKEN, expect, loginQuery, test } from "../tests/app";

const LOADS = 21;
// The 50 generations below would each log a line and an audit line; only warnings matter here.
process.env.RUST_LOG = "warn";
process.env.KEYHATCH_AUDIT_LOG = "/dev/null";

/** Runs in the page before its own code: `window.__settled` resolves once the first contentful
 * paint is recorded and, on a page with a <main>, once the app has marked it hydrated (noting
 * the moment in `__hydratedAt`). Observers, not polling. */
function settled() {
  const w = window as any;
  w.__settled = new Promise<void>((done) => {
    let painted = false;
    let hydrated = false;
    const check = () => painted && hydrated && done();
    new PerformanceObserver((list, observer) => {
      if (list.getEntriesByName("first-contentful-paint").length > 0) {
        painted = true;
        observer.disconnect();
        check();
      }
    }).observe({ type: "paint", buffered: true });
    new MutationObserver((_, observer) => {
      if (document.querySelector("main[data-hydrated=true]")) {
        w.__hydratedAt = performance.now();
        hydrated = true;
        observer.disconnect();
        check();
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
    // The floor's page has no app to wait for.
    document.addEventListener("DOMContentLoaded", () => {
      if (!document.querySelector("main")) {
        hydrated = true;
        check();
      }
    });
  });
}

test("page load: first contentful paint and hydration", async ({ app, browser, request }) => {
  for (let i = 0; i < 50; i++) {
    const reply = await request.post(`${app.base}/api/keys/generate`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
      data: {},
    });
    expect(reply.status()).toBe(200);
  }
  // One login, its session cookie given to every fresh context (the token never is a cookie).
  const login = await request.get(`${app.base}/${loginQuery(app)}`, { maxRedirects: 0 });
  const [name, value] = login.headers()["set-cookie"].split(";")[0].split("=");
  // This Chromium's own floor on this machine: the same fresh-context load of a static two-line
  // page from Node, no script, no stylesheet. The page's first paint cannot beat it. Its loads
  // alternate with the page's, so that a noisy moment of the machine falls on both alike.
  const server = createServer((_, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end("<!DOCTYPE html><html><head><title>SSH Keys</title></head><body><h1>SSH Keys</h1></body></html>");
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  const floorUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const samples: { ttfb: number; fcp: number; hydrated: number }[] = [];
  const floor: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    samples.push(await loadPage(browser, `${app.base}/ssh-keys`, { name, value, url: app.base }));
    floor.push((await loadPage(browser, floorUrl)).fcp);
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

/** One load of `url` in a new browser context (nothing cached, as on a first visit), with
 * `cookie` if given; its figures once it has painted and, for the app, hydrated. */
async function loadPage(
  browser: Browser,
  url: string,
  cookie?: { name: string; value: string; url: string },
): Promise<{ ttfb: number; fcp: number; hydrated: number }> {
  const context = await browser.newContext();
  if (cookie) await context.addCookies([cookie]);
  const page = await context.newPage();
  await page.addInitScript(settled);
  // Nothing of Playwright's runs in the page until the figures are read: its selector engine
  // is 330 KB of script, which would compete with the page's own first frame and hydration.
  await page.goto(url, { waitUntil: "commit" });
  const figures = await page.evaluate(async () => {
    await (window as any).__settled;
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    return { ttfb: nav.responseStart, fcp: fcp.startTime, hydrated: (window as any).__hydratedAt ?? 0 };
  });
  if (cookie) {
    await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
    await expect(page.locator("li.key")).toHaveCount(50);
  }
  await context.close();
  return figures;
}
