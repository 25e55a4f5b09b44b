// What crosses the wire, as Chromium counts it (Resource Timing's transferSize: headers and the
// encoded body, 0 for what came from its cache): the SSH Keys page on a first visit (a fresh
// context, so an empty cache) and on a second, and the dialogs' module, fetched when a dialog is
// about to open. This is the size budget `make test` enforces; the figures also go to
// target/bench/transfer.json for `make bench`'s table.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Page } from "@playwright/test";
import { REPO, expect, openSshKeys, test } from "./app";

// Everything the first visit receives, in kB (1,000 bytes): 160 kB measured (brotli), so
// growth of more than 10 kB fails here (issue 13's target is 180 kB). And the dialogs' module,
// which the first visit leaves out, has a line of its own, so that code moved into it cannot
// grow unseen either (README, Performance): 73 kB measured, then 87.7 kB once the Restrict
// dialog and the "Allow logins only from" fields joined it, then 105.7 kB once the Replace
// dialog and Platform's update of existing credentials did.
const BUDGET_KB = Number(process.env.KEYHATCH_SIZE_BUDGET_KB ?? 170);
const DIALOGS_BUDGET_KB = Number(process.env.KEYHATCH_DIALOGS_BUDGET_KB ?? 112);

type Received = { url: string; transferSize: number; encodedBodySize: number; decodedBodySize: number };

/** Every response of the page now loaded: the document and each resource. */
async function received(page: Page): Promise<Received[]> {
  return page.evaluate(() =>
    [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")].map((e) => {
      const t = e as PerformanceResourceTiming;
      return {
        url: new URL(t.name).pathname,
        transferSize: t.transferSize,
        encodedBodySize: t.encodedBodySize,
        decodedBodySize: t.decodedBodySize,
      };
    }),
  );
}

const total = (rs: Received[]) => rs.reduce((sum, r) => sum + r.transferSize, 0);

test("a first visit receives the bundle compressed, within the budget; a second receives none of it", async ({
  app,
  page,
  js,
}) => {
  test.skip(!js, "the bundle is the page's code");
  const encodings = new Map<string, string>();
  const caching = new Map<string, string>();
  page.on("response", async (r) => {
    const path = new URL(r.url()).pathname;
    const headers = await r.allHeaders();
    encodings.set(path, headers["content-encoding"] ?? "identity");
    caching.set(path, headers["cache-control"] ?? "");
  });
  await openSshKeys(page, app);
  const first = await received(page);
  const wasm = first.find((r) => /^\/pkg\/[0-9a-f]{16}\/keyhatch\.wasm$/.test(r.url));
  const js_ = first.find((r) => /^\/pkg\/[0-9a-f]{16}\/keyhatch\.js$/.test(r.url));
  expect(wasm, `the wasm in a hashed directory among ${first.map((r) => r.url)}`).toBeTruthy();
  expect(js_, "the JS in a hashed directory").toBeTruthy();
  const dialogsModule = (rs: Received[]) => rs.find((r) => r.url.endsWith("/split_dialogs.wasm"));
  expect(dialogsModule(first), "the dialogs' code on a first visit").toBeUndefined();
  // Pointing at + New Key fetches the dialogs' code, from the same hashed directory.
  await page.getByRole("button", { name: "+ New Key" }).hover();
  await expect.poll(async () => dialogsModule(await received(page))?.transferSize ?? 0).toBeGreaterThan(0);
  const dialogs = dialogsModule(await received(page))!;
  expect(dialogs.url.startsWith(wasm!.url.replace(/keyhatch\.wasm$/, ""))).toBe(true);
  await page.getByRole("button", { name: "+ New Key" }).click();
  await expect(page.getByRole("dialog", { name: "Generate SSH Key" })).toBeVisible();
  for (const file of [wasm!, js_!, dialogs]) {
    expect(encodings.get(file.url), `${file.url} compressed with brotli`).toBe("br");
    expect(caching.get(file.url)).toBe("public, max-age=31536000, immutable");
    expect(file.encodedBodySize).toBeLessThan(file.decodedBodySize / 2);
  }
  // The stylesheet is inlined: no request waits for it before the first paint.
  expect(first.filter((r) => r.url.endsWith(".css"))).toEqual([]);

  // A second visit, as a person coming back: only the page itself crosses the wire.
  await page.goto(`${app.base}/ssh-keys`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.getByRole("button", { name: "+ New Key" }).hover();
  await expect.poll(async () => dialogsModule(await received(page)) !== undefined).toBe(true);
  const second = await received(page);
  const bundleAgain = second.filter((r) => r.url.startsWith("/pkg/") && r.transferSize > 0);
  expect(bundleAgain, "bundle files downloaded again").toEqual([]);

  const figures = {
    first_visit_bytes: total(first),
    second_visit_bytes: total(second),
    second_visit_bundle_bytes: total(second.filter((r) => r.url.startsWith("/pkg/"))),
    wasm_transfer_bytes: wasm!.transferSize,
    wasm_decoded_bytes: wasm!.decodedBodySize,
    js_transfer_bytes: js_!.transferSize,
    dialogs_transfer_bytes: dialogs.transferSize,
    dialogs_decoded_bytes: dialogs.decodedBodySize,
    document_transfer_bytes: first.find((r) => r.url === "/ssh-keys")?.transferSize ?? 0,
    budget_kb: BUDGET_KB,
    dialogs_budget_kb: DIALOGS_BUDGET_KB,
  };
  console.log(JSON.stringify(figures));
  const dir = join(REPO, "target", "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "transfer.json"), JSON.stringify(figures, null, 2));
  expect(total(first), `first visit ${total(first)} B against a budget of ${BUDGET_KB} kB`).toBeLessThanOrEqual(
    BUDGET_KB * 1000,
  );
  expect(
    dialogs.transferSize,
    `the dialogs' module ${dialogs.transferSize} B against a budget of ${DIALOGS_BUDGET_KB} kB`,
  ).toBeLessThanOrEqual(DIALOGS_BUDGET_KB * 1000);
});
