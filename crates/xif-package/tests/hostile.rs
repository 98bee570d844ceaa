//! Hostile packages (issue 12): zip bombs, files planted in the source snapshot (`.git`,
//! `.cargo`, other dot-folders and the names Windows and macOS take for them), and manifest
//! fields that are unbounded or do not belong. Each test names what it guards; the table of the
//! whole corpus is in docs/RELIABILITY.md, `## Packages`.

mod common;

use std::io::{Cursor, Write as _};

use common::*;
use xif_package::{Limits, ReadError, inspect, read, read_from};
use zip::ZipWriter;

/// A package whose manifest is right (sizes, SHA-256) and whose resources are `count` entries of
/// `size` zero bytes each: a zip bomb that only the compression ratio gives away. The deflated
/// entry is made once and copied.
fn bomb(count: usize, size: usize) -> Vec<u8> {
    let zeros = vec![0u8; size];
    let mut entries = valid_entries();
    for i in 0..count {
        entries.push((format!("resources/bomb{i}.bin"), Vec::new()));
    }
    // The manifest, with the true size and digest of each zero entry.
    let mut manifest = manifest_for(&entries);
    let sha = xif_package::sha256_hex(&zeros);
    for e in manifest.entries.iter_mut().filter(|e| e.path.contains("bomb")) {
        e.size = size as u64;
        e.sha256 = sha.clone();
    }
    // One deflated entry of zeros, copied under every bomb name.
    let mut one = ZipWriter::new(Cursor::new(Vec::new()));
    one.start_file("x", options()).expect("start");
    one.write_all(&zeros).expect("write");
    let one = one.finish().expect("finish").into_inner();
    let mut source = zip::ZipArchive::new(Cursor::new(one)).expect("reads");

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options()).expect("start");
    zip.write_all(&manifest_json(&manifest)).expect("write");
    for (name, data) in valid_entries() {
        zip.start_file(name.as_str(), options()).expect("start");
        zip.write_all(&data).expect("write");
    }
    for i in 0..count {
        let file = source.by_index(0).expect("entry");
        zip.raw_copy_file_rename(file, format!("resources/bomb{i}.bin")).expect("copy");
    }
    zip.finish().expect("finish").into_inner()
}

/// Guards: a zip bomb whose headers tell the truth — four 40 MiB entries of zeros in a package
/// of ~160 KB, each under the entry limit and together under the total limit — is refused by
/// the compression ratio from its declared sizes, before anything is inflated. Before the ratio
/// limit, the reader inflated all 160 MiB (and the server held them) before any check failed.
#[test]
fn zip_bomb_with_true_headers_is_refused_by_ratio() {
    let bytes = bomb(4, 40 << 20);
    assert!(bytes.len() < 400_000, "a small package: {} bytes", bytes.len());
    let limits = Limits { max_total_bytes: 200 << 20, ..Limits::default() };
    match read(&bytes, &limits) {
        Err(ReadError::RatioTooHigh { entry, package, ratio }) => {
            assert_eq!(entry, "resources/bomb0.bin", "the first entry past the budget is named");
            assert_eq!((package, ratio), (bytes.len() as u64, 100));
        }
        other => panic!("expected RatioTooHigh, got {other:?}"),
    }
    // inspect refuses it the same way, and so does the reader of a file.
    assert!(matches!(inspect(&bytes, &limits), Err(ReadError::RatioTooHigh { .. })));
    let mut file = tempfile::tempfile().expect("tempfile");
    file.write_all(&bytes).expect("write");
    assert!(matches!(read_from(&mut file, &limits), Err(ReadError::RatioTooHigh { .. })));
    let message = read(&bytes, &limits).expect_err("refused").to_string();
    assert!(message.contains("zip bomb") && message.contains("resources/bomb0.bin"), "{message}");
}

/// Guards: the default limits hold a package's uncompressed total to 100 MiB (it was 200 MiB),
/// so a bomb that stays under the ratio still costs at most that.
#[test]
fn default_limits_are_tight() {
    let limits = Limits::default();
    assert_eq!(limits.max_total_bytes, 100 << 20);
    assert_eq!(limits.max_entry_bytes, 50 << 20);
    assert_eq!(limits.max_ratio, 100);
    // Many small, very compressible entries are within the ratio's allowance.
    read(&bomb(8, 64 << 10), &limits).expect("512 KiB of zeros in a small package reads");
}

