//! The Service Center (web console): plain HTTP checks of its sessions, CSRF tokens and pages,
//! and the end-to-end run in real headless Chromium (`tests/browser/console.mjs`, driven by
//! playwright-core).
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::{
    ADMIN_PASSWORD, Fixture, TestServer, server_test, server_test_changed, server_test_changed_definition, workspace,
};

/// A browser-like client: no redirects followed, cookies kept by hand.
struct Browser {
    client: reqwest::Client,
    base: String,
    session: String,
    csrf: String,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
}

fn set_cookie_line(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_default()
        .to_string()
}

/// The value of the first `attr="..."` in a page.
fn attr(html: &str, attr: &str) -> String {
    let start = html.find(&format!("{attr}=\"")).unwrap_or_else(|| panic!("no {attr} in the page")) + attr.len() + 2;
    html[start..].split('"').next().unwrap_or_default().to_string()
}

impl Browser {
    async fn login(s: &TestServer, user: &str, password: &str) -> Browser {
        let client = no_redirects();
        let page = client.get(s.url("/login")).send().await.expect("login page");
        assert_eq!(page.status(), StatusCode::OK);
        let login_cookie = cookie_value(&page, "xif_login").expect("a login cookie");
        let html = page.text().await.expect("html");
        let csrf = attr(&html, "value");
        assert_eq!(csrf, login_cookie, "the login form carries the token of its cookie");
        let resp = client
            .post(s.url("/login"))
            .header(COOKIE, format!("xif_login={login_cookie}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&[("csrf", &csrf), ("next", "/extensions"), ("user", user), ("password", password)]))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login as {user}");
        let line = set_cookie_line(&resp, "xif_session");
        assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"), "{line}");
        let session = cookie_value(&resp, "xif_session").expect("a session cookie");
        let mut b = Browser { client, base: s.url.clone(), session, csrf: String::new() };
        let (status, html) = b.get("/extensions").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        b.csrf = attr(&html, "data-csrf");
        b
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, format!("xif_session={}", self.session))
            .send()
            .await
            .expect("get");
        (resp.status(), resp.text().await.expect("body"))
    }

    /// Posts a form; `with_csrf` adds the session's token.
    async fn post(&self, path: &str, fields: &[(&str, &str)], with_csrf: bool) -> (StatusCode, String, String) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            all.push(("csrf", &self.csrf));
        }
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, format!("xif_session={}", self.session))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&all))
            .send()
            .await
            .expect("post");
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (resp.status(), location, resp.text().await.expect("body"))
    }
}

#[tokio::test]
async fn pages_need_a_session_and_the_login_checks_the_password() {
    let s = TestServer::start().await;
    let client = no_redirects();
    for path in ["/", "/extensions", "/upload", "/users", "/log", "/extensions/Nope"] {
        let resp = client.get(s.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        let to = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(to.starts_with("/login") || (path == "/" && to == "/extensions"), "{path} → {to}");
    }
    let resp = client.get(s.url("/extensions?q=a")).send().await.expect("get");
    assert_eq!(resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()), Some("/login?next=/extensions%3Fq%3Da"));

    // A wrong password: the form again, with the error, as a 401.
    let page = client.get(s.url("/login")).send().await.expect("login page");
    let cookie = cookie_value(&page, "xif_login").expect("cookie");
    let resp = client
        .post(s.url("/login"))
        .header(COOKIE, format!("xif_login={cookie}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", &cookie), ("user", "admin"), ("password", "wrong-password")]))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.expect("body").contains("Wrong user name or password."));

    // The login form without its token (another site posting it) is refused.
    let resp = client
        .post(s.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[("user", "admin"), ("password", ADMIN_PASSWORD)]))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.expect("body").contains("CSRF"));

    // Logging in works; logging out ends the session.
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    let (status, location, _) = b.post("/logout", &[], true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/login"));
    let (status, _) = b.get("/extensions").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test]
