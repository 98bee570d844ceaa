// The API changes between versions in the Service Center, in real headless Chromium, against a
// real server started by the Rust test `console::version_diff_in_chromium`
// (crates/xif-server/tests/all/console.rs), which uploads ServerTest versions 1, 2 (Hello gains
// an optional input, Spin is gone) and 3 (only a resource changed) and passes:
//   XIF_URL, XIF_ADMIN_PASSWORD, CHROMIUM,
//   XIF_LOUD (line:col of Loud in versions 2 and 3), XIF_SPIN (line:col of Spin in version 1),
//   XIF_SCREENSHOTS (optional: a folder to write docs/console-version-diff.png and
//   docs/console-compare.png to).
// Every check throws on failure; the exit code is what the Rust test asserts.
import { join } from "node:path";

import { check, env, login, shots, step, text, withPage } from "./common.mjs";

const URL_ = env("XIF_URL");
const LOUD = env("XIF_LOUD");
const SPIN = env("XIF_SPIN");

await withPage(async (page, errors) => {
  step("log in as the administrator");
  await login(page, URL_, "admin", env("XIF_ADMIN_PASSWORD"));

  step("the version list says each version's API changes against the previous one");
  await page.goto(`${URL_}/extensions/ServerTest`);
  const cell = (n) => page.locator(`#version-${n} td.api-changes`);
  check((await text(cell(3))) === "no API change against version 2", `version 3: ${await text(cell(3))}`);
  check((await text(cell(2))) === "2 changes, 1 breaking against version 1", `version 2: ${await text(cell(2))}`);
  check((await text(cell(1))) === "first version", `version 1: ${await text(cell(1))}`);
  check((await page.locator("#version-2 .diff-summary.breaking").count()) === 1, "version 2's summary is marked breaking");
  check((await page.locator("#changes-3").count()) === 0, "no details for a version without API changes");

  step("its details list the located lines, the breaking one marked");
  const details = page.locator("#changes-2 details");
  const lines = details.locator("ul.changes li");
  check(!(await lines.first().isVisible()), "the lines are folded at first");
  await details.locator("summary", { hasText: "API changes of version 2 against version 1 (2 changes, 1 breaking)" }).click();
  await lines.first().waitFor({ state: "visible" });
  const got = await Promise.all((await lines.all()).map(text));
  const want = [
    `compatible extension.toml of version 2:${LOUD} action Hello has a new optional input Loud callers: nothing: calls without it take its default`,
    `breaking extension.toml of version 1:${SPIN} action Spin is removed callers: calls of Spin are answered 404 not_found`,
  ];
  check(JSON.stringify(got) === JSON.stringify(want), `the lines: ${JSON.stringify(got)}`);
  const marked = await lines.evaluateAll((els) => els.map((e) => e.classList.contains("breaking")));
  check(JSON.stringify(marked) === "[false,true]", `only the breaking line is marked: ${marked}`);
  check((await text(lines.nth(1).locator(".badge.bad"))) === "breaking", "with a red badge");
  if (shots) await page.locator("#versions").screenshot({ path: join(shots, "console-version-diff.png") });

  step("the compare form leads to the changes between any two versions");
  const form = page.locator("form.compare");
  check((await page.getByLabel("From", { exact: true }).inputValue()) === "2", "from: the second newest by default");
  check((await page.getByLabel("To", { exact: true }).inputValue()) === "3", "to: the newest by default");
  await page.getByLabel("From", { exact: true }).selectOption("1");
  await page.getByLabel("To", { exact: true }).selectOption("3");
  await form.getByRole("button", { name: "Compare" }).click();
  await page.waitForURL(/\/extensions\/ServerTest\/diff\?from=1&to=3$/);
  check((await text(page.locator("h1"))) === "ServerTest: API changes", `the title: ${await text(page.locator("h1"))}`);
  check((await text(page.locator(".lead"))) === "From version 1 to version 3", "what is compared");
  check((await text(page.locator("#diff-summary"))) === "2 changes, 1 breaking", "the summary");
  const compared = await Promise.all((await page.locator("#diff ul.changes li").all()).map(text));
  const placed = [
    `compatible extension.toml of version 3:${LOUD} action Hello has a new optional input Loud callers: nothing: calls without it take its default`,
    `breaking extension.toml of version 1:${SPIN} action Spin is removed callers: calls of Spin are answered 404 not_found`,
  ];
  check(JSON.stringify(compared) === JSON.stringify(placed), `the compared lines: ${JSON.stringify(compared)}`);
  check((await page.locator("#diff ul.changes li.breaking").count()) === 1, "one breaking line");
  check((await page.getByLabel("From", { exact: true }).inputValue()) === "1", "the form keeps from");
  check((await page.getByLabel("To", { exact: true }).inputValue()) === "3", "the form keeps to");
  if (shots) await page.screenshot({ path: join(shots, "console-compare.png"), fullPage: true });

  check(errors.length === 0, `no script or CSP errors: ${errors}`);

  step("versions without API changes, and a version that is no number");
  await page.getByLabel("From", { exact: true }).selectOption("2");
  await page.getByRole("button", { name: "Compare" }).click();
  await page.waitForURL(/from=2&to=3$/);
  check((await text(page.locator("#diff-summary"))) === "no API change", "2 → 3: no API change");
  check((await text(page.locator("#diff"))).includes("Callers see the same actions"), "and says so");
  const bad = await page.goto(`${URL_}/extensions/ServerTest/diff?from=abc&to=2`);
  check(bad.status() === 400, `a bad from is a 400 (${bad.status()})`);
  check((await text(page.locator("body"))).includes("“abc” is not a version number"), "naming it");
  const missing = await page.goto(`${URL_}/extensions/ServerTest/diff?from=9&to=2`);
  check(missing.status() === 404, `an unknown version is a 404 (${missing.status()})`);
  check((await text(page.locator("body"))).includes("extension ServerTest has no version 9"), "naming it");

  console.log("all version diff checks passed");
});
