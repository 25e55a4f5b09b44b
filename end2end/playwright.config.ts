import { defineConfig } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// Every test opens a fresh context, which this Chromium (the full browser, headless) opens as a
// new window. Each new window also loads the omnibox's popup (chrome://omnibox-popup.top-chrome,
// a page of its own in a renderer of its own) that a headless window never shows: on two cores
// it took the CPU from the page under test. Turned off, the suite ran in 106-108 s instead of
// 139-149 s, and the page-load bench's first paint came 232 -> 184 ms (README, Performance).
// Chromium keeps only the last --disable-features switch, so the list repeats the features
// Playwright itself turns off (chromiumSwitches.ts), checked against the version installed.
const PLAYWRIGHT = "1.65.1";
const PLAYWRIGHT_DISABLES = [
  "AvoidUnnecessaryBeforeUnloadCheckSync",
  "DestroyProfileOnBrowserClose",
  "HttpsUpgrades",
  "HttpsFirstBalancedModeAutoEnable",
  "LensOverlay",
  "MediaRouter",
  "PaintHolding",
  "ThirdPartyStoragePartitioning",
  "AvoidCorsURLLoaderRestartOnRedirect",
  "TcpPortRandomizationWin",
  "OptimizationHints",
  "NetworkTimeServiceQuerying",
  "AimEnabled",
  "PreconnectToSearch",
  "msForceBrowserSignIn",
  "msEdgeUpdateLaunchServicesPreferredVersion",
];
const installed = JSON.parse(readFileSync(join(__dirname, "node_modules/playwright-core/package.json"), "utf8")).version;
if (installed !== PLAYWRIGHT) {
  throw new Error(`Playwright ${installed} is installed; the Chromium switches in playwright.config.ts repeat ${PLAYWRIGHT}'s: compare its chromiumSwitches.ts`);
}
const OMNIBOX_POPUP = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup"];

// Each test starts its own keyhatch with a fresh home (tests/app.ts): no shared server.
export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One retry, reported as "flaky" in the list; a second failure still fails the run. The bug it
  // hid most (issue 13's notes) is fixed: a no-JavaScript form's outcome was written into the
  // page while it rendered, and a refused write lost the new key's only showing (1 run in 60 of
  // the no-js "keeps every byte" test; 0 in 50 since). Still unexplained: the js project's
  // failure to hydrate that test once in nine runs (tachys `failed_to_cast_element`), not seen
  // in 40 runs since.
  retries: 1,
  reporter: [["list"]],
  // The flows run twice: with the page's code, and as server-rendered forms with JavaScript off.
  projects: [
    { name: "js", testIgnore: /no-js\.spec\.ts/ },
    {
      name: "no-js",
      use: { javaScriptEnabled: false },
      testMatch: /(ssh-keys|beyond|no-js|path|restrict)\.spec\.ts/,
    },
  ],
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      // Without the networking flags Chromium floods this closed network with connections.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--disable-features=${[...PLAYWRIGHT_DISABLES, ...OMNIBOX_POPUP].join(",")}`,
      ],
    },
  },
});