/// Guards: a bomb that lies in its headers (declares few bytes, inflates to many) costs no more
/// than its declared size: inflating stops there, and the ratio applies to the bytes actually
/// read, too.
#[test]
fn zip_bomb_with_lying_headers_stops_at_the_ratio() {
    let mut bytes = bomb(1, 4 << 20);
    let declared = (4u32 << 20).to_le_bytes();
    let lie = 1_000u32.to_le_bytes();
    patch(&mut bytes, &declared, &lie);
    let e = read(&bytes, &Limits::default()).expect_err("refused");
    assert!(
        matches!(&e, ReadError::CorruptEntry { entry, .. } | ReadError::RatioTooHigh { entry, .. } if entry == "resources/bomb0.bin"),
        "{e:?}"
    );
}

/// Guards: the file reader and the bytes reader agree on a valid package (the server reads
/// uploads from their scratch file).
#[test]
fn file_reader_reads_what_the_bytes_reader_reads() {
    let bytes = valid_package();
    let mut file = tempfile::tempfile().expect("tempfile");
    file.write_all(&bytes).expect("write");
    assert_eq!(
        read_from(std::io::BufReader::new(file), &Limits::default()).expect("reads"),
        read(&bytes, &Limits::default()).expect("reads")
    );
}

/// A valid package (the manifest lists it truly) with one more source entry at `path` under
/// `source/`.
fn with_source(path: &str, data: &[u8]) -> Vec<u8> {
    let mut entries = valid_entries();
    entries.push((format!("source/{path}"), data.to_vec()));
    package_of(&entries)
}

const FSMONITOR: &[u8] = b"[core]\n\tfsmonitor = \"touch /tmp/xif-pwned\"\n";

fn planted(bytes: &[u8]) -> (String, String) {
    match read(bytes, &Limits::default()) {
        Err(ReadError::PlantedPath { entry, component, .. }) => {
            // inspect (`xif inspect`) refuses it too.
            assert!(matches!(inspect(bytes, &Limits::default()), Err(ReadError::PlantedPath { .. })));
            (entry, component)
        }
        other => panic!("expected PlantedPath, got {other:?}"),
    }
}

/// Guards: a source snapshot holding `.git/config` with `core.fsmonitor` (which the next
/// `git status` in the downloaded folder would run) is refused, naming the entry. It passed
/// before.
#[test]
fn git_config_in_the_source_snapshot_is_refused() {
    let (entry, component) = planted(&with_source(".git/config", FSMONITOR));
    assert_eq!((entry.as_str(), component.as_str()), ("source/.git/config", ".git"));
    let message = read(&with_source(".git/config", FSMONITOR), &Limits::default()).expect_err("refused").to_string();
    assert!(message.contains("source/.git/config") && message.contains(".git"), "{message}");
    // Deeper, too.
    assert_eq!(planted(&with_source("src/.git/hooks/post-checkout", b"#!/bin/sh\n")).1, ".git");
}

/// Guards: the other tool folders and files that run code or change a build (`.cargo` with a
/// `rustc-wrapper`, `.hg`, `.svn`, `.vscode` tasks, `.idea`, `.direnv`, `.envrc`, any other
/// dot-name) are refused.
#[test]
fn dot_folders_and_files_are_refused() {
    for (path, component) in [
        (".cargo/config.toml", ".cargo"),
        (".hg/hgrc", ".hg"),
        (".svn/entries", ".svn"),
        (".vscode/tasks.json", ".vscode"),
        (".idea/workspace.xml", ".idea"),
        (".direnv/bin/cargo", ".direnv"),
        (".envrc", ".envrc"),
        ("src/.env", ".env"),
        (".gitattributes", ".gitattributes"),
        (".gitmodules", ".gitmodules"),
    ] {
        let (entry, found) = planted(&with_source(path, b"x"));
        assert_eq!((entry, found.as_str()), (format!("source/{path}"), component), "{path}");
    }
}

/// Guards: names that Windows or macOS treat as `.git` — another case, a trailing dot or
/// space, a code point HFS+ ignores, the 8.3 short name `GIT~1` — are refused too.
#[test]
fn names_that_stand_for_git_are_refused() {
    for (path, component) in [
        (".GIT/config", ".GIT"),
        (".Git/config", ".Git"),
        (".git./config", ".git."),
        (".git /config", ".git "),
        (".git . ./config", ".git . ."),
        ("\u{200c}.git/config", "\u{200c}.git"),
        (".g\u{200d}it/config", ".g\u{200d}it"),
        ("GIT~1/config", "GIT~1"),
        ("src/CARGO~2/config", "CARGO~2"),
    ] {
        let (entry, found) = planted(&with_source(path, FSMONITOR));
        assert_eq!((entry, found.as_str()), (format!("source/{path}"), component), "{path:?}");
    }
}

