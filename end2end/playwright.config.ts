import { defineConfig } from "@playwright/test";

// Each test starts its own keyhatch with a fresh home (tests/app.ts): no shared server.
export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One retry, reported as "flaky" in the list. It hides a bug still open (issue 13's note): a
  // server render of the page panicked mid-page once in four full runs, in the no-js project
  // (two keys appended for one Generate). The js project's failure to hydrate, once in nine runs
  // (tachys `failed_to_cast_element`), is probably the same: a page cut short cannot hydrate.
  // A second failure still fails the run.
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
