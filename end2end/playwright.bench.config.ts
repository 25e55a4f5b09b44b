import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// `make bench` only: page-load timings in Chromium, written to target/bench/browser.json.
export default defineConfig({
  ...base,
  testDir: "./bench",
  testMatch: "*.bench.ts",
  timeout: 120_000,
});
