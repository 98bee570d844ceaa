//! Writer: round trip, determinism, layout, and refused inputs.

mod common;

use std::io::Cursor;

use common::{DEFINITION, Inputs, component, core_module};
use xif_package::{EntryKind, EntryStatus, FORMAT_VERSION, Limits, MANIFEST, WriteError, inspect, read, write};

#[test]
fn roundtrip() {
    let inputs = Inputs::sample();
    let written = write(&inputs.input()).unwrap();
    let package = read(&written.bytes, &Limits::default()).unwrap();

    assert_eq!(package.manifest, written.manifest);
    assert_eq!(package.digest, written.digest);
    assert_eq!(package.digest, xif_package::sha256_hex(&package.manifest_bytes));
    assert_eq!(package.definition, DEFINITION);
    assert_eq!(package.component, inputs.component);
    let mut sources = inputs.sources.clone();
    sources.sort();
    assert_eq!(package.sources, sources);
    let mut resources = inputs.resources.clone();
    resources.sort();
    assert_eq!(package.resources, resources);
    assert_eq!(package.resource("resources/words.txt"), Some(&b"hello\nworld\n"[..]));
    assert_eq!(package.resource("resources/empty.txt"), Some(&b""[..]));
    assert_eq!(package.resource("words.txt"), None);

    let m = &package.manifest;
    assert_eq!(m.format, FORMAT_VERSION);
    assert_eq!(m.extension, "Greetings");
    assert_eq!(m.description, "Says hello");
    assert_eq!(m.toolchain, "rustc 1.96.0 (test)");

    let inspection = inspect(&written.bytes, &Limits::default()).unwrap();
    assert!(inspection.is_ok(), "{inspection:?}");
    assert_eq!(inspection.digest, written.digest);
    assert_eq!(inspection.entries.len(), m.entries.len());
    for (entry, listed) in inspection.entries.iter().zip(&m.entries) {
        assert_eq!(entry.path, listed.path);
        assert_eq!(entry.size, listed.size);
        assert_eq!(entry.sha256, listed.sha256);
        assert_eq!(entry.status, EntryStatus::Ok);
    }
}

#[test]
fn roundtrip_without_sources_or_resources() {
    let component = component();
    let input = xif_package::PackageInput {
        extension: "Empty",
        description: "",
        toolchain: "",
        definition: b"",
        component: &component,
        sources: &[],
        resources: &[],
        stubs: &[],
    };
    let written = write(&input).unwrap();
    let package = read(&written.bytes, &Limits::default()).unwrap();
    assert!(package.sources.is_empty() && package.resources.is_empty());
    assert_eq!(package.definition, b"");
    assert_eq!(package.manifest.entries.len(), 2);
}

#[test]
fn deterministic() {
    let inputs = Inputs::sample();
    let a = write(&inputs.input()).unwrap();
    let b = write(&inputs.input()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.digest, b.digest);

    // Input order does not matter.
    let mut reordered = Inputs::sample();
    reordered.sources.reverse();
    reordered.resources.reverse();
    assert_eq!(write(&reordered.input()).unwrap().bytes, a.bytes);

    // One resource byte changes the digest.
    let mut changed = Inputs::sample();
    changed.resources[0].1[0] ^= 1;
    let c = write(&changed.input()).unwrap();
    assert_ne!(c.digest, a.digest);
    assert_ne!(c.bytes, a.bytes);

    // So do the description and a source path.
    let mut input = inputs.input();
    input.description = "Says hello!";
    assert_ne!(write(&input).unwrap().digest, a.digest);
    let mut renamed = Inputs::sample();
    renamed.sources[0].0 = "src/lib2.rs".to_string();
    assert_ne!(write(&renamed.input()).unwrap().digest, a.digest);
}

