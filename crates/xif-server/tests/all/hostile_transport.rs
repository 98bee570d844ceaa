//! Hostile transport, in-process: HTTP hygiene headers, the JSON 405, `Secure` cookies from
//! `public_url`, and the lingering close that lets a client read a 413 after sending its whole
//! (oversized) body.
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestServer, config};

/// Guards: every answer (API, console, 404) says `X-Content-Type-Options: nosniff`; the
/// console's pages carry a Content-Security-Policy with `frame-ancestors 'none'` and
/// `X-Frame-Options: DENY`. Before: none of these headers were sent.
#[tokio::test]
async fn every_answer_says_nosniff_and_pages_forbid_framing_and_inline_script() {
    let s = TestServer::start().await;
    for path in ["/api/v1/health", "/api/v1/nothing-here", "/assets/console.css", "/login"] {
        let resp = s.client.get(s.url(path)).send().await.expect("request");
        assert_eq!(resp.headers().get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
    }
    let resp = s.client.get(s.url("/login")).send().await.expect("login page");
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers().get("content-security-policy").expect("a CSP").to_str().expect("text").to_string();
    for part in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(resp.headers().get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    let page = resp.text().await.expect("html");
    assert!(!page.contains("javascript:"), "no inline script the policy would block");
    // The JSON API is not a page: no page policy needed there.
    let resp = s.client.get(s.url("/api/v1/health")).send().await.expect("health");
    assert!(resp.headers().get("x-frame-options").is_none());
}

/// Guards: a method a route does not take is a 405 with the JSON error shape naming the
/// methods it takes (before: an empty body).
#[tokio::test]
async fn a_wrong_method_is_a_json_405_that_names_the_allowed_ones() {
    let s = TestServer::start().await;
    let resp = s.client.get(s.url("/api/v1/login")).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.headers().get("allow").is_some_and(|v| v.to_str().unwrap_or("").contains("POST")));
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"], "method_not_allowed", "{body}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(message.contains("POST") && message.contains("GET"), "{message}");
    let resp = s.client.delete(s.url("/api/v1/extensions/X/versions/1/publish")).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"], "method_not_allowed", "{body}");
}

fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap_or("").to_string()).collect()
}

/// Guards: `public_url = https://…` makes the console's cookies `Secure` without any header
/// from a proxy (before: only `X-Forwarded-Proto`, which any client may send, decided it).
#[tokio::test]
async fn an_https_public_url_makes_the_console_cookies_secure() {
    let plain = TestServer::start().await;
    let resp = plain.client.get(plain.url("/login")).send().await.expect("login page");
    let cookies = set_cookies(&resp);
    assert!(!cookies.is_empty() && cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");

    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.public_url = Some("https://xif.example.com".into());
    let behind_proxy = TestServer::start_with(c, dir).await;
    let resp = behind_proxy.client.get(behind_proxy.url("/login")).send().await.expect("login page");
    let cookies = set_cookies(&resp);
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("; Secure")), "{cookies:?}");

    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.public_url = Some("xif.example.com".into());
    let err = xif_server::start(c).await.expect_err("a public URL without a scheme is refused");
    assert!(err.to_string().contains("public URL"), "{err}");
}

/// Guards: a client that writes a 20 MB body to a call route with a 10 MB limit, and only then
/// reads, gets the 413 JSON answer (before: the server closed with the rest unread, the kernel
/// reset the connection, and the client saw a broken pipe or a reset instead of the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_a_body_over_the_limit_reads_the_413() {
    let s = TestServer::start().await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let token = s.admin.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let body = vec![b' '; 20 << 20];
        let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        tcp.set_write_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let head = format!(
            "POST /api/v1/extensions/Anything/actions/Any HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        tcp.write_all(head.as_bytes()).expect("the head is sent");
        tcp.write_all(&body).expect("the whole body is sent, no broken pipe");
        let mut out = Vec::new();
        tcp.read_to_end(&mut out).expect("the answer is read, no reset");
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .expect("the client thread");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let json = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(v["error"], "too_large", "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("10 MiB"), "{v}");
    // The server still answers.
    let (status, _) = s.get(None, "/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
}