/// Guards: a resource (which `xif download` writes into the folder at its path) cannot plant
/// a dot-folder either.
#[test]
fn planted_resource_is_refused() {
    let mut entries = valid_entries();
    entries.push(("resources/.cargo/config.toml".to_string(), b"[build]\nrustc-wrapper = \"/tmp/x\"\n".to_vec()));
    let (entry, component) = planted(&package_of(&entries));
    assert_eq!((entry.as_str(), component.as_str()), ("resources/.cargo/config.toml", ".cargo"));
}

/// Guards: a planted path listed only in the manifest (not in the archive) is refused by the
/// manifest check, naming it.
#[test]
fn planted_path_only_in_the_manifest_is_refused() {
    let mut listed = valid_entries();
    listed.push(("source/.git/config".to_string(), FSMONITOR.to_vec()));
    let bytes = package_with_manifest(&manifest_for(&listed), &valid_entries());
    assert_eq!(planted(&bytes).0, "source/.git/config");
}

/// Guards: `.gitignore` (harmless) is allowed, and ordinary names with dots or tildes are not
/// mistaken for planted ones.
#[test]
fn allowed_names_read() {
    for path in ["src/.gitignore", ".gitignore", "src/v1.2/x.rs", "src/a~b.rs", "src/backup~/x.rs"] {
        read(&with_source(path, b"x"), &Limits::default()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// Guards: the writer (`xif save`) refuses to pack what the reader would refuse.
#[test]
fn writer_refuses_planted_paths() {
    let mut inputs = Inputs::sample();
    inputs.sources.push((".git/config".to_string(), FSMONITOR.to_vec()));
    let e = xif_package::write(&inputs.input()).expect_err("refused");
    assert!(matches!(e, xif_package::WriteError::InvalidPath { ref path, .. } if path == ".git/config"), "{e}");
    let mut inputs = Inputs::sample();
    inputs.resources.push((".vscode/tasks.json".to_string(), b"{}".to_vec()));
    assert!(xif_package::write(&inputs.input()).is_err());
}

fn manifest_field(edit: impl Fn(&mut xif_package::Manifest)) -> ReadError {
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    edit(&mut manifest);
    read(&package_with_manifest(&manifest, &entries), &Limits::default()).expect_err("refused")
}

/// Guards: the manifest's description is bounded (255 characters, as DESIGN.md says of every
/// description) and its toolchain (200 printable characters); they were unbounded.
#[test]
fn manifest_description_and_toolchain_are_bounded() {
    match manifest_field(|m| m.description = "d".repeat(256)) {
        ReadError::ManifestField { field, reason } => {
            assert_eq!(field, "description");
            assert!(reason.contains("256") && reason.contains("255"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    match manifest_field(|m| m.toolchain = "t".repeat(201)) {
        ReadError::ManifestField { field, .. } => assert_eq!(field, "toolchain"),
        other => panic!("{other:?}"),
    }
    // A 1 MB toolchain, too (it was stored and listed as is).
    assert!(matches!(manifest_field(|m| m.toolchain = "t".repeat(1 << 20)), ReadError::ManifestField { .. }));
    // At the bounds, it reads; 255 characters of several bytes each count as 255.
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.description = "é".repeat(255);
    manifest.toolchain = "t".repeat(200);
    read(&package_with_manifest(&manifest, &entries), &Limits::default()).expect("reads");
}

/// Guards: terminal escapes in the manifest's text (shown by `xif inspect` and `xif versions`)
/// are refused; a description may still hold new lines.
#[test]
fn manifest_fields_with_control_characters_are_refused() {
    for edit in [
        (|m: &mut xif_package::Manifest| m.toolchain = "rustc\u{1b}[2J".into()) as fn(&mut xif_package::Manifest),
        |m| m.description = "hi\u{1b}]0;pwned\u{7}".into(),
        |m| m.extension = "Greet\u{1b}ings".into(),
        |m| m.extension = "G".repeat(51),
    ] {
        assert!(matches!(manifest_field(edit), ReadError::ManifestField { .. }));
    }
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.description = "two\nlines\tand a tab".into();
    read(&package_with_manifest(&manifest, &entries), &Limits::default()).expect("reads");
}
