//! The JSON these types make is the API's: each body below is written out as the server sends
//! it, read into its type and written again, unchanged (field names, optional fields left out,
//! enums' spelling).
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use xif_wire::*;

/// `json` reads as `T` and writes back as the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(json: Value) -> T {
    let typed: T = serde_json::from_value(json.clone()).expect("reads");
    assert_eq!(serde_json::to_value(&typed).expect("writes"), json);
    typed
}

#[test]
fn stage_events_and_the_summary() {
    let started: StepEvent = round_trip(json!({"step": "compile", "status": "started", "ms": 0}));
    assert_eq!((started.status, started.message), (Status::Started, None));
    for status in ["started", "finished", "failed", "skipped", "unchanged"] {
        let e: StepEvent = round_trip(json!({"step": "entities", "status": status, "ms": 3, "message": "m"}));
        assert_eq!(e.status.as_str(), status);
        assert_eq!(format!("{:<10}|", e.status), format!("{status:<10}|"));
    }
    let ok = json!({"extension": "Greetings", "version": 3, "digest": "ab", "kind": "publish", "outcome": "published",
        "url": "/api/v1/extensions/Greetings", "ms": 12, "warnings": ["W1: unused"]});
    let summary: Summary = round_trip(ok);
    assert_eq!(summary.error_message(), None);
    let failed = json!({"extension": "Greetings", "version": 4, "digest": "", "kind": "rollback", "outcome": "failed",
        "url": "/api/v1/extensions/Greetings", "ms": 0, "warnings": [],
        "error": {"error": "forbidden", "message": "missing permission \"Allow Extensions\""}});
    let summary: Summary = round_trip(failed);
    assert_eq!(summary.kind, PublishKind::Rollback);
    assert_eq!(summary.error_message().as_deref(), Some("missing permission \"Allow Extensions\""));
}

#[test]
fn the_publish_stream_is_stage_events_then_the_summary() {
    let step = r#"{"step":"validate","status":"finished","ms":5,"message":"Greetings version 1"}"#;
    let PublishEvent::Step(e) = serde_json::from_str(step).expect("a stage event") else { panic!("{step}") };
    assert_eq!(e.step, "validate");
    assert_eq!(serde_json::to_string(&PublishEvent::Step(e)).expect("writes"), step);
    let last = json!({"summary": {"extension": "G", "version": 1, "digest": "d", "kind": "publish",
        "outcome": "published", "url": "/api/v1/extensions/G", "ms": 9, "warnings": []}});
    let event: PublishEvent = round_trip(last);
    assert!(matches!(event, PublishEvent::Summary { summary } if summary.outcome == PublishOutcome::Published));
    assert!(serde_json::from_str::<PublishEvent>(r#"{"step":"x","status":"bogus","ms":0}"#).is_err());
}

#[test]
fn error_bodies_leave_out_what_they_lack() {
    let plain: ErrorBody = round_trip(json!({"error": "not_found", "message": "there is no extension named X"}));
    assert_eq!(plain, ErrorBody::new("not_found", "there is no extension named X"));
    round_trip::<ErrorBody>(json!({"error": "bad_input", "message": "m", "parameter": "Who"}));
    round_trip::<ErrorBody>(json!({"error": "trap", "message": "m", "panic": "boom", "location": "src/a.rs:1:2"}));
    let failed = json!({"error": "schema_refused", "message": "m", "steps": [{"step": "validate", "status": "failed", "ms": 1, "message": "m"}],
        "summary": {"extension": "G", "version": 2, "digest": "d", "kind": "publish", "outcome": "failed",
            "url": "/api/v1/extensions/G", "ms": 1, "warnings": [], "error": {"error": "schema_refused", "message": "m"}}});
    round_trip::<PublishFailed>(failed);
    // A publish refused before it ran (a bad query) answers the plain error body: also a PublishFailed.
    let refused: PublishFailed = round_trip(json!({"error": "bad_query", "message": "m"}));
    assert!(refused.summary.is_none() && refused.steps.is_empty());
}

#[test]
fn accounts_tokens_and_permissions() {
    let user = json!({"name": "ada", "admin": false,
        "permissions": ["Change & Deploy Applications", "Allow Extensions", "Allow Foreign Entities"],
        "created_at": "2026-05-01T10:00:00.000Z"});
    let info: UserInfo = round_trip(user.clone());
    assert_eq!(info.permissions, Permission::ALL);
    assert!(Permission::ALL.iter().all(|p| Permission::from_name(p.name()) == Some(*p)));
    round_trip::<NewToken>(
        json!({"id": 7, "name": "ci", "token": "xif_secret", "expires_at": "2026-08-01T10:00:00.000Z", "user": user}),
    );
    round_trip::<TokenInfo>(
        json!({"id": 7, "name": "ci", "user": "ada", "created_at": "c", "expires_at": "e", "revoked_at": null}),
    );
    round_trip::<Revoked>(json!({"tokens": 2, "console_sessions": 1}));
    round_trip::<CreateToken>(json!({"name": "ci", "expires_in_days": null}));
    assert!(serde_json::from_value::<LoginRequest>(json!({"user": "a", "password": "p", "extra": 1})).is_err());
}

#[test]
fn extensions_versions_and_settings() {
    round_trip::<ExtensionDetail>(json!({"name": "G", "description": "d", "active_version": 2, "latest_version": 3,
        "versions": 3, "activated_at": "t", "url": "/api/v1/extensions/G",
        "actions": [{"name": "Greet", "description": null, "inputs": [{"name": "Who", "type": "Text", "mandatory": true}], "outputs": []}],
        "serving": true}));
    round_trip::<VersionInfo>(
        json!({"version": 1, "digest": "d", "size": 10, "description": "", "toolchain": "rustc 1.95",
        "uploaded_by": "ada", "uploaded_at": "t", "active": true}),
    );
    round_trip::<Uploaded>(json!({"extension": "G", "version": 1, "digest": "d", "created": true}));
    let diff: VersionDiff = round_trip(json!({"extension": "G", "from": 1, "to": 2, "breaking": 1, "changes": [
        {"kind": "action_removed", "breaking": true, "message": "action Wave is removed",
            "caller": "calls of Wave are answered 404 not_found", "version": 1, "line": 9, "column": 10,
            "place": "extension.toml of version 1:9:10"}]}));
    assert_eq!((diff.changes[0].version, diff.changes[0].line), (1, Some(9)));
    round_trip::<VersionDiff>(json!({"extension": "G", "from": null, "to": 1, "breaking": 0, "changes": []}));
    round_trip::<SettingInfo>(
        json!({"name": "ApiKey", "type": "Text", "secret": true, "set": true, "value": null, "description": null}),
    );
    round_trip::<SettingInfo>(
        json!({"name": "K", "type": "Text", "secret": true, "set": true, "value": null, "description": null, "unavailable": "sealed with another key"}),
    );
    round_trip::<RecordPage>(
        json!({"entity": "Visit", "offset": 0, "limit": 100, "more": false, "records": [{"Id": 1}]}),
    );
}