async fn the_cookie_never_authorizes_the_api_and_console_routes_stay_out_of_it() {
    let s = TestServer::start().await;
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    for path in ["/api/v1/extensions", "/api/v1/me", "/api/v1/users", "/metrics", "/api/v1/extensions/X/logs"] {
        let resp = b
            .client
            .get(s.url(path))
            .header(COOKIE, format!("xif_session={}", b.session))
            .header("x-csrf-token", &b.csrf)
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // The session secret is no bearer token either.
    let (status, _) = s.get(Some(&b.session), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The console's routes are not API routes (`/metrics` is, where scrapers look for it).
    let served = xif_server::served_routes();
    assert!(served.iter().all(|(_, p)| p.starts_with("/api/v1/") || p == "/metrics"), "{served:?}");
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;

    let new_user = [("name", "mallory"), ("password", "mallory-password"), ("admin", "on")];
    let (status, _, html) = b.post("/users", &new_user, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("CSRF"), "{html}");
    let mut wrong = new_user.to_vec();
    wrong.push(("csrf", "not-the-token"));
    let (status, _, _) = b.post("/users", &wrong, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, users) = s.get(Some(&s.admin), "/api/v1/users").await;
    assert_eq!(users.as_array().map(Vec::len), Some(1), "nobody was created: {users}");

    for (path, fields) in [
        ("/extensions/ServerTest/settings", vec![("setting.Greeting", "Hacked")]),
        ("/extensions/ServerTest/versions/1/rollback", vec![]),
        ("/extensions/ServerTest/try", vec![("action", "Hello"), ("input", "{\"Who\":\"x\"}")]),
        ("/logout", vec![]),
    ] {
        let (status, _, _) = b.post(path, &fields, false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, settings) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/settings").await;
    assert_eq!(settings[0]["set"], false, "{settings}");

    // The script endpoints take the token in a header.
    let resp = b
        .client
        .post(s.url("/upload"))
        .header(COOKIE, format!("xif_session={}", b.session))
        .body(server_test("2"))
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = b
        .client
        .post(s.url("/upload"))
        .header(COOKIE, format!("xif_session={}", b.session))
        .header("x-csrf-token", &b.csrf)
        .body(server_test("2"))
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!((body["extension"].as_str(), body["version"].as_i64()), (Some("ServerTest"), Some(2)));

    // With the token, forms work.
    let (status, location, _) = b.post("/extensions/ServerTest/settings", &[("setting.Greeting", "Hi")], true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/extensions/ServerTest#settings"));
    let (_, settings) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/settings").await;
    assert_eq!(settings[0]["value"], "Hi", "{settings}");
}

#[tokio::test]
async fn pages_show_extensions_versions_users_and_the_log() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    s.deploy("ServerTest", &server_test("2")).await;
    let viewer = s.user("viewer", &[]).await;
    let (status, _, _) = s.call(&viewer, "ServerTest", "Fail", json!({"Message": "out of tea"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;

    let (status, html) = b.get("/extensions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ServerTest") && html.contains(">v2<") && html.contains("by admin"), "{html}");
    let (_, html) = b.get("/extensions?q=zzz").await;
    assert!(html.contains("No extension's name contains"), "{html}");

    let (status, html) = b.get("/extensions/ServerTest").await;
    assert_eq!(status, StatusCode::OK);
    for text in ["Active: version 2", "GetSetting", "Times", "Integer", "resources/version.txt", "ApiKey", "Roll back"]
    {
        assert!(html.contains(text), "the extension page shows {text}");
    }
    let (status, _) = b.get("/extensions/Nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Roll back by the form; then delete the inactive version 2.
    let (status, _, _) = b.post("/extensions/ServerTest/versions/1/rollback", &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = b.get("/extensions/ServerTest").await;
    assert!(html.contains("Rolled back ServerTest to version 1.") && html.contains("Active: version 1"), "{html}");
    let (status, _, _) = b.post("/extensions/ServerTest/versions/2/delete", &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, versions) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/versions").await;
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
    let (status, _, _) = b.post("/extensions/ServerTest/versions/1/delete", &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = b.get("/extensions/ServerTest").await;
    assert!(html.contains("is active: roll back to another version first"), "{html}");

    // Download the package, byte for byte.
    let resp = b
        .client
        .get(s.url("/extensions/ServerTest/versions/1/download"))
        .header(COOKIE, format!("xif_session={}", b.session))
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.expect("bytes").to_vec(), server_test("1"));

    // The log: publishes, the rollback, and the failed call.
    let (_, html) = b.get("/log").await;
    assert!(
        html.contains("rollback by admin") && html.contains("out of tea") && html.contains("action_failed"),
        "{html}"
    );

    // Users: create one, grant a permission, revoke their API tokens.
    let (status, location, _) = b
        .post("/users", &[("name", "dev"), ("password", "dev-password"), ("permission", "Allow Extensions")], true)
        .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/users"));
    let (status, _, _) = b
        .post(
            "/users/dev/permissions",
            &[("permission", "Allow Extensions"), ("permission", "Allow Foreign Entities")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let dev = s.login("dev", "dev-password").await;
    let (_, me) = s.get(Some(&dev), "/api/v1/me").await;
    assert_eq!(me["permissions"], json!(["Allow Extensions", "Allow Foreign Entities"]));
    let (status, token) = s.post(Some(&dev), "/api/v1/tokens", json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let api_token = token["token"].as_str().expect("token").to_string();
    let (status, _) = s.get(Some(&api_token), "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    let (_, html) = b.get("/users").await;
    assert!(html.contains("End every session and token of dev"), "{html}");
    let (status, _, _) = b.post("/users/dev/tokens/revoke", &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = s.get(Some(&api_token), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the API token no longer works");
    let (status, _) = s.get(Some(&dev), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nor the login session: every credential ends");
    let (_, html) = b.get("/users").await;
    assert!(html.contains("Ended every session and token of dev: 2 tokens, 0 Service Center sessions."), "{html}");

    // A non-administrator does not get the users page, and is told why.
    let v = Browser::login(&s, "viewer", "viewer-password").await;
    let (status, html) = v.get("/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("only an administrator may list users"), "{html}");
    let (status, _, html) = v.post("/users", &[("name", "x"), ("password", "xxxxxxxxxx")], true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("only an administrator may create users"), "{html}");
}

/// `tests/browser` with playwright-core installed (scripts/setup.sh runs `npm ci` there).
#[tokio::test]
async fn an_entitys_records_can_be_browsed_a_page_at_a_time() {
    let s = TestServer::start().await;
    s.deploy("Greetings", &Fixture::load("Greetings").package()).await;
    for who in ["Ada Lovelace", "Grace Hopper"] {
        let (status, body) =
            s.post(Some(&s.admin), "/api/v1/extensions/Greetings/entities/Visit", json!({ "Who": who })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    let (_, html) = b.get("/extensions/Greetings").await;
    assert!(html.contains("/extensions/Greetings/entities/Visit"), "the entity links to its records: {html}");
    let (status, html) = b.get("/extensions/Greetings/entities/Visit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ada Lovelace") && html.contains("Grace Hopper") && html.contains(">Who<"), "{html}");
    let (_, html) = b.get("/extensions/Greetings/entities/Visit?offset=1").await;
    assert!(!html.contains("Ada Lovelace") && html.contains("Grace Hopper"), "the second page: {html}");
    let (status, _) = b.get("/extensions/Greetings/entities/Nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn browser_tests() -> PathBuf {
    let dir = workspace().join("crates/xif-server/tests/browser");
    assert!(
        dir.join("node_modules/playwright-core/package.json").is_file(),
        "playwright-core is not installed in {}\n  help: run scripts/setup.sh (it runs `npm ci` there)",
        dir.display()
    );
    dir
}

fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        path.is_file(),
        "no Chromium at {}\n  help: run scripts/setup.sh (it installs Debian's chromium)",
        path.display()
    );
    path
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the package");
    path.display().to_string()
}

/// The Service Center end to end in headless Chromium: log in, publish by a drop event and by
/// the file chooser, see it listed, roll back, try an action, edit a setting, a form without its
/// CSRF token refused, a user without permission refused with the permission named.
/// `XIF_SCREENSHOTS=DIR` also writes the README's screenshots there.
#[tokio::test]
async fn console_in_chromium() {
    // Node.js, playwright-core and Chromium first: nothing else is worth starting without them.
    browser_tests();
    chromium();
    let s = TestServer::start().await;
    s.user("viewer", &[]).await;
    // Something else on the list: the example with an exported entity, published by the API.
    let greetings = Fixture::load("Greetings");
    assert!(greetings.definition.contains("[entities.Visit]"), "the example keeps its guest book in an entity");
    s.deploy("Greetings", &greetings.package()).await;

    let packages = tempfile::tempdir().expect("tempdir");
    let v1 = write(packages.path(), "ServerTest-1.xif", &server_test("1"));
    let v2 = write(packages.path(), "ServerTest-2.xif", &server_test("2"));
    let greetings = write(packages.path(), "Greetings.xif", &Fixture::load("Greetings").package());
    let env = [
        ("XIF_VIEWER", "viewer".to_string()),
        ("XIF_VIEWER_PASSWORD", "viewer-password".to_string()),
        ("XIF_PKG_V1", v1),
        ("XIF_PKG_V2", v2),
        ("XIF_PKG_GREETINGS", greetings),
    ];
    run_browser_script(&s, "console.mjs", &env, "all browser checks passed").await;

    // What the browser did, seen through the API.
    let (_, ext) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest").await;
    assert_eq!(ext["active_version"], 1, "rolled back: {ext}");
    let (_, log) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/publishes").await;
    let kinds: Vec<(&str, i64)> = log
        .as_array()
        .expect("log")
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or_default(), e["version"].as_i64().unwrap_or_default()))
        .collect();
    assert_eq!(kinds, [("rollback", 1), ("publish", 2), ("publish", 1)]);
    let (_, settings) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/settings").await;
    assert_eq!(settings[0]["value"], "Bonjour", "{settings}");
    assert_eq!(settings[2]["set"], true, "the secret was set: {settings}");
    let (_, exts) = s.get(Some(&s.admin), "/api/v1/extensions").await;
    assert_eq!(exts.as_array().map(Vec::len), Some(2), "the viewer published nothing: {exts}");
}

/// Line and column (from 1) of the first `needle` in `src`, as `LINE:COL`.
fn place(src: &str, needle: &str) -> String {
    let offset = src.find(needle).unwrap_or_else(|| panic!("{needle:?} in {src}"));
    let line = src[..offset].matches('\n').count() + 1;
    let column = offset - src[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{column}")
}

/// Issue 18 in headless Chromium (`tests/browser/version-diff.mjs`): the extension page's
/// version list says each version's API changes against the previous one, its details list the
/// located lines with the breaking one marked, and the compare form leads to the changes between
/// any two versions. `XIF_SCREENSHOTS=DIR` also writes docs/console-version-diff.png and
/// docs/console-compare.png there.
#[tokio::test]
async fn version_diff_in_chromium() {
    // Node.js, playwright-core and Chromium first: nothing else is worth starting without them.
    browser_tests();
    chromium();
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    for (package, number) in [(server_test_changed("2"), 2), (server_test_changed("3"), 3)] {
        let (status, up) = s.upload(&s.admin, "ServerTest", &package).await;
        assert_eq!((status, up["version"].as_i64()), (StatusCode::CREATED, Some(number)), "{up}");
    }
    let loud = place(&server_test_changed_definition(), "Loud =");
    let spin = place(&Fixture::load("ServerTest").definition, "Spin]");

    // Plain HTTP first: the page is the server's HTML, no script needed.
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    let (status, html) = b.get("/extensions/ServerTest").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("extension.toml of version 1:{spin}")), "{html}");
    let (status, html) = b.get("/extensions/ServerTest/diff?from=1&to=3").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("extension.toml of version 3:{loud}")), "{html}");
    let (status, html) = b.get("/extensions/Nope/diff?from=1&to=2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("there is no extension named Nope"), "{html}");

    run_browser_script(
        &s,
        "version-diff.mjs",
        &[("XIF_LOUD", loud), ("XIF_SPIN", spin)],
        "all version diff checks passed",
    )
    .await;
}

/// The extension page's calls of the last hour (issue 16): counted on every node into the
/// database's calls per minute, charted, failures by kind; its log only for those who may read it.
#[tokio::test]
async fn the_extension_page_charts_calls_and_shows_the_log_to_publishers_only() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    for (action, input) in [
        ("Hello", json!({"Who": "Ada"})),
        ("Hello", json!({"Who": "Bo"})),
        ("Fail", json!({"Message": "no tea"})),
        ("Wait", json!({})),
    ] {
        s.call(&s.admin, "ServerTest", action, input).await;
    }
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let html = loop {
        let (status, html) = b.get("/extensions/ServerTest").await;
        assert_eq!(status, StatusCode::OK);
        if (html.contains(r#"id="calls-total">4<"#) && html.contains(r#"<span class="msg">latch</span>"#))
            || std::time::Instant::now() > deadline
        {
            break html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(html.contains(r#"id="calls-total">4<"#), "4 calls counted: {html}");
    assert!(html.contains(r#"id="failures-total">1<"#), "1 failed: {html}");
    assert_eq!(html.matches(r#"class="bar failed""#).count(), 1, "one red bar: {html}");
    assert!(html.contains("<code>action_failed</code>"), "the failure's kind");
    assert!(html.contains(r#"id="live-log""#), "the log");
    assert!(html.contains(r#"<span class="msg">latch</span>"#), "with the Wait call's line: {html}");
    assert!(html.contains("/extensions/ServerTest/logs/follow?after="), "the page follows the log");
    // The durations: p50 and p99 over the hour, from the buckets every node flushed.
    let figure = |html: &str, id: &str| -> f64 {
        let at = html.find(&format!(r#"id="{id}">"#)).unwrap_or_else(|| panic!("no {id}: {html}"));
        let rest = &html[at + id.len() + 6..];
        rest.split(" ms<")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{id} is not a duration: {rest:.40}"))
    };
    let (p50, p99) = (figure(&html, "p50-total"), figure(&html, "p99-total"));
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= 10_000.0, "p50 {p50} ms, p99 {p99} ms");
    assert!(html.contains(r#"class="bar p50""#), "a p50 bar in the duration chart: {html}");
    // The latest failure, with the message its caller was answered with.
    let latest = html.split(r#"id="latest-failures""#).nth(1).unwrap_or_else(|| panic!("no latest failures: {html}"));
    let latest = latest.split("</table>").next().unwrap_or_default();
    assert_eq!(latest.matches("<tr>").count(), 2, "a header and the one failure: {latest}");
    assert!(latest.contains("no tea") && latest.contains("action_failed") && latest.contains("Fail"), "{latest}");

    // The day: 96 bars of 15 minutes, the same counts.
    let (status, day) = b.get("/extensions/ServerTest?range=day").await;
    assert_eq!(status, StatusCode::OK);
    assert!(day.contains("Calls per 15 minutes") && day.contains("last 24 hours"), "{day}");
    assert!(day.contains(r#"id="calls-total">4<"#) && day.contains(r#"id="failures-total">1<"#), "{day}");
    assert!(day.contains("24 h ago"), "the day's axis");
    // An unknown span is the hour.
    let (status, other) = b.get("/extensions/ServerTest?range=week").await;
    assert_eq!(status, StatusCode::OK);
    assert!(other.contains("Calls per minute"));

    // The home page ranks it: busiest, and most failing.
    s.deploy("Greetings", &Fixture::load("Greetings").package()).await;
    let (status, home) = b.get("/extensions").await;
    assert_eq!(status, StatusCode::OK);
    let busiest = home.split(r#"id="busiest""#).nth(1).unwrap_or_else(|| panic!("no busiest: {home}"));
    let busiest = busiest.split("</ol>").next().unwrap_or_default();
    assert!(busiest.contains(">ServerTest<") && busiest.contains("4 calls"), "{busiest}");
    assert!(!busiest.contains("Greetings"), "an extension without calls is not ranked: {busiest}");
    assert!(home.contains("Greetings"), "though listed");
    let failing = home.split(r#"id="most-failing""#).nth(1).unwrap_or_else(|| panic!("no most failing: {home}"));
    let failing = failing.split("</ol>").next().unwrap_or_default();
    assert!(
        failing.contains(">ServerTest<") && failing.contains("1 failed") && failing.contains("(25.0%)"),
        "{failing}"
    );

    // A user who may not publish ServerTest sees the counts, not the log, and may not follow it.
    s.user("viewer", &[]).await;
    let v = Browser::login(&s, "viewer", "viewer-password").await;
    let (status, html) = v.get("/extensions/ServerTest").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="calls-total">4<"#));
    assert!(!html.contains("lvl-info") && !html.contains(r#"id="live-log""#), "no log lines: {html}");
    let (status, _) = v.get("/extensions/ServerTest/logs/follow").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn administrators_make_and_revoke_scrape_tokens_on_the_users_page() {
    let s = TestServer::start().await;
    let b = Browser::login(&s, "admin", ADMIN_PASSWORD).await;
    let (status, _, html) = b.post("/metrics-tokens", &[("name", "prometheus"), ("days", "30")], false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token, no scrape token: {html}");
    let (status, _, html) = b.post("/metrics-tokens", &[("name", "prometheus"), ("days", "many")], true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not a number of days"), "{html}");
    let (status, _, html) = b.post("/metrics-tokens", &[("name", "prometheus"), ("days", "30")], true).await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    let token = html
        .split(r#"<code id="fresh-token">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("the new token is shown: {html}"))
        .to_string();
    let scrape = |t: String| {
        let req = s.client.get(s.url("/metrics")).bearer_auth(t);
        async move { req.send().await.expect("scrape").status() }
    };
    assert_eq!(scrape(token.clone()).await, StatusCode::OK, "it reads /metrics");
    // Listed without its secret once the page is loaded again.
    let (status, html) = b.get("/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("prometheus") && !html.contains(&token), "{html}");
    let (_, list) = s.get(Some(&s.admin), "/api/v1/metrics/tokens").await;
    let id = list[0]["id"].as_i64().expect("the API lists it");
    assert_eq!(list[0]["name"], "prometheus");

    // A user who is no administrator may not make one.
    s.user("viewer", &[]).await;
    let v = Browser::login(&s, "viewer", "viewer-password").await;
    let (status, _, _) = v.post("/metrics-tokens", &[("name", "mine")], true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = v.post(&format!("/metrics-tokens/{id}/revoke"), &[], true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(scrape(token.clone()).await, StatusCode::OK, "the refused revocation changed nothing");

    let (status, location, _) = b.post(&format!("/metrics-tokens/{id}/revoke"), &[], true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/users#scrape-tokens"));
    assert_eq!(scrape(token).await, StatusCode::UNAUTHORIZED, "revoked at once");
    let (_, html) = b.get("/users").await;
    assert!(html.contains(&format!("Revoked scrape token {id}.")) && html.contains("revoked "), "{html}");
}

/// Runs the Chromium script `script` of `tests/browser` against `s` (as the administrator, with
/// `env` besides) and asserts that it passed, printing `passed` at its end.
async fn run_browser_script(s: &TestServer, script: &str, env: &[(&str, String)], passed: &str) {
    let dir = browser_tests();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .env("XIF_URL", &s.url)
        .env("XIF_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CHROMIUM", chromium())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run node: {e}\n  help: run scripts/setup.sh (it installs Node.js)"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser checks of {script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(passed), "{stdout}");
}

/// A gradual rollout in the Service Center (issue 18): after a scripted load of known counts,
/// both versions' calls, failures and error rates side by side, asserted from the page; moving
/// it on, aborting it, starting one from the version list and making it active, in Chromium.
#[tokio::test]
async fn rollout_in_chromium() {
    // Node.js, playwright-core and Chromium first: nothing else is worth starting without them.
    browser_tests();
    chromium();
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, up) = s.upload(&s.admin, "ServerTest", &server_test("failing-2")).await;
    assert_eq!((status, up["version"].as_i64()), (StatusCode::CREATED, Some(2)), "{up}");
    let path = "/api/v1/extensions/ServerTest/versions/2/publish?gradual=20&guard=false";
    let (status, body) = s.post(Some(&s.admin), path, json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 100 calls: version 1 answers, version 2 fails every one.
    let (mut old, mut new) = (0, 0);
    for _ in 0..100 {
        match s.call(&s.admin, "ServerTest", "Which", json!({})).await {
            (StatusCode::OK, _, Some(1)) => old += 1,
            (StatusCode::UNPROCESSABLE_ENTITY, _, Some(2)) => new += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(old + new, 100);
    assert!(new > 0 && old > 0, "both versions answered: {old} / {new}");
    // The counts reach the database within the flush interval: wait for them (up to 10 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, info) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/rollout").await;
        let calls: i64 = info["versions"].as_array().map_or(0, |v| v.iter().filter_map(|v| v["calls"].as_i64()).sum());
        if calls == 100 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the counts did not reach 100: {info}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let counts = [("XIF_OLD_CALLS", old.to_string()), ("XIF_NEW_CALLS", new.to_string())];
    run_browser_script(&s, "rollout.mjs", &counts, "all rollout checks passed").await;
}
