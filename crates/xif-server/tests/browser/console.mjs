// The Service Center in real headless Chromium, against a real server started by the Rust test
// `console::console_in_chromium` (crates/xif-server/tests/all/console.rs), which passes:
//   XIF_URL, XIF_ADMIN_PASSWORD, XIF_VIEWER, XIF_VIEWER_PASSWORD,
//   XIF_PKG_V1, XIF_PKG_V2 (ServerTest packages), XIF_PKG_GREETINGS, CHROMIUM,
//   XIF_SCREENSHOTS (optional: a folder to write the README's screenshots to).
// Every check throws on failure; the exit code is what the Rust test asserts.
import { readFileSync } from "node:fs";
import { check, env, shots, step, withPage } from "./common.mjs";

const URL_ = env("XIF_URL");

await withPage(async (page) => {
  const context = page.context();
  page.on("pageerror", (e) => console.log(`page error: ${e}`));

  async function login(user, password) {
    await page.goto(`${URL_}/`);
    check(page.url().includes("/login"), `a page without a session goes to the login page (got ${page.url()})`);
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(/\/extensions$/);
    await page.getByRole("heading", { name: "Extensions", level: 1 }).waitFor();
  }

  /** Drops a file on the drop zone by a real drop event whose DataTransfer carries it. */
  async function dropFile(path, name) {
    const b64 = readFileSync(path).toString("base64");
    await page.evaluate(
      ({ b64, name }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: "application/octet-stream" }));
        const zone = document.getElementById("drop");
        zone.dispatchEvent(new DragEvent("dragenter", { bubbles: true, cancelable: true, dataTransfer: dt }));
        zone.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: dt }));
        zone.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: dt }));
      },
      { b64, name },
    );
  }

  async function activeBadge() {
    return (await page.locator(".badges .badge").first().textContent()).trim();
  }

  step("log in as the administrator");
  await login("admin", env("XIF_ADMIN_PASSWORD"));

  step("publish ServerTest v1 by dropping the file");
  await page.getByRole("link", { name: "Upload & Publish" }).first().click();
  await page.getByRole("heading", { name: "Upload & Publish an Extension" }).waitFor();
  await dropFile(env("XIF_PKG_V1"), "ServerTest-1.xif");
  check((await page.locator("#chosen").textContent()).includes("ServerTest-1.xif"), "the dropped file is shown");
  await page.getByRole("button", { name: "1-Click Publish" }).click();
  await page.waitForURL(/\/extensions\/ServerTest$/);
  check((await activeBadge()) === "Active: version 1", `version 1 is active (badge: ${await activeBadge()})`);

  step("publish ServerTest v2 through the file chooser");
  await page.goto(`${URL_}/upload`);
  let cdp = null;
  if (shots) {
    // Slow the upload down so the screenshot catches it in progress.
    cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 24 * 1024,
    });
  }
  await page.locator("#file").setInputFiles(env("XIF_PKG_V2"));
  check((await page.locator("#chosen").textContent()).includes(".xif"), "the chosen file is shown");
  await page.getByRole("button", { name: "1-Click Publish" }).click();
  if (shots) {
    await page.waitForFunction(() => {
      const v = document.getElementById("upload-bar").value;
      return v >= 35 && v < 90;
    });
    await page.screenshot({ path: join(shots, "console-upload.png") });
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
  }
  // The stages stream in: the activate stage ends "done" before the page moves on.
  await page.locator('#stages li[data-step="activate"].st-finished').waitFor();
  await page.waitForURL(/\/extensions\/ServerTest$/);
  check((await activeBadge()) === "Active: version 2", "version 2 is active");

  step("see it listed, and find it by name");
  await page.locator("nav.main a", { hasText: "Extensions" }).click();
  const row = page.locator("table.list tbody tr", { hasText: "ServerTest" });
  check((await row.textContent()).includes("v2"), "the list shows ServerTest at v2");
  check((await row.textContent()).includes("by admin"), "the list says who published it");
  await page.getByLabel("Search extensions by name").fill("servert");
  await page.getByRole("button", { name: "Search" }).click();
  check((await page.locator("table.list tbody tr").count()) === 1, "the search finds one extension");
  await page.getByLabel("Search extensions by name").fill("nothing-like-it");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("No extension's name contains").waitFor();

  step("roll back to version 1");
  await page.goto(`${URL_}/extensions/ServerTest`);
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Roll back to version 1" }).click();
  await page.getByText("Rolled back ServerTest to version 1.").waitFor();
  check((await activeBadge()) === "Active: version 1", "version 1 is active again");
  await page.locator("summary", { hasText: "Publish log of version 1 (2)" }).waitFor();

  step("try an action: an answer, then an error");
  await page.getByLabel("Action", { exact: true }).selectOption("Hello");
  await page.getByLabel("Input (JSON object)").fill('{"Who": "Ada"}');
  await page.getByRole("button", { name: "Call" }).click();
  const result = page.locator("#try-result");
  const out = await result.textContent();
  check(out.includes("Output") && out.includes("Ada"), `the output is shown: ${out}`);
  await page.getByLabel("Action", { exact: true }).selectOption("Fail");
  await page.getByLabel("Input (JSON object)").fill('{"Message": "no coffee left"}');
  await page.getByRole("button", { name: "Call" }).click();
  const err = await page.locator("#try-result").textContent();
  check(err.includes("Error") && err.includes("no coffee left") && err.includes("422"), `the error is shown: ${err}`);

  step("the calls of the last hour are charted, with the failures by kind");
  const deadline = Date.now() + 10_000;
  let total = 0;
  while (true) {
    await page.goto(`${URL_}/extensions/ServerTest`);
    total = Number(await page.locator("#calls-total").textContent());
    // Hello and Fail were called above: the node adds its counts to the database every 200 ms here.
    if (total >= 2 || Date.now() > deadline) break;
    await page.waitForTimeout(200);
  }
  // Exactly what was called: Hello (answered) and Fail (an action error).
  check(total === 2, `the page counts the 2 calls made (${total})`);
  check(Number(await page.locator("#failures-total").textContent()) === 1, "the 1 failed call is counted");
  check((await page.locator("#chart-calls rect.bar").first().locator("title").textContent()).startsWith("2 calls, 1 failed"), "the bar's own figures");
  check((await page.locator("#chart-calls rect.bar").count()) >= 1, "the calls chart has a bar");
  check((await page.locator("#chart-calls rect.bar.failed").count()) >= 1, "the failed call is drawn in red");
  check((await page.locator("#chart-duration rect.bar").count()) >= 1, "the duration chart has a bar");
  const kinds = (await page.locator("#failure-kinds tbody td").allTextContents()).map((t) => t.trim());
  check(kinds.join(" ") === "action_failed 1", `failures by kind: ${kinds}`);
  const ms = async (id) => Number((await page.locator(id).textContent()).replace(" ms", ""));
  const [p50, p99] = [await ms("#p50-total"), await ms("#p99-total")];
  check(p50 > 0 && p50 <= p99, `p50 ${p50} ms and p99 ${p99} ms over the hour`);
  check((await page.locator("#chart-duration rect.bar").first().locator("title").textContent()).startsWith("p99 "), "the duration bar's figures");
  const latest = await page.locator("#latest-failures tbody tr").allTextContents();
  check(latest.length === 1 && latest[0].includes("no coffee left") && latest[0].includes("action_failed"), `the latest failure's message: ${latest}`);
  await page.locator("#span-day").click();
  await page.getByText("Calls per 15 minutes").waitFor();
  check(Number(await page.locator("#calls-total").textContent()) === 2, "the day view counts the same 2 calls");
  await page.goto(`${URL_}/extensions`);
  check((await page.locator("#busiest li").first().textContent()).includes("ServerTest"), "the home page's busiest extension");
  check((await page.locator("#most-failing li").first().textContent()).includes("1 failed"), "and its most failing one");
  await page.goto(`${URL_}/extensions/ServerTest`);

  step("the live log shows a new call's line as it is written");
  const before = await page.locator("#live-log li").count();
  const other = await context.newPage();
  await other.goto(`${URL_}/extensions/ServerTest`);
  await other.getByLabel("Action", { exact: true }).selectOption("Wait");
  await other.getByRole("button", { name: "Call" }).click();
  await other.locator("#try-result").waitFor();
  await other.close();
  // Appended by the page's script from the server-sent events (not rendered by the server).
  const live = page.locator("#live-log li.new", { hasText: "latch" });
  await live.waitFor({ timeout: 10_000 });
  check((await live.locator(".lvl").textContent()) === "info", "the line's level");
  check((await live.textContent()).includes("Wait"), "the line names its action");
  check((await page.locator("#live-log li").count()) > before, "the line was added to those shown");
  if (shots) await page.locator("#monitoring").screenshot({ path: join(shots, "console-monitoring.png") });

  step("edit a setting");
  await page.getByLabel("Greeting").fill("Bonjour");
  await page.getByLabel("ApiKey").fill("s3cret-key");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Settings saved.").waitFor();
  check((await page.getByLabel("Greeting").inputValue()) === "Bonjour", "the new value is shown");
  check(!(await page.content()).includes("s3cret-key"), "the secret is never shown");
  await page.getByLabel("Action", { exact: true }).selectOption("GetSetting");
  await page.getByLabel("Input (JSON object)").fill('{"Name": "Greeting"}');
  await page.getByRole("button", { name: "Call" }).click();
  check((await page.locator("#try-result").textContent()).includes("Bonjour"), "the action reads the new value");

  step("a form posted without its CSRF token is refused");
  await page.evaluate(() => {
    const form = document.querySelector('#settings form');
    form.querySelector('input[name="csrf"]').remove();
    form.querySelector('input[name="setting.Greeting"]').value = "Hacked";
  });
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("heading", { name: "Refused" }).waitFor();
  check((await page.locator("body").textContent()).includes("CSRF"), "the refusal names the CSRF token");
  await page.goto(`${URL_}/extensions/ServerTest`);
  check((await page.getByLabel("Greeting").inputValue()) === "Bonjour", "the refused form changed nothing");

  step("the log shows publishes and the failed call");
  await page.locator("nav.main a", { hasText: "Log" }).click();
  await page.getByText("no coffee left").waitFor();
  check((await page.locator("body").textContent()).includes("rollback by admin"), "the rollback is logged");

  step("users & permissions");
  await page.locator("nav.main a", { hasText: "Users" }).click();
  await page.getByRole("heading", { name: "Users & permissions" }).waitFor();
  check((await page.locator("table.users").textContent()).includes(env("XIF_VIEWER")), "the user is listed");

  if (shots) {
    step("screenshots");
    await page.goto(`${URL_}/extensions`);
    await page.screenshot({ path: join(shots, "console-extensions.png") });
    await page.goto(`${URL_}/extensions/ServerTest`);
    await page.screenshot({ path: join(shots, "console-extension.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${URL_}/extensions`);
    await page.screenshot({ path: join(shots, "console-extensions-390.png") });
    await page.goto(`${URL_}/extensions/ServerTest`);
    await page.screenshot({ path: join(shots, "console-extension-390.png") });
    await page.setViewportSize({ width: 1280, height: 800 });
  }

  step("log out; a user without permission is refused, naming it");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await login(env("XIF_VIEWER"), env("XIF_VIEWER_PASSWORD"));
  check((await page.locator("nav.main a", { hasText: "Users" }).count()) === 0, "no Users link for a non-administrator");
  await page.goto(`${URL_}/upload`);
  await dropFile(env("XIF_PKG_GREETINGS"), "Greetings.xif");
  await page.getByRole("button", { name: "1-Click Publish" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const said = await alert.textContent();
  check(said.includes('missing permission "Allow Extensions"'), `the refusal names the permission: ${said}`);
  await page.goto(`${URL_}/users`);
  check((await page.locator("body").textContent()).includes("only an administrator may list users"), "users page refused");
  await page.goto(`${URL_}/extensions/ServerTest`);
  check((await page.locator("#live-log").count()) === 0, "no log for a user who may not publish the extension");
  check((await page.locator("#monitoring").textContent()).includes("Only administrators and users who may publish"), "and why");

  console.log("all browser checks passed");
});
