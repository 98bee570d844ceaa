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
}
