import { defineConfig } from "@playwright/test";

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
      testMatch: /(ssh-keys|beyond|no-js)\.spec\.ts/,
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
      ],
    },
  },
});
