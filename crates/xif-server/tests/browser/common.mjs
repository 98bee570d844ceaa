// What the Service Center's Chromium scripts share: the environment the Rust test passes, the
// checks, and a headless Chromium with a page that collects script, CSP and HTTP errors.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** An environment variable the Rust test sets (throws when it is missing). */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (this script is started by the Rust test)`);
  return v;
};
/** The folder screenshots go to (`XIF_SCREENSHOTS`), or "" for none. */
export const shots = process.env.XIF_SCREENSHOTS || "";
export const step = (s) => console.log(`-- ${s}`);
export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
/** A locator's text, its white space folded. */
export const text = async (locator) => ((await locator.textContent()) || "").replace(/\s+/g, " ").trim();

/**
 * Runs `body(page, errors)` in a fresh headless Chromium (`CHROMIUM`), then closes it. `errors`
 * collects page errors, console errors (a refused script or style: CSP) and answers of 400 or
 * more (but the browser's own favicon request).
 */
export async function withPage(body) {
  const profile = mkdtempSync(join(tmpdir(), "xif-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60_000,
  });
  context.setDefaultTimeout(30_000);
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) errors.push(`${r.status()} ${r.url()}`);
    });
    await body(page, errors);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Logs in at `url` as `user`, landing on the extensions list. */
export async function login(page, url, user, password) {
  await page.goto(`${url}/login`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/extensions$/);
}
