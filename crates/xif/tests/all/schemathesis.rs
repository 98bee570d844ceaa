//! schemathesis (scripts/setup.sh installs it in target/schemathesis) against a spawned
//! `xif serve`: every operation of the served OpenAPI document, authenticated as admin, with
//! real names to reach (Greetings published, GuestBook uploaded, user `tester`), all checks and
//! a fixed seed (scripts/schemathesis.toml). It fails on any finding: a 5xx, a status, content
//! type or body the document does not describe, a schema-violating request accepted, auth
//! ignored. 20 examples per operation here; `cargo xtask schemathesis [EXAMPLES]` runs the same
//! test longer (100 by default), through `XIF_SCHEMATHESIS_EXAMPLES`.
use std::path::PathBuf;
use std::process::Command;

use crate::remote::Server;
use crate::support::{run_ok, workspace, xif};

fn schemathesis() -> PathBuf {
    let path = std::env::var_os("XIF_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/schemathesis/bin/schemathesis"));
    assert!(
        path.is_file(),
        "schemathesis is not installed at {}\n  help: run scripts/setup.sh (it installs the version in scripts/requirements-schemathesis.txt)",
        path.display()
    );
    path
}

/// One request with a byte body; answers the status and the body.
fn request(server: &Server, method: &str, path: &str, token: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    server.request_bytes(method, path, token, content_type, body)
}

/// Uploads a test extension's package (compiled by `cargo xtask fixtures`).
fn upload(server: &Server, token: &str, name: &str, dir: &std::path::Path) {
    let package = dir.join(format!("{name}.xif"));
    run_ok(
        xif().arg("save").arg("--path").arg(workspace().join("tests/extensions").join(name)).arg("-o").arg(&package),
    );
    let bytes = std::fs::read(&package).expect("the package");
    let (status, body) = request(
        server,
        "POST",
        &format!("/api/v1/extensions/{name}/versions"),
        token,
        "application/octet-stream",
        &bytes,
    );
    assert_eq!(status, 201, "upload {name}: {body}");
}

#[test]
fn schemathesis_finds_nothing_against_the_served_document() {
    let schemathesis = schemathesis();
    let examples = std::env::var("XIF_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "20".into());
    let server = Server::start();
    let token = server.admin_token();
    let tmp = tempfile::tempdir().expect("tempdir");
    upload(&server, &token, "Greetings", tmp.path());
    upload(&server, &token, "GuestBook", tmp.path());
    let json = "application/json";
    let (status, body) = request(&server, "POST", "/api/v1/extensions/Greetings/versions/1/publish", &token, json, b"");
    assert_eq!(status, 200, "publish: {body}");
    let (status, body) = request(
        &server,
        "POST",
        "/api/v1/extensions/Greetings/actions/SignGuestBook",
        &token,
        json,
        br#"{"Who": "Ada"}"#,
    );
    assert_eq!(status, 200, "a first Visit: {body}");
    let user = br#"{"name": "tester", "password": "tester-password-1", "permissions": []}"#;
    let (status, body) = request(&server, "POST", "/api/v1/users", &token, json, user);
    assert_eq!(status, 201, "user tester: {body}");

    let scripts = workspace().join("scripts");
    let out = Command::new(&schemathesis)
        .current_dir(&scripts)
        .env("PYTHONPATH", &scripts)
        .env("NO_COLOR", "1")
        .args(["--no-color", "--config-file", "schemathesis.toml", "run"])
        .arg(format!("{}/api/v1/openapi.json", server.url))
        .args(["--url", &server.url, "-H", &format!("Authorization: Bearer {token}"), "-n", &examples])
        .arg("--report-dir")
        .arg(tmp.path().join("report"))
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems (replay one with the curl lines it prints):\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It really ran every operation it read from the document but the two left out (logout,
    // revoke_token): "Selected: A/B" with A = B - 2.
    let counts = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Selected: "))
        .and_then(|c| c.split_once('/'))
        .and_then(|(a, b)| Some((a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?)));
    let Some((selected, total)) = counts else { panic!("no `Selected: A/B` line:\n{text}") };
    assert!(total >= 25 && selected + 2 == total, "selected {selected} of {total} operations:\n{text}");
    eprintln!("{}", text.lines().skip_while(|l| !l.contains("SUMMARY")).collect::<Vec<_>>().join("\n"));
}
