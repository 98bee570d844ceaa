//! `xif settings EXTENSION [list | set NAME [VALUE] | unset NAME]` against a real `xif serve`:
//! values reach the extension's code, a secret is never taken on the command line nor shown,
//! bad values and names are refused with the server's words.
use std::io::Write as _;
use std::process::Stdio;

use crate::remote::*;
use crate::support::{copy_extension, run_code, run_ok, stderr, workspace};

/// `GetSetting` of ServerTest: (found, value).
fn read_setting(server: &Server, token: &str, name: &str) -> (bool, String) {
    let (status, v) = server.api(
        "POST",
        "/api/v1/extensions/ServerTest/actions/GetSetting",
        Some(token),
        &format!(r#"{{"Name": "{name}"}}"#),
    );
    assert_eq!(status, 200, "{v}");
    (v["Found"].as_bool().unwrap_or(false), v["Value"].as_str().unwrap_or_default().to_string())
}

fn listed(server: &Server) -> Vec<serde_json::Value> {
    let out = run_ok(server.xif().args(["settings", "ServerTest", "--json"]));
    crate::support::json(&out)["settings"].as_array().cloned().unwrap_or_default()
}

fn setting<'a>(list: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    list.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no {name} in {list:?}"))
}

#[test]
fn settings_are_listed_set_and_unset_and_a_secret_is_read_from_stdin_only() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ServerTest");
    copy_extension(&workspace().join("tests/extensions/ServerTest"), &dir);
    run_ok(server.xif().args(["publish", "--path"]).arg(&dir));
    let admin = server.admin_token();

    // Listed: nothing set yet; the default answers.
    let list = listed(&server);
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(setting(&list, "ApiKey")["secret"], true);
    assert!(list.iter().all(|s| s["set"] == false), "{list:?}");
    assert_eq!(read_setting(&server, &admin, "Greeting"), (true, "Hello".into()));

    // Set: the extension reads the new value at once.
    let out = run_ok(server.xif().args(["settings", "ServerTest", "set", "Greeting", "Bonjour"]));
    assert!(stderr(&out).contains("Set Greeting of ServerTest to Bonjour"), "{}", stderr(&out));
    assert_eq!(read_setting(&server, &admin, "Greeting"), (true, "Bonjour".into()));
    run_ok(server.xif().args(["settings", "ServerTest", "set", "Retries", "5"]));
    assert_eq!(read_setting(&server, &admin, "Retries"), (true, "5".into()));

    // A value of the wrong type and an unknown name are refused, naming them.
    let out = run_code(server.xif().args(["settings", "ServerTest", "set", "Retries", "many"]), 1);
    assert!(stderr(&out).contains("bad value for setting Retries"), "{}", stderr(&out));
    let out = run_code(server.xif().args(["settings", "ServerTest", "set", "Nope", "x"]), 1);
    assert!(
        stderr(&out).contains("has no setting Nope; its settings are Greeting, Retries, ApiKey"),
        "{}",
        stderr(&out)
    );

    // A secret on the command line is refused before anything is sent.
    let out = run_code(server.xif().args(["settings", "ServerTest", "set", "ApiKey", "sk-on-the-command-line"]), 2);
    assert!(stderr(&out).contains("ApiKey is a secret") && stderr(&out).contains("pipe it"), "{}", stderr(&out));
    assert_eq!(setting(&listed(&server), "ApiKey")["set"], false);

    // From stdin it is set, never echoed or listed.
    let mut child = server
        .xif()
        .args(["settings", "ServerTest", "set", "ApiKey"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "sk-from-stdin-42").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("sk-from-stdin-42") && text.contains("never shown"), "{text}");
    assert_eq!(read_setting(&server, &admin, "ApiKey"), (true, "sk-from-stdin-42".into()));
    let list = listed(&server);
    assert_eq!(
        (&setting(&list, "ApiKey")["set"], &setting(&list, "ApiKey")["value"]),
        (&true.into(), &serde_json::Value::Null)
    );
    let out = run_ok(server.xif().args(["settings", "ServerTest"]));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("(secret, set)") && table.contains("Bonjour") && !table.contains("sk-from"), "{table}");

    // Unset: the default again.
    let out = run_ok(server.xif().args(["settings", "ServerTest", "unset", "Greeting"]));
    assert!(stderr(&out).contains("reads as its default again"), "{}", stderr(&out));
    assert_eq!(read_setting(&server, &admin, "Greeting"), (true, "Hello".into()));
    assert_eq!(setting(&listed(&server), "Greeting")["set"], false);

    // Only administrators set settings: the server's refusal is shown.
    let body = r#"{"name": "dev", "password": "dev-password", "permissions": ["Allow Extensions"]}"#;
    let (status, v) = server.api("POST", "/api/v1/users", Some(&admin), body);
    assert_eq!(status, 201, "{v}");
    assert!(server.login("dev", "dev-password").status.success());
    let out = run_code(server.xif().args(["settings", "ServerTest", "set", "Greeting", "Hi"]), 1);
    assert!(stderr(&out).to_lowercase().contains("administrator"), "{}", stderr(&out));
    assert_eq!(read_setting(&server, &admin, "Greeting"), (true, "Hello".into()));
}
