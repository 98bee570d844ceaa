// A gradual rollout in the Service Center, in real headless Chromium, against a real server
// started by the Rust test `console::rollout_in_chromium` (crates/xif-server/tests/all/console.rs),
// which publishes ServerTest version 1, rolls out version 2 (whose Which fails every call) at
// 20% with the guard off, calls Which 100 times and passes:
//   XIF_URL, XIF_ADMIN_PASSWORD, CHROMIUM,
//   XIF_OLD_CALLS, XIF_NEW_CALLS (what the calls' answers said: version 1 answered, version 2 failed),
//   XIF_SCREENSHOTS (optional: a folder to write docs/console-rollout.png to).
// Every check throws on failure; the exit code is what the Rust test asserts.
import { join } from "node:path";

import { check, env, login, shots, step, text, withPage } from "./common.mjs";

const URL_ = env("XIF_URL");

await withPage(async (page, errors) => {
  // The Abort button's confirmation.
  page.on("dialog", (d) => d.accept());

  step("log in as the administrator");
  await login(page, URL_, "admin", env("XIF_ADMIN_PASSWORD"));

  step("the extension page shows both versions side by side, with the counts of the calls made");
  await page.goto(`${URL_}/extensions/ServerTest`);
  check((await text(page.locator(".badges"))).includes("Rolling out: version 2 at 20%"), "the badge");
  const row = (n) => page.locator(`#rollout-${n}`);
  const cells = async (n) => [
    await text(row(n).locator("td.calls")),
    await text(row(n).locator("td.failed")),
    await text(row(n).locator("td.rate")),
  ];
  const oldCalls = env("XIF_OLD_CALLS");
  const newCalls = env("XIF_NEW_CALLS");
  check(JSON.stringify(await cells(1)) === JSON.stringify([oldCalls, "0", "0.0%"]), `version 1: ${await cells(1)}`);
  check(JSON.stringify(await cells(2)) === JSON.stringify([newCalls, newCalls, "100.0%"]), `version 2: ${await cells(2)}`);
  check((await text(row(1))).includes("active") && (await text(row(1))).includes("80%"), `version 1's role: ${await text(row(1))}`);
  check((await text(row(2))).includes("rolling out") && (await text(row(2))).includes("20%"), `version 2's role: ${await text(row(2))}`);
  check((await text(page.locator("#version-2"))).includes("rolling out 20%"), "the version list marks it");
  check((await page.locator("#version-1 form[action$='/rollback']").count()) === 0, "no rollback while it runs");
  if (shots) await page.locator("#rollout").screenshot({ path: join(shots, "console-rollout.png") });

  step("moving it on");
  await page.getByLabel("Share", { exact: true }).fill("50");
  await page.getByRole("button", { name: "Move" }).click();
  await page.waitForURL(/\/extensions\/ServerTest#rollout$/);
  check((await text(page.locator(".notice"))).includes("version 2 takes 50% of calls (was 20%)"), `the notice: ${await text(page.locator(".notice"))}`);
  check((await text(page.locator(".badges"))).includes("at 50%"), "the badge follows");

  step("aborting it");
  await page.getByRole("button", { name: "Abort" }).click();
  await page.waitForURL(/#rollout$/);
  check((await text(page.locator(".notice"))).includes("aborted by admin"), `the notice: ${await text(page.locator(".notice"))}`);
  check((await page.locator("#rollout").count()) === 0, "no rollout panel any more");
  check(!(await text(page.locator(".badges"))).includes("Rolling"), "no badge");
  check((await text(page.locator("#versions"))).includes("aborted rollout by admin"), "the publish log of version 2 says so");

  step("rolling it out again from the version list, then making it active");
  await page.getByLabel("Share of calls for version 2").fill("30");
  await page.getByRole("button", { name: "Roll out version 2" }).click();
  await page.waitForURL(/\/extensions\/ServerTest$/);
  check((await text(page.locator(".badges"))).includes("Rolling out: version 2 at 30%"), `the badge: ${await text(page.locator(".badges"))}`);
  await page.getByRole("button", { name: "Make version 2 active" }).click();
  await page.waitForURL(/#rollout$/);
  check((await text(page.locator(".badges"))).includes("Active: version 2"), `the badge: ${await text(page.locator(".badges"))}`);
  check((await page.locator("#rollout").count()) === 0, "no rollout panel");

  check(errors.length === 0, `no script or CSP errors: ${errors}`);
  console.log("all rollout checks passed");
});
