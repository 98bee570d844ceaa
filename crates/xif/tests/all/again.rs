//! Verify Again at a real terminal (tmux): `xif publish` stops at Verify, the user fixes the
//! definition and presses Enter (or, with `--watch`, just saves), the same run publishes.
use crate::login::{Tmux, sh_quote};
use crate::remote::*;
use crate::support::{new_extension, stderr, workspace};

fn publish_in_tmux(server: &Server, dir: &std::path::Path, flags: &str) -> Tmux {
    let home = server.home.path();
    Tmux::start(&format!(
        "cd {} && env -u NO_COLOR HOME={} XDG_CONFIG_HOME={} XIF_TARGET_DIR={} TERM=xterm-256color {} publish {flags}; echo \"EXIT=$?\"; sleep 600",
        sh_quote(&dir.display().to_string()),
        sh_quote(&home.display().to_string()),
        sh_quote(&home.join("config").display().to_string()),
        sh_quote(&workspace().join("target/xif-ext").display().to_string()),
        sh_quote(env!("CARGO_BIN_EXE_xif")),
    ))
}

fn break_definition(dir: &std::path::Path) -> String {
    let path = dir.join("extension.toml");
    let good = std::fs::read_to_string(&path).expect("extension.toml");
    std::fs::write(&path, format!("{good}\n[[actions]]\nname = \"\"\n")).expect("write");
    good
}

#[test]
fn publish_at_a_terminal_stops_at_verify_and_verifies_again_after_enter() {
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("AgainEnter");
    let good = break_definition(&dir);
    let tmux = publish_in_tmux(&server, &dir, "");
    let pane = tmux.wait_for("press Enter to verify again", 60);
    assert!(pane.contains("Verify failed"), "{pane}");
    assert!(!pane.contains("EXIT="), "the run waits:\n{pane}");
    std::fs::write(dir.join("extension.toml"), &good).expect("fix");
    tmux.send("");
    let pane = tmux.wait_for("EXIT=", 300);
    assert!(pane.contains("EXIT=0") && pane.contains("Published AgainEnter version 1"), "{pane}");
}

#[test]
fn publish_watch_verifies_again_when_the_files_change() {
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("AgainWatch");
    let good = break_definition(&dir);
    let tmux = publish_in_tmux(&server, &dir, "--watch");
    let pane = tmux.wait_for("for changes", 60);
    assert!(pane.contains("Verify failed"), "{pane}");
    std::fs::write(dir.join("extension.toml"), &good).expect("fix");
    let pane = tmux.wait_for("EXIT=", 300);
    assert!(pane.contains("EXIT=0") && pane.contains("Published AgainWatch version 1"), "{pane}");
}