#[test]
fn layout() {
    let written = write(&Inputs::sample().input()).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(&written.bytes)).unwrap();
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "extension.toml",
            "component.wasm",
            "source/Cargo.toml",
            "source/src/actions/greet.rs",
            "source/src/lib.rs",
            "resources/resources/empty.txt",
            "resources/resources/words.txt",
        ]
    );
    for i in 0..archive.len() {
        let file = archive.by_index(i).unwrap();
        assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
        assert_eq!(file.unix_mode(), Some(0o100644), "{:?}", file.name());
        let t = file.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second()), (1980, 1, 1, 0, 0, 0));
    }

    // manifest.json: pretty JSON with a trailing newline, entries in zip order.
    let mut manifest_bytes = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(MANIFEST).unwrap(), &mut manifest_bytes).unwrap();
    assert_eq!(written.digest, xif_package::sha256_hex(&manifest_bytes));
    let text = String::from_utf8(manifest_bytes).unwrap();
    assert!(text.starts_with("{\n  \"format\": 1,\n  \"extension\": \"Greetings\",\n"));
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    assert!(text.contains("\"kind\": \"definition\""));
    assert!(text.contains("\"kind\": \"resource\""));
    let listed: Vec<&str> = written.manifest.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(listed, names[1..]);
    let kinds: Vec<EntryKind> = written.manifest.entries.iter().map(|e| e.kind).collect();
    use EntryKind::*;
    assert_eq!(kinds, [Definition, Component, Source, Source, Source, Resource, Resource]);
    for e in &written.manifest.entries {
        assert_eq!(e.sha256.len(), 64);
        assert!(e.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
    let empty = &written.manifest.entries[5];
    assert_eq!(empty.size, 0);
    assert_eq!(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

fn write_error(sources: &[(&str, &str)], resources: &[(&str, &str)]) -> WriteError {
    let mut inputs = Inputs::sample();
    inputs.sources = sources.iter().map(|(p, d)| (p.to_string(), d.as_bytes().to_vec())).collect();
    inputs.resources = resources.iter().map(|(p, d)| (p.to_string(), d.as_bytes().to_vec())).collect();
    write(&inputs.input()).unwrap_err()
}

#[test]
fn write_refuses_invalid_paths() {
    for bad in ["", "/etc/passwd", "../evil", "src/../../evil", "src\\lib.rs", "C:/x", "a//b", "a/", "./a"] {
        match write_error(&[(bad, "x")], &[]) {
            WriteError::InvalidPath { what: "source", path, .. } => assert_eq!(path, bad),
            other => panic!("{bad:?}: {other}"),
        }
        match write_error(&[], &[(bad, "x")]) {
            WriteError::InvalidPath { what: "resource", path, .. } => assert_eq!(path, bad),
            other => panic!("{bad:?}: {other}"),
        }
    }
    let e = write_error(&[("../evil", "x")], &[]);
    assert_eq!(e.to_string(), "invalid source path \"../evil\": the path has a '..' component");
}

#[test]
fn write_refuses_duplicate_paths() {
    match write_error(&[("src/lib.rs", "a"), ("src/lib.rs", "b")], &[]) {
        WriteError::DuplicatePath { what: "source", path } => assert_eq!(path, "src/lib.rs"),
        other => panic!("{other}"),
    }
    match write_error(&[], &[("resources/A.txt", "a"), ("resources/a.txt", "b")]) {
        WriteError::DuplicatePath { what: "resource", path } => assert_eq!(path, "resources/a.txt"),
        other => panic!("{other}"),
    }
    // The same path as a source and as a resource is fine: they live in different folders.
    let mut inputs = Inputs::sample();
    inputs.sources = vec![("a.txt".to_string(), b"s".to_vec())];
    inputs.resources = vec![("a.txt".to_string(), b"r".to_vec())];
    let package = read(&write(&inputs.input()).unwrap().bytes, &Limits::default()).unwrap();
    assert_eq!(package.resource("a.txt"), Some(&b"r"[..]));
}

#[test]
fn write_refuses_a_core_module() {
    let mut inputs = Inputs::sample();
    inputs.component = core_module();
    match write(&inputs.input()).unwrap_err() {
        WriteError::InvalidComponent(xif_package::ReadError::NotAComponent { entry }) => {
            assert_eq!(entry, "component.wasm")
        }
        other => panic!("{other}"),
    }
    inputs.component = b"not wasm".to_vec();
    assert!(matches!(
        write(&inputs.input()).unwrap_err(),
        WriteError::InvalidComponent(xif_package::ReadError::InvalidComponent { .. })
    ));
}
