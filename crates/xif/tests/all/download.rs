//! `xif download` against a real `xif serve`: the recreated folder builds, with a fresh target
//! folder, to the same package digest; a non-empty folder is refused.
use crate::remote::*;
use crate::support::{new_extension, run_code, run_ok, stderr};

#[test]
fn download_recreates_a_folder_that_saves_to_the_same_digest_with_a_fresh_target() {
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("DlOk");
    let out = run_ok(server.xif().args(["publish", "--json", "--path"]).arg(&dir));
    let published = summary(&json_lines(&out));
    let digest = published["digest"].as_str().expect("the published digest").to_string();

    // Without a terminal (stdin is null) the published version is taken.
    let target = tempfile::tempdir().expect("tempdir");
    let into = target.path().join("copy");
    let out = run_ok(server.xif().args(["download", "DlOk", "--path"]).arg(&into));
    assert!(stderr(&out).contains("version 1"), "{}", stderr(&out));
    for f in ["extension.toml", "Cargo.toml", "src/lib.rs", "src/actions/greet.rs"] {
        assert!(into.join(f).is_file(), "{f} recreated");
    }

    // A non-empty folder is refused, without --force.
    let out = run_code(server.xif().args(["download", "DlOk", "--path"]).arg(&into), 1);
    assert!(stderr(&out).contains("is not empty") && stderr(&out).contains("--force"), "{}", stderr(&out));
    run_ok(server.xif().args(["download", "DlOk", "--version", "1", "--force", "--path"]).arg(&into));

    // A fresh target folder: the wasm std and every dependency are rebuilt from scratch.
    let fresh = tempfile::tempdir().expect("tempdir");
    run_ok(server.xif().env("XIF_TARGET_DIR", fresh.path()).args(["compile", "--json", "--path"]).arg(&into));
    let out = run_ok(server.xif().env("XIF_TARGET_DIR", fresh.path()).args(["save", "--json", "--path"]).arg(&into));
    assert_eq!(crate::support::json(&out)["digest"].as_str(), Some(digest.as_str()), "the same package digest");
    // It republishes without edits: the server already has that package active.
    let out = run_ok(server.xif().env("XIF_TARGET_DIR", fresh.path()).args(["publish", "--json", "--path"]).arg(&into));
    let again = summary(&json_lines(&out));
    assert_eq!((again["outcome"].as_str(), again["unchanged"].as_bool()), (Some("published"), Some(true)), "{again}");
}

#[test]
fn download_at_a_terminal_lists_the_versions_and_the_user_picks_one() {
    use crate::login::{Tmux, sh_quote};
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("DlPick");
    run_ok(server.xif().args(["publish", "--json", "--path"]).arg(&dir));
    let greet = dir.join("src/actions/greet.rs");
    let v1 = std::fs::read_to_string(&greet).expect("greet.rs");
    std::fs::write(&greet, v1.replace("dear {name}!\")", "dearest {name}!\")")).expect("write");
    run_ok(server.xif().args(["publish", "--json", "--path"]).arg(&dir));

    let target = tempfile::tempdir().expect("tempdir");
    let into = target.path().join("picked");
    let home = server.home.path();
    let command = format!(
        "env -u NO_COLOR HOME={} XDG_CONFIG_HOME={} TERM=xterm-256color {} download DlPick --path {}; echo \"EXIT=$?\"; sleep 600",
        sh_quote(&home.display().to_string()),
        sh_quote(&home.join("config").display().to_string()),
        sh_quote(env!("CARGO_BIN_EXE_xif")),
        sh_quote(&into.display().to_string()),
    );
    let tmux = Tmux::start(&command);
    let pane = tmux.wait_for("Version to download [2]", 30);
    assert!(pane.contains("Versions of DlPick (* = published)"), "{pane}");
    assert!(pane.lines().any(|l| l.trim_start().starts_with("* ") && l.contains(" 2 ")), "a mark on 2:\n{pane}");
    assert!(pane.lines().any(|l| l.trim_start().starts_with("1 ") && l.contains("admin")), "1 listed:\n{pane}");
    tmux.send("1");
    let pane = tmux.wait_for("EXIT=", 60);
    assert!(pane.contains("EXIT=0") && pane.contains("Downloaded DlPick version 1"), "{pane}");
    assert_eq!(std::fs::read_to_string(into.join("src/actions/greet.rs")).expect("greet.rs"), v1, "version 1's code");
}
