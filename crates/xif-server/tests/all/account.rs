//! Logging in, tokens, users, permissions.
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, TestServer, config};

#[tokio::test]
async fn login_gives_a_token_that_authorizes() {
    let s = TestServer::start().await;
    let (status, me) = s.get(Some(&s.admin), "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "admin");
    assert_eq!(me["admin"], true);

    let (status, body) = s.post(None, "/api/v1/login", json!({"user": "admin", "password": "wrong"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["message"], "wrong user name or password");
    let (status, _) = s.post(None, "/api/v1/login", json!({"user": "nobody", "password": "wrong"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // No token, a malformed header, an unknown token.
    let (status, body) = s.get(None, "/api/v1/extensions").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap_or_default().contains("Bearer"), "{body}");
    let resp =
        s.client.get(s.url("/api/v1/me")).header("authorization", "Basic YWRtaW46eA==").send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or_default()), Some("Bearer"));
    let (status, _) = s.get(Some("xif_not-a-token"), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A session cookie never authorizes the API.
    let resp = s
        .client
        .get(s.url("/api/v1/me"))
        .header("cookie", format!("xif_session={}", s.admin))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Logout revokes the session token.
    let token = s.login("admin", ADMIN_PASSWORD).await;
    let (status, _) = s.post(Some(&token), "/api/v1/logout", json!(null)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(Some(&token), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_tokens_are_named_listed_and_revoked_at_once() {
    let s = TestServer::start().await;
    let dev = s.user("dev", &["Allow Extensions"]).await;
    let (status, created) =
        s.post(Some(&dev), "/api/v1/tokens", json!({"name": "ci-deploy", "expires_in_days": 30})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    let id = created["id"].as_i64().expect("id");
    assert!(token.starts_with("xif_"));

    let (status, me) = s.get(Some(&token), "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "dev");
    assert_eq!(me["permissions"], json!(["Allow Extensions"]));

    let (status, list) = s.get(Some(&dev), "/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "ci-deploy");
    assert!(list[0].get("token").is_none(), "the secret is never listed: {list}");
    assert!(!list.to_string().contains(&token));

    // Another user cannot revoke it; its owner can, and it stops working at once (it was
    // used a moment ago, so it was in the server's cache).
    let other = s.user("other", &[]).await;
    let (status, _) = s.delete(Some(&other), &format!("/api/v1/tokens/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(Some(&token), "/api/v1/extensions").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.delete(Some(&dev), &format!("/api/v1/tokens/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get(Some(&token), "/api/v1/extensions").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token is refused: {body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("revoked"), "{body}");
    let (_, list) = s.get(Some(&dev), "/api/v1/tokens").await;
    assert!(list[0]["revoked_at"].is_string(), "{list}");

    // Bad requests name the field.
    let (status, body) = s.post(Some(&dev), "/api/v1/tokens", json!({"name": "x", "expires_in_days": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "expires_in_days");
    let (status, body) = s.post(Some(&dev), "/api/v1/tokens", json!({"name": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "name");
    let (status, body) = s.post(Some(&dev), "/api/v1/tokens", json!({"nam": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap_or_default().contains("nam"), "{body}");
}

#[tokio::test]
async fn only_administrators_manage_users_and_permissions() {
    let s = TestServer::start().await;
    let dev = s.user("dev", &[]).await;
    let (status, body) = s.get(Some(&dev), "/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap_or_default().contains("administrator"), "{body}");
    let (status, _) = s.post(Some(&dev), "/api/v1/users", json!({"name": "x", "password": "long enough"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, user) = s
        .put(
            Some(&s.admin),
            "/api/v1/users/dev/permissions",
            json!({"permissions": ["Allow Extensions", "Allow Foreign Entities"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["permissions"], json!(["Allow Extensions", "Allow Foreign Entities"]));
    // Takes effect at once for the user's existing token.
    let (_, me) = s.get(Some(&dev), "/api/v1/me").await;
    assert_eq!(me["permissions"], json!(["Allow Extensions", "Allow Foreign Entities"]));

    let (status, body) = s.put(Some(&s.admin), "/api/v1/users/dev/permissions", json!({"permissions": ["Root"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "permissions");
    assert!(body["message"].as_str().unwrap_or_default().contains("\"Root\""), "{body}");
    let (status, body) = s.post(Some(&s.admin), "/api/v1/users", json!({"name": "eve", "password": "short"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "password");
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/users", json!({"name": "bad name!", "password": "long enough"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "name");
    let (status, _) = s.post(Some(&s.admin), "/api/v1/users", json!({"name": "DEV", "password": "long enough"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "names are unique case-insensitively");
    let (status, _) = s.put(Some(&s.admin), "/api/v1/users/ghost/permissions", json!({"permissions": []})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, users) = s.get(Some(&s.admin), "/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().map(Vec::len), Some(2));
    assert!(!users.to_string().contains("argon2"), "hashes are never shown");

    // Deleting a user ends their tokens.
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/users/dev").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(Some(&dev), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/users/admin").await;
    assert_eq!(status, StatusCode::CONFLICT, "not yourself");
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.login_backoff.free_failures = 2;
    c.login_backoff.first_wait = Duration::from_secs(2);
    let s = TestServer::start_with(c, dir).await;
    for _ in 0..2 {
        let (status, _) = s.post(None, "/api/v1/login", json!({"user": "admin", "password": "guess"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits: the attempt is not checked at all.
    let resp = s
        .client
        .post(s.url("/api/v1/login"))
        .json(&json!({"user": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // Another user is not affected (the address allows more failures).
    let (status, _) = s.post(None, "/api/v1/login", json!({"user": "someone", "password": "guess"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Once the delay has passed (at most `retry` seconds), the right password logs in: poll up to 10 s.
    let started = std::time::Instant::now();
    loop {
        let (status, body) = s.post(None, "/api/v1/login", json!({"user": "admin", "password": ADMIN_PASSWORD})).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(started.elapsed() < Duration::from_secs(10), "still refused after 10 s: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
