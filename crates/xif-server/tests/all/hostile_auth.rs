//! Hostile clients against logins and credentials (issue 12): the console's login redirect,
//! `X-Forwarded-For` from trusted proxies only, one throttle for the API and the console, and
//! credentials that end when a password is reset, when "revoke all" is asked, when a user is
//! deleted or demoted; API tokens bounded by the server's maximum lifetime.
//!
//! The throttle under a real parallel flood (real argon2, peak memory) is tested against a
//! spawned `xif serve` in `crates/xif/tests/all/hostile_auth.rs`.
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, TestServer, config};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
        .filter(|v| !v.is_empty())
}

/// The answer of a console login: status, `Location`, the session cookie, the page.
struct ConsoleLogin {
    status: StatusCode,
    location: String,
    session: Option<String>,
    body: String,
}

/// Opens `GET /login?next=RAW_NEXT` (already URL-encoded), then posts the form with `next`
/// as the page gave it, or `next_field` when given (what a forged form would send).
async fn console_login(
    s: &TestServer,
    raw_next: &str,
    next_field: Option<&str>,
    user: &str,
    password: &str,
) -> ConsoleLogin {
    let client = no_redirects();
    let page = client.get(s.url(&format!("/login?next={raw_next}"))).send().await.expect("login page");
    assert_eq!(page.status(), StatusCode::OK, "the login page of next={raw_next}");
    let csrf = cookie_value(&page, "xif_login").expect("a login cookie");
    let html = page.text().await.expect("html");
    let shown_next = html
        .split("name=\"next\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("/extensions")
        .replace("&amp;", "&");
    let next = next_field.map(str::to_string).unwrap_or(shown_next);
    let resp = client
        .post(s.url("/login"))
        .header(COOKIE, format!("xif_login={csrf}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", &csrf), ("next", &next), ("user", user), ("password", password)]))
        .send()
        .await
        .expect("login");
    let status = resp.status();
    let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let session = cookie_value(&resp, "xif_session");
    let body = resp.text().await.expect("body");
    ConsoleLogin { status, location, session, body }
}

/// A console page with a session cookie: its status.
async fn console_get(s: &TestServer, session: &str, path: &str) -> StatusCode {
    no_redirects().get(s.url(path)).header(COOKIE, format!("xif_session={session}")).send().await.expect("get").status()
}

/// Guards the open redirect: `next=/%09/evil.example` gave `Location: /<TAB>/evil.example`
/// (browsers drop the tab: `//evil.example`), and `next=/%0a/...` a plain-text 500 after the
/// session cookie was set. Now every next that is not a path of this server falls back to the
/// console's start page, through the page's hidden field and through a forged form alike.
#[tokio::test]
async fn the_console_login_redirects_only_to_paths_of_this_server() {
    let s = TestServer::start().await;
    let hostile = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/x\\evil",
        "https://evil.example",
        "javascript:alert(1)",
        " /evil",
        "/\u{7f}/evil",
        "/é/evil",
        "",
    ];
    for next in hostile {
        for forged in [false, true] {
            let l = console_login(&s, &enc(next), forged.then_some(next), "admin", ADMIN_PASSWORD).await;
            assert_eq!(l.status, StatusCode::SEE_OTHER, "next={next:?} forged={forged}: {}", l.body);
            assert_eq!(l.location, "/extensions", "next={next:?} forged={forged}");
            assert!(l.session.is_some(), "logged in all the same");
        }
    }
    // Percent-encoded slashes: decoded once by the query, they are `//evil` and refused; sent
    // encoded twice, they stay a harmless local path.
    let l = console_login(&s, "%2F%2Fevil.example", None, "admin", ADMIN_PASSWORD).await;
    assert_eq!(l.location, "/extensions");
    let l = console_login(&s, "/%252F%252Fevil.example", None, "admin", ADMIN_PASSWORD).await;
    assert_eq!(l.location, "/%2F%2Fevil.example", "a path of this server");
    // A local path is kept.
    let l = console_login(&s, "/users%3Fa%3D1", None, "admin", ADMIN_PASSWORD).await;
    assert_eq!(l.location, "/users?a=1");
}

/// A client address from `X-Forwarded-For` is believed only from a configured trusted proxy.
/// Guards the spoofing of the header by anyone (each forged address would get its own free
/// failures) and the use of the header behind a real proxy.
#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    async fn wrong(s: &TestServer, xff: &str) -> StatusCode {
        s.client
            .post(s.url("/api/v1/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({"user": "admin", "password": "wrong guess"}))
            .send()
            .await
            .expect("send")
            .status()
    }
    // Untrusted peer: a different forged address each time changes nothing.
    let s = TestServer::start().await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(wrong(&s, &format!("203.0.113.{i}")).await);
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2], "the forged header is ignored: {statuses:?}");

    // Behind a trusted proxy (127.0.0.1 here): each client address has its own count.
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("a network")];
    let s = TestServer::start_with(c, dir).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(wrong(&s, &format!("203.0.113.{i}")).await);
    }
    assert_eq!(statuses, [StatusCode::UNAUTHORIZED; 8], "eight clients, one failure each");
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = wrong(&s, "198.51.100.7, 127.0.0.1").await;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "one client behind two proxies is counted as itself");
    // That client is held; the proxy's other clients are not.
    s.login("admin", ADMIN_PASSWORD).await;
}

