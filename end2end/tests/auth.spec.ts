import { expect, test } from "./app";

test.describe("without the token", () => {
  test.use({ allowConsoleErrors: ["401"] });

  test("the page answers 401 and says how to log in", async ({ page, app, consoleErrors }) => {
    const response = await page.goto(`${app.base}/ssh-keys`);
    expect(response!.status()).toBe(401);
    await expect(page.getByRole("heading", { name: "Log in to keyhatch" })).toBeVisible();
    await expect(page.getByText("?token=")).toBeVisible();
    const api = await page.request.get(`${app.base}/api/keys/list`);
    expect(api.status()).toBe(401);
  });

  test("a wrong token in the link does not log in", async ({ page, app, consoleErrors }) => {
    const response = await page.goto(`${app.base}/?token=not-the-token`);
    expect(response!.status()).toBe(401);
    await expect(page.getByText("not valid")).toBeVisible();
    expect(await page.context().cookies()).toEqual([]);
  });
});
