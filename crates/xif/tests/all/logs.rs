//! `xif logs` against a real `xif serve`: a page of an extension's log, following it as calls
//! are made, and a refusal for a user who may not publish the extension.
use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::remote::*;
use crate::support::{new_extension, run_code, run_ok, stderr};

/// Every line `read` gives, sent on as it comes (ends with the stream).
fn lines_of(read: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to 10 s for a line that holds `needle`; answers it.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?} within 10 s; saw {seen:#?}"),
        }
    }
}

#[test]
fn logs_prints_a_page_and_follows_new_calls_with_their_call_id() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("Greetings");
    run_ok(server.xif().args(["publish", "--path"]).arg(&dir));
    let token = server.admin_token();

    let (status, first) = server.call_with_id("Greetings", "Greet", &token, r#"{"Who": {"Name": "Ada"}}"#);
    assert_eq!(status, 200);
    // A page: the newest lines, `at level vN action [call ID] message`.
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let out = run_ok(server.xif().args(["logs", "Greetings"]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(&first) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let line = page.lines().find(|l| l.contains(&first)).unwrap_or_else(|| panic!("the call's line: {page}"));
    assert!(line.ends_with(&format!("info  v1 Greet [call {first}] greeted Ada")), "{line}");
    assert!(line.starts_with("20") && line.contains('T') && line.contains('Z'), "an RFC 3339 time first: {line}");
    let out = run_ok(server.xif().args(["logs", "Greetings", "--level", "warn"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&first), "info lines are below warn");

    // Following: lines of calls made after it started, as they are written.
    let mut child = server
        .xif()
        .args(["logs", "Greetings", "--follow", "--lines", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xif logs --follow");
    let out = lines_of(child.stdout.take().expect("stdout"));
    let err = lines_of(child.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    let following = wait_for(&err, "Following", &mut seen);
    assert!(following.contains("the log of Greetings"), "{following}");
    let (status, later) = server.call_with_id("Greetings", "Greet", &token, r#"{"Who": {"Name": "Bo"}}"#);
    assert_eq!(status, 200);
    let line = wait_for(&out, &later, &mut seen);
    assert!(line.ends_with("greeted Bo"), "{line}");
    assert!(!seen.iter().any(|l| l.contains(&first)), "--lines 0: nothing from before: {seen:?}");
    let (_, again) = server.call_with_id("Greetings", "Greet", &token, r#"{"Who": {"Name": "Cy"}}"#);
    wait_for(&out, &again, &mut seen);
    let _ = child.kill();
    let _ = child.wait();

    // A user who may not publish Greetings may not read its log.
    let (status, body) = server.api(
        "POST",
        "/api/v1/users",
        Some(&token),
        r#"{"name": "caller", "password": "caller-password", "permissions": []}"#,
    );
    assert_eq!(status, 201, "{body}");
    assert!(server.login("caller", "caller-password").status.success());
    for follow in [false, true] {
        let mut cmd = server.xif();
        cmd.args(["logs", "Greetings"]);
        if follow {
            cmd.arg("--follow");
        }
        let out = run_code(&mut cmd, 1);
        let text = stderr(&out);
        assert!(text.contains("reading the log of extension Greetings needs"), "{text}");
        assert!(out.stdout.is_empty());
    }
}
