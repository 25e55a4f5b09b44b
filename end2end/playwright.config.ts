import { defineConfig } from "@playwright/test";

// Each test starts its own keyhatch with a fresh home (tests/app.ts): no shared server.
export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
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
