//! The operations called directly, without HTTP: a real server's state (real SQLite file, real
//! package files, the real sandbox), no request, no router.
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::account::{self, LoginRefused};
use super::{Error, Principal, actions, extensions};
use crate::auth::TokenKind;
use crate::publish::{Gradual, Kind, Options};
use crate::{Config, RunningServer};

const PASSWORD: &str = "admin-password-for-ops-tests";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn server(dir: &Path) -> RunningServer {
    let mut c = Config::new(dir);
    c.listen = "127.0.0.1:0".parse().expect("address");
    c.admin_password = Some(PASSWORD.into());
    c.insecure_fast_password_hashing = true;
    c.limits.call_time = Duration::from_secs(5);
    c.limits.call_memory = 64 << 20;
    c.limits.max_instances = 8;
    crate::start(c).await.expect("the server starts")
}

/// The administrator, as a console session would hold them.
async fn admin(server: &RunningServer) -> Arc<Principal> {
    let row = server.state.db.user("admin").await.expect("db").expect("admin exists");
    Arc::new(account::principal(&server.state, row.id, row.name, true, 0, TokenKind::Session).await.expect("principal"))
}

/// The ServerTest package, built from the test extension (`cargo xtask fixtures`).
fn server_test_package() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/extensions/ServerTest");
    let component = std::fs::read(dir.join(".xif/build/component.wasm"))
        .expect("the ServerTest component: build the test extensions first, `cargo xtask fixtures`");
    let definition = std::fs::read_to_string(dir.join("extension.toml")).expect("extension.toml");
    let def = xif_model::parse(&definition).0.expect("the definition parses");
    let description = def.description.map(|d| d.value).unwrap_or_default();
    let resources = vec![("resources/version.txt".to_string(), b"ops\n".to_vec())];
    xif_package::write(&xif_package::PackageInput {
        extension: "ServerTest",
        description: &description,
        toolchain: "rustc (tests)",
        definition: definition.as_bytes(),
        component: &component,
        sources: &[("Cargo.toml".to_string(), b"[package]\nname = \"server-test\"\n".to_vec())],
        resources: &resources,
        stubs: &[],
    })
    .expect("the package writes")
    .bytes
}

fn body(bytes: Vec<u8>) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::convert::Infallible>> {
    futures_util::stream::once(std::future::ready(Ok(bytes)))
}

