//! The OpenAPI document lists every route the router serves, and nothing else.
use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::support::TestServer;

#[tokio::test]
async fn the_document_lists_every_route_served() {
    let s = TestServer::start().await;
    let (status, doc) = s.get(None, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap_or_default().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = xif_server::served_routes().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in openapi.json: {undocumented:?}");
    assert!(unserved.is_empty(), "in openapi.json but not served: {unserved:?}");
    assert!(served.len() >= 25, "{served:?}");

    // And the router really answers each documented route (no 404 "no route", no 405).
    for (method, path) in &documented {
        let url = s.url(
            &path
                .replace("{name}", "Nope")
                .replace("{version}", "1")
                .replace("{action}", "A")
                .replace("{id}", "1")
                .replace("{user}", "ghost"),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = s.client.request(method.clone(), &url).send().await.expect("send");
        assert_ne!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let body = resp.text().await.unwrap_or_default();
        assert!(!body.contains("no route for"), "{method} {path}: {body}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "bearer auth is described");
}