/// The console's login is the same throttle as the API's: failures in one count in the other,
/// so the console is no way around it.
#[tokio::test]
async fn the_console_login_shares_the_throttle() {
    let s = TestServer::start().await;
    for _ in 0..5 {
        let (status, _) = s.post(None, "/api/v1/login", json!({"user": "admin", "password": "guess"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let l = console_login(&s, "/extensions", None, "admin", ADMIN_PASSWORD).await;
    assert_eq!(l.status, StatusCode::TOO_MANY_REQUESTS, "{}", l.body);
    assert!(l.session.is_none());
    assert!(l.body.contains("Too many failed logins"), "{}", l.body);

    let s = TestServer::start().await;
    for _ in 0..5 {
        let l = console_login(&s, "/extensions", None, "admin", "guess").await;
        assert_eq!(l.status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = s.post(None, "/api/v1/login", json!({"user": "admin", "password": ADMIN_PASSWORD})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

/// Guards "a password reset ends nothing": after `PATCH /api/v1/users/{user}` with a password,
/// the user's login session token, API token and Service Center session all stop working at
/// once (the auth cache does not keep them alive), and the new password logs in.
#[tokio::test]
async fn a_password_reset_ends_every_credential_of_the_user() {
    let s = TestServer::start().await;
    let session = s.user("dev", &[]).await;
    let (status, api) = s.post(Some(&session), "/api/v1/tokens", json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let api = api["token"].as_str().expect("token").to_string();
    let console = console_login(&s, "/extensions", None, "dev", "dev-password").await;
    let console = console.session.expect("a console session");
    // Warm the auth cache.
    for t in [&session, &api] {
        assert_eq!(s.get(Some(t), "/api/v1/me").await.0, StatusCode::OK);
    }
    assert_eq!(console_get(&s, &console, "/extensions").await, StatusCode::OK);

    let resp = s
        .client
        .patch(s.url("/api/v1/users/dev"))
        .bearer_auth(&s.admin)
        .json(&json!({"password": "a new password"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), StatusCode::OK);
    for t in [&session, &api] {
        assert_eq!(s.get(Some(t), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "the old token is dead");
    }
    assert_eq!(console_get(&s, &console, "/extensions").await, StatusCode::SEE_OTHER, "back to the login page");
    assert_eq!(s.get(Some(&s.admin), "/api/v1/me").await.0, StatusCode::OK, "the administrator's are not touched");
    let fresh = s.login("dev", "a new password").await;
    assert_eq!(s.get(Some(&fresh), "/api/v1/me").await.0, StatusCode::OK);
}

/// `POST /api/v1/users/{user}/revoke`: yourself, or anyone for an administrator; it ends every
/// token and console session of the user, the calling one included. The console's "Revoke all"
/// and its password reset do the same.
#[tokio::test]
async fn revoke_all_ends_every_credential() {
    let s = TestServer::start().await;
    let dev = s.user("dev", &[]).await;
    let other = s.login("dev", "dev-password").await;
    let (_, api) = s.post(Some(&dev), "/api/v1/tokens", json!({"name": "ci"})).await;
    let api = api["token"].as_str().expect("token").to_string();
    let console = console_login(&s, "/extensions", None, "dev", "dev-password").await.session.expect("session");
    let ops = s.user("ops", &[]).await;

    let (status, body) = s.post(Some(&ops), "/api/v1/users/dev/revoke", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not someone else's: {body}");
    assert_eq!(s.get(Some(&dev), "/api/v1/me").await.0, StatusCode::OK);

    let (status, body) = s.post(Some(&api), "/api/v1/users/dev/revoke", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tokens"], 3, "two logins and an API token: {body}");
    assert_eq!(body["console_sessions"], 1, "{body}");
    for t in [&dev, &other, &api] {
        assert_eq!(s.get(Some(t), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(console_get(&s, &console, "/users").await, StatusCode::SEE_OTHER);
    assert_eq!(s.get(Some(&ops), "/api/v1/me").await.0, StatusCode::OK, "another user keeps theirs");

    // An administrator, for someone else.
    let (status, _) = s.post(Some(&s.admin), "/api/v1/users/ops/revoke", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(Some(&ops), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = s.post(Some(&s.admin), "/api/v1/users/nobody/revoke", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The console: "Revoke all" and "Reset a password" end API tokens, logins and console sessions.
    let admin_console = console_login(&s, "/users", None, "admin", ADMIN_PASSWORD).await.session.expect("admin");
    let page = no_redirects()
        .get(s.url("/users"))
        .header(COOKIE, format!("xif_session={admin_console}"))
        .send()
        .await
        .expect("users page")
        .text()
        .await
        .expect("html");
    let csrf = page.split("data-csrf=\"").nth(1).and_then(|r| r.split('"').next()).expect("csrf").to_string();
    let console_post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let mut all = fields;
        all.push(("csrf", csrf.clone()));
        let body = all.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        no_redirects()
            .post(s.url(path))
            .header(COOKIE, format!("xif_session={admin_console}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    };
    for how in ["revoke", "reset"] {
        let dev = s.login("dev", "dev-password").await;
        let dev_console = console_login(&s, "/extensions", None, "dev", "dev-password").await.session.expect("dev");
        let resp = match how {
            "revoke" => console_post("/users/dev/tokens/revoke", vec![]),
            _ => console_post("/users/password", vec![("user", "dev".into()), ("password", "dev-password".into())]),
        }
        .send()
        .await
        .expect("post");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{how}: {}", resp.text().await.unwrap_or_default());
        assert_eq!(s.get(Some(&dev), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "{how}");
        assert_eq!(console_get(&s, &dev_console, "/extensions").await, StatusCode::SEE_OTHER, "{how}");
        assert_eq!(console_get(&s, &admin_console, "/users").await, StatusCode::OK, "{how}: the admin's stays");
    }
    let resp = console_post("/users/password", vec![("user", "dev".into()), ("password", "short".into())])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "a refused password is a page, not a 500");
}

/// Guards "any token can mint 10-year API tokens": a token's lifetime is bounded by the
/// server's `max_token_lifetime` (90 days by default); more is a 400 that names the maximum.
#[tokio::test]
async fn api_tokens_live_at_most_the_servers_maximum() {
    let s = TestServer::start().await;
    let (status, body) = s.post(Some(&s.admin), "/api/v1/tokens", json!({"name": "ci", "expires_in_days": 3650})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("from 1 to 90"), "{body}");
    assert_eq!(body["parameter"], "expires_in_days");
    let (status, body) = s.post(Some(&s.admin), "/api/v1/tokens", json!({"name": "ci", "expires_in_days": 90})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.max_token_lifetime = Duration::from_secs(7 * 86_400);
    let s = TestServer::start_with(c, dir).await;
    let (status, body) = s.post(Some(&s.admin), "/api/v1/tokens", json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "the default fits under the maximum: {body}");
    let expires = chrono_days(body["expires_at"].as_str().expect("expiry"));
    assert!((6.9..=7.01).contains(&expires), "{expires} days");
    let (status, body) = s.post(Some(&s.admin), "/api/v1/tokens", json!({"name": "ci", "expires_in_days": 8})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("from 1 to 7"), "{body}");
}

/// Days from now to an RFC 3339 time.
fn chrono_days(t: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(t).expect("an RFC 3339 time");
    (t.timestamp_millis() - chrono::Utc::now().timestamp_millis()) as f64 / 86_400_000.0
}

/// A deleted user, or an administrator demoted, loses access at once, even with a token the
/// auth cache holds.
#[tokio::test]
async fn a_deleted_or_demoted_user_loses_access_at_once() {
    let s = TestServer::start().await;
    let (status, _) = s
        .post(Some(&s.admin), "/api/v1/users", json!({"name": "boss", "password": "boss-password", "admin": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let boss = s.login("boss", "boss-password").await;
    let boss_console = console_login(&s, "/users", None, "boss", "boss-password").await.session.expect("session");
    assert_eq!(s.get(Some(&boss), "/api/v1/users").await.0, StatusCode::OK, "cached as an administrator");
    assert_eq!(console_get(&s, &boss_console, "/users").await, StatusCode::OK);
    let resp = s
        .client
        .patch(s.url("/api/v1/users/boss"))
        .bearer_auth(&s.admin)
        .json(&json!({"admin": false}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(s.get(Some(&boss), "/api/v1/users").await.0, StatusCode::FORBIDDEN, "demoted at once");
    assert_eq!(console_get(&s, &boss_console, "/users").await, StatusCode::FORBIDDEN, "in the console too");

    let dev = s.user("dev", &[]).await;
    let dev_console = console_login(&s, "/extensions", None, "dev", "dev-password").await.session.expect("session");
    assert_eq!(s.get(Some(&dev), "/api/v1/me").await.0, StatusCode::OK);
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/users/dev").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(Some(&dev), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(console_get(&s, &dev_console, "/extensions").await, StatusCode::SEE_OTHER);
}