#[tokio::test]
async fn login_checks_the_password_and_issues_a_token_that_authenticates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path()).await;
    let state = &server.state;

    let wrong = account::login(state, "admin", "not the password".into(), IP).await.expect_err("refused");
    assert!(matches!(&wrong, Error::Unauthenticated(m) if m == "wrong user name or password"), "{wrong:?}");
    #[allow(clippy::err_expect)] // a new session is not Debug: it holds a token
    let refused = account::console_login(state, "nobody", PASSWORD.into(), IP).await.err().expect("refused");
    assert!(matches!(refused, LoginRefused::Wrong), "{refused:?}");

    let token = account::login(state, "admin", PASSWORD.into(), IP).await.expect("logged in");
    assert_eq!(token.user.name, "admin");
    assert!(token.name.starts_with("login from 127.0.0.1"), "{}", token.name);
    let who = account::bearer(state, &token.token).await.expect("the token authenticates");
    assert!(who.admin && who.token_id == token.id, "{who:?}");

    // Logging out revokes it at once (the cache of principals is cleared).
    account::logout(state, &who).await.expect("logged out");
    let e = account::bearer(state, &token.token).await.expect_err("revoked");
    assert!(matches!(e, Error::Unauthenticated(_)), "{e:?}");

    // A console login makes a session that reads back as the same user.
    let session = account::console_login(state, "admin", PASSWORD.into(), IP).await.expect("console login");
    let read = account::console_session(state, &session.token).await.expect("db").expect("a session");
    assert_eq!(read.who.name, "admin");
    assert!(!read.csrf.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn upload_then_publish_then_call_through_the_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path()).await;
    let state = &server.state;
    let who = admin(&server).await;
    let package = server_test_package();

    // A package named otherwise than the extension asked for is refused, and nothing is kept.
    let e = extensions::upload(state, &who, Some("Other"), 0, body(package.clone())).await.expect_err("refused");
    assert!(matches!(&e, Error::BadInput { kind: "bad_package", .. }), "{e:?}");
    assert!(extensions::list_extensions(state, &who).await.expect("list").is_empty());

    let up = extensions::upload(state, &who, None, 0, body(package.clone())).await.expect("uploaded");
    assert_eq!((up.extension.as_str(), up.version, up.created), ("ServerTest", 1, true));
    let again = extensions::upload(state, &who, Some("ServerTest"), 0, body(package)).await.expect("uploaded");
    assert_eq!((again.version, again.created), (1, false), "the same digest answers the same version");

    let task = extensions::publish(state, who.clone(), "ServerTest".into(), 1, Kind::Publish, Options::default(), None)
        .await
        .expect("authorized");
    let outcome = task.await.expect("the publish task");
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.summary.version, 1);
    let versions = extensions::list_versions(state, &who, "ServerTest").await.expect("versions");
    assert!(versions[0].active, "version 1 is active");

    let input = serde_json::to_vec(&serde_json::json!({"Who": "Ada"})).expect("json");
    let (called, version) =
        actions::call(state, &who, &actions::CallId("test", true), "ServerTest", "Hello", None, body(input)).await;
    let called = called.expect("called");
    assert_eq!(version, Some(1));
    assert!(called.outputs["Message"].as_str().is_some_and(|m| m.contains("Ada")), "{}", called.outputs);

    // Only a publish rolls out gradually: a rollback asked to is refused, and nothing changes.
    let gradual =
        Options { gradual: Some(Gradual { percent: 10, per_caller: false, guard: true }), ..Options::default() };
    let task = extensions::publish(state, who.clone(), "ServerTest".into(), 1, Kind::Rollback, gradual, None)
        .await
        .expect("authorized");
    let outcome = task.await.expect("the publish task");
    let e = outcome.error.expect("refused");
    assert!(e.public_message().contains("only a publish rolls out gradually"), "{}", e.public_message());
    let ext = state.db.extension("ServerTest").await.expect("db").expect("there");
    assert!(ext.rollout().is_none() && ext.active_version == Some(1));

    // The active version cannot be deleted; the file stays while a version has it.
    let e = extensions::delete_version(state, &who, "ServerTest", 1).await.expect_err("refused");
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_failed_call_is_recorded_by_the_call_operation_and_an_impossible_name_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path()).await;
    let state = &server.state;
    let who = admin(&server).await;
    extensions::upload(state, &who, None, 0, body(server_test_package())).await.expect("uploaded");
    let task = extensions::publish(state, who.clone(), "ServerTest".into(), 1, Kind::Publish, Options::default(), None)
        .await
        .expect("authorized");
    assert!(task.await.expect("task").error.is_none());

    let input = serde_json::to_vec(&serde_json::json!({"Message": "no luck"})).expect("json");
    let e = actions::call(state, &who, &actions::CallId("test", true), "ServerTest", "Fail", None, body(input))
        .await
        .0
        .err()
        .expect("it fails");
    assert!(matches!(e, Error::Call(xif_runtime::CallError::ActionFailed { .. })), "{e:?}");
    let e = actions::call(state, &who, &actions::CallId("test", true), "ServerTest", "Nope", None, body(Vec::new()))
        .await
        .0
        .err()
        .expect("unknown");
    assert!(matches!(e, Error::Call(xif_runtime::CallError::UnknownAction { .. })), "{e:?}");
    // A name longer than any legal name is refused before anything, and not recorded.
    let long = "X".repeat(80);
    let e = actions::call(state, &who, &actions::CallId("test", true), "ServerTest", &long, None, body(Vec::new()))
        .await
        .0
        .err()
        .expect("too long");
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");

    let recorded = state.db.console_action_errors(10).await.expect("the log");
    let kinds: Vec<(&str, &str)> = recorded.iter().map(|r| (r.action.as_str(), r.kind.as_str())).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&("Fail", "action_failed")), "{kinds:?}");
    assert!(kinds.contains(&("Nope", "unknown_action")), "{kinds:?}");
    let fail = recorded.iter().find(|r| r.action == "Fail").expect("the Fail record");
    assert!(fail.message.contains("no luck") && fail.user_name == "admin" && fail.version == 1, "{}", fail.message);
    server.shutdown().await;
}
