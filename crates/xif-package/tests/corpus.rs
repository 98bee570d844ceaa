//! The fuzz corpus (`fuzz/corpus/read_package`): replayed through `read` and `inspect` as a
//! normal test, and regenerated with `cargo test -p xif-package --test corpus -- --ignored`.

mod common;

use std::path::PathBuf;

use common::*;
use xif_package::{Limits, inspect, read};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/read_package")
}

/// The seed files: `valid-*` must read, the others must be refused.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let valid = valid_package();
    let stored_valid = {
        let entries = valid_entries();
        let mut all = vec![("manifest.json".to_string(), manifest_json(&manifest_for(&entries)))];
        all.extend(entries);
        zip_with(&all, stored())
    };
    let minimal = {
        let component = component();
        xif_package::write(&xif_package::PackageInput {
            extension: "M",
            description: "",
            toolchain: "",
            definition: b"name = \"M\"\n",
            component: &component,
            sources: &[],
            resources: &[],
            stubs: &[],
        })
        .expect("write")
        .bytes
    };
    let mut crc = stored_valid.clone();
    patch(&mut crc, b"hello\nworld\n", b"hellO\nworld\n");
    let truncated = valid[..valid.len() / 2].to_vec();
    let not_listed = {
        let mut entries = valid_entries();
        let manifest = manifest_for(&entries);
        entries.push(("resources/extra.txt".to_string(), b"extra".to_vec()));
        package_with_manifest(&manifest, &entries)
    };
    let traversal = {
        let mut entries = valid_entries();
        entries.push(("../evil".to_string(), b"evil".to_vec()));
        package_of(&entries)
    };
    let duplicate = {
        let mut entries = valid_entries();
        entries.push(("source/src/lix.rs".to_string(), b"pub fn hello() {}\n".to_vec()));
        let mut bytes = zip_with(
            &[vec![("manifest.json".to_string(), manifest_json(&manifest_for(&entries)))], entries].concat(),
            stored(),
        );
        patch(&mut bytes, b"source/src/lix.rs", b"source/src/lib.rs");
        bytes
    };
    let symlink = {
        use std::io::Write as _;
        let entries = valid_entries();
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("manifest.json", stored()).expect("start");
        zip.write_all(&manifest_json(&manifest_for(&entries))).expect("write");
        for (name, data) in entries {
            zip.start_file(name, stored()).expect("start");
            zip.write_all(&data).expect("write");
        }
        zip.add_symlink("resources/link", "/etc/passwd", stored()).expect("symlink");
        zip.finish().expect("finish").into_inner()
    };
    let bad_manifest = {
        let mut all = entries(&[("manifest.json", b"{\"format\": 1, \"entries\": [")]);
        all.extend(valid_entries());
        zip_with(&all, stored())
    };
    let core = {
        let mut entries = valid_entries();
        entries[1].1 = core_module();
        zip_with(
            &[vec![("manifest.json".to_string(), manifest_json(&manifest_for(&entries)))], entries].concat(),
            stored(),
        )
    };
    vec![
        ("valid-sample.xif", valid),
        ("valid-stored.xif", stored_valid),
        ("valid-minimal.xif", minimal),
        ("broken-crc.xif", crc),
        ("broken-truncated.xif", truncated),
        ("broken-not-listed.xif", not_listed),
        ("broken-traversal.xif", traversal),
        ("broken-duplicate.xif", duplicate),
        ("broken-symlink.xif", symlink),
        ("broken-manifest.xif", bad_manifest),
        ("broken-core-module.xif", core),
    ]
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus/read_package"]
fn generate_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds() {
        assert!(bytes.len() < 10_000, "{name} is {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn seeds_are_what_they_say() {
    for (name, bytes) in seeds() {
        let result = read(&bytes, &Limits::default());
        assert_eq!(result.is_ok(), name.starts_with("valid-"), "{name}: {result:?}");
    }
}

#[test]
fn replay_corpus() {
    let dir = corpus_dir();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let result = read(&bytes, &Limits::default());
        let _ = inspect(&bytes, &Limits::default());
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("valid-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
        count += 1;
    }
    assert!(count >= 5, "only {count} files in {}", dir.display());
}
