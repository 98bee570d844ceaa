//! `xif login` / `servers` / `logout` / `token`, XIF_SERVER + XIF_TOKEN, and the 1-Click Publish
//! at a real terminal (tmux): no server configured, the prompts answered with send-keys.
use std::process::Command;
use std::time::{Duration, Instant};

use crate::remote::*;
use crate::support::{new_extension, run_code, run_ok, stderr, workspace};

#[test]
fn login_keeps_the_token_in_a_file_only_the_user_reads_and_servers_manage_it() {
    let server = Server::start();
    let out = server.login("admin", "wrong-password");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wrong user name or password"), "{}", stderr(&out));
    let out = server.login("admin", ADMIN_PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = server.config_file();
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("the servers file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let list = crate::support::json(&run_ok(server.xif().args(["servers", "list", "--json"])));
    assert_eq!(list["servers"][0]["url"], server.url.as_str());
    assert_eq!(list["servers"][0]["current"], true);
    assert_eq!(list["servers"][0]["logged_in"], true);

    // A token for CI; with XIF_SERVER and XIF_TOKEN a fresh home needs no login.
    let out = run_ok(server.xif().args(["token", "create", "ci", "--days", "1"]));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.len() > 20, "{token}");
    let ci = tempfile::tempdir().unwrap();
    let out = run_ok(
        server
            .xif()
            .args(["token", "list", "--json"])
            .env("HOME", ci.path())
            .env("XDG_CONFIG_HOME", ci.path())
            .env("XIF_SERVER", &server.url)
            .env("XIF_TOKEN", &token),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ci\""), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!ci.path().join("xif/servers.json").exists(), "the environment writes no config");

    // add / use / remove.
    run_ok(server.xif().args(["servers", "add", "http://127.0.0.1:1", "--name", "other"]));
    run_ok(server.xif().args(["servers", "use", "other"]));
    let list = crate::support::json(&run_ok(server.xif().args(["servers", "list", "--json"])));
    assert_eq!(list["servers"][1]["current"], true);
    run_ok(server.xif().args(["servers", "remove", "other"]));
    let out = run_code(server.xif().args(["servers", "use", "other"]), 1);
    assert!(stderr(&out).contains("no server named \"other\""), "{}", stderr(&out));

    // Logout forgets the token and ends the session on the server.
    run_ok(server.xif().args(["servers", "use", &server.url]));
    run_ok(server.xif().arg("logout"));
    assert!(!std::fs::read_to_string(&file).unwrap().contains("token"), "the token is gone");
    let out = run_code(server.xif().args(["versions", "Anything"]), 1);
    assert!(stderr(&out).contains("not logged in"), "{}", stderr(&out));
}

/// A tmux server of its own (its own socket), killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(command: &str) -> Tmux {
        let socket = format!("xif-test-{}-{}", std::process::id(), rand_suffix());
        let ok = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-x", "110", "-y", "40", command])
            .status()
            .expect("tmux runs (scripts/setup.sh installs it)");
        assert!(ok.success(), "tmux new-session");
        Tmux { socket }
    }

    pub fn pane(&self) -> String {
        let out =
            Command::new("tmux").args(["-L", &self.socket, "capture-pane", "-p", "-J"]).output().expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane with its colours as escape sequences.
    pub fn pane_with_colours(&self) -> String {
        let out =
            Command::new("tmux").args(["-L", &self.socket, "capture-pane", "-p", "-e"]).output().expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn send(&self, keys: &str) {
        let ok = Command::new("tmux").args(["-L", &self.socket, "send-keys", "-l", keys]).status().expect("send-keys");
        assert!(ok.success());
        let ok = Command::new("tmux").args(["-L", &self.socket, "send-keys", "Enter"]).status().expect("send-keys");
        assert!(ok.success());
    }

    /// Waits until the pane shows `text`; panics with the pane after `secs`.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            assert!(Instant::now() < deadline, "the pane never showed {text:?}:\n{pane}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn publish_at_a_terminal_with_no_server_asks_for_one_logs_in_and_publishes() {
    let server = Server::start();
    let (_tmp, dir) = new_extension("PubTmux");
    let home = server.home.path();
    let command = |env: &str| {
        format!(
            "cd {} && env -u NO_COLOR {env} HOME={} XDG_CONFIG_HOME={} XIF_TARGET_DIR={} TERM=xterm-256color {} publish; echo \"EXIT=$?\"; sleep 600",
            sh_quote(&dir.display().to_string()),
            sh_quote(&home.display().to_string()),
            sh_quote(&home.join("config").display().to_string()),
            sh_quote(&workspace().join("target/xif-ext").display().to_string()),
            sh_quote(env!("CARGO_BIN_EXE_xif")),
        )
    };
    let tmux = Tmux::start(&command(""));
    tmux.wait_for("Server address", 20);
    tmux.send(&server.url);
    tmux.wait_for("User:", 10);
    tmux.send("admin");
    tmux.wait_for("Password for admin", 10);
    tmux.send(ADMIN_PASSWORD);
    let pane = tmux.wait_for("EXIT=", 300);
    assert!(pane.contains("EXIT=0"), "{pane}");
    assert!(!pane.contains(ADMIN_PASSWORD), "the password is not echoed:\n{pane}");
    for step in ["Verify", "Update Source Code", "Compile", "Save", "Upload", "Publish", "activate"] {
        assert!(pane.contains(step), "{step} missing:\n{pane}");
    }
    assert!(pane.contains("Published PubTmux version 1"), "{pane}");
    assert!(pane.contains(&format!("{}/extensions/PubTmux", server.url)), "{pane}");
    let coloured = tmux.pane_with_colours();
    assert!(coloured.contains("\x1b[32m"), "colours on a terminal: {coloured:?}");
    drop(tmux);
    // The login was saved: the next command needs no questions.
    let out = run_ok(server.xif().args(["versions", "PubTmux", "--json"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"active\":true"));
    // NO_COLOR: the same window (unchanged now), no colours.
    let tmux = Tmux::start(&command("NO_COLOR=1"));
    let pane = tmux.wait_for("EXIT=", 60);
    assert!(pane.contains("EXIT=0") && pane.contains("unchanged"), "{pane}");
    let coloured = tmux.pane_with_colours();
    assert!(!coloured.contains("\x1b[3"), "NO_COLOR: no colours: {coloured:?}");
}
