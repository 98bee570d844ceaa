//! The hardened reader: one test per kind of bad package, each checking the specific error.

mod common;

use common::*;
use xif_package::{EntryKind, EntryStatus, Limits, ReadError, inspect, read};

fn err(bytes: &[u8]) -> ReadError {
    err_with(bytes, &Limits::default())
}

fn err_with(bytes: &[u8], limits: &Limits) -> ReadError {
    let e = read(bytes, limits).expect_err("read must refuse the package");
    // inspect refuses the same archive-level problems (or at least does not panic).
    let _ = inspect(bytes, limits);
    e
}

/// Entry `name` (as a name) is mentioned in the error's message.
fn names(e: &ReadError, name: &str) {
    assert!(e.to_string().contains(name), "{e} does not name {name}");
}

#[test]
fn valid_package_reads() {
    read(&valid_package(), &Limits::default()).unwrap();
    // The hand-made helpers build valid packages too.
    let package = read(&package_of(&valid_entries()), &Limits::default()).unwrap();
    assert_eq!(package.sources[0].0, "src/lib.rs");
    assert_eq!(package.resource("resources/words.txt"), Some(&b"hello\nworld\n"[..]));
}

#[test]
fn package_too_large() {
    let bytes = valid_package();
    let limits = Limits { max_package_bytes: bytes.len() as u64 - 1, ..Limits::default() };
    assert_eq!(
        err_with(&bytes, &limits),
        ReadError::PackageTooLarge { size: bytes.len() as u64, limit: bytes.len() as u64 - 1 }
    );
}

#[test]
fn not_a_zip() {
    assert!(matches!(err(b""), ReadError::NotZip { .. }));
    assert!(matches!(err(b"hello, this is not a zip file at all"), ReadError::NotZip { .. }));
    assert!(matches!(err(&common::component()), ReadError::NotZip { .. }));
}

#[test]
fn truncated() {
    let bytes = valid_package();
    for cut in [bytes.len() - 1, bytes.len() - 10, bytes.len() / 2, 30] {
        let e = err(&bytes[..cut]);
        assert!(matches!(e, ReadError::NotZip { .. }), "cut at {cut}: {e:?}");
    }
}

#[test]
fn crc_failure() {
    let mut all = vec![("manifest.json".to_string(), manifest_json(&manifest_for(&valid_entries())))];
    all.extend(valid_entries());
    let mut bytes = zip_with(&all, stored());
    patch(&mut bytes, b"hello\nworld\n", b"hellO\nworld\n");
    match err(&bytes) {
        ReadError::CorruptEntry { entry, reason } => {
            assert_eq!(entry, "resources/resources/words.txt");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // inspect refuses it too: the data cannot be trusted.
    assert!(matches!(inspect(&bytes, &Limits::default()), Err(ReadError::CorruptEntry { .. })));
}

#[test]
fn corrupt_deflate_stream() {
    let mut bytes = package_of(&valid_entries());
    // The component's compressed bytes sit between its local header and the next header.
    let name = b"component.wasm";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    for b in &mut bytes[at..at + 4] {
        *b ^= 0xff;
    }
    match err(&bytes) {
        ReadError::CorruptEntry { entry, .. } => assert_eq!(entry, "component.wasm"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_entries() {
    let bytes = valid_package();
    let limits = Limits { max_entries: 3, ..Limits::default() };
    assert_eq!(err_with(&bytes, &limits), ReadError::TooManyEntries { count: 8, limit: 3 });
}

#[test]
fn too_many_entries_counted_before_parsing() {
    // A central directory of 20 000 empty entries (and no data): refused by counting the header
    // signatures, before the zip reader builds its index.
    let n: u16 = 20_000;
    let mut cd = Vec::new();
    for i in 0..n {
        let name = format!("{i:05}");
        cd.extend(0x0201_4b50u32.to_le_bytes());
        cd.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // versions, flags, method, time, date
        cd.extend([0; 12]); // crc, sizes
        cd.extend((name.len() as u16).to_le_bytes());
        cd.extend([0; 12]); // extra and comment lengths, disk, attributes
        cd.extend([0; 4]); // local header offset
        cd.extend(name.as_bytes());
    }
    let mut bytes = cd.clone();
    bytes.extend(0x0605_4b50u32.to_le_bytes());
    bytes.extend([0, 0, 0, 0]);
    bytes.extend(n.to_le_bytes());
    bytes.extend(n.to_le_bytes());
    bytes.extend((cd.len() as u32).to_le_bytes());
    bytes.extend(0u32.to_le_bytes());
    bytes.extend([0, 0]);
    assert_eq!(err(&bytes), ReadError::TooManyEntries { count: 20_000, limit: 10_000 });
}

#[test]
fn manifest_lists_too_many_entries() {
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    for i in 0..20 {
        manifest.entries.push(xif_package::ManifestEntry {
            path: format!("source/{i}.rs"),
            size: 0,
            sha256: String::new(),
            kind: EntryKind::Source,
        });
    }
    let limits = Limits { max_entries: 10, ..Limits::default() };
    assert_eq!(
        err_with(&package_with_manifest(&manifest, &entries), &limits),
        ReadError::TooManyEntries { count: 24, limit: 10 }
    );
}

#[test]
fn entry_too_large_declared() {
    let mut entries = valid_entries();
    entries.push(("resources/big.bin".to_string(), vec![0; 100_000]));
    let bytes = package_of(&entries);
    assert!(bytes.len() < 10_000, "zeros compress well");
    let limits = Limits { max_entry_bytes: 50_000, ..Limits::default() };
    assert_eq!(
        err_with(&bytes, &limits),
        ReadError::EntryTooLarge { entry: "resources/big.bin".to_string(), size: 100_000, limit: 50_000 }
    );
}

#[test]
fn entry_larger_than_its_header_says() {
    // A "zip bomb" header: declares 1000 bytes, inflates to 1 MB. The reader stops at the
    // declared size instead of inflating everything.
    let mut entries = valid_entries();
    entries.push(("resources/bomb.bin".to_string(), vec![0; 1_000_000]));
    let mut bytes = package_of(&entries);
    let declared = 1_000_000u32.to_le_bytes();
    let lie = 1_000u32.to_le_bytes();
    patch(&mut bytes, &declared, &lie); // in the local and the central header
    match err(&bytes) {
        ReadError::CorruptEntry { entry, reason } => {
            assert_eq!(entry, "resources/bomb.bin");
            assert!(reason.contains("larger than its declared"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn total_too_large() {
    let mut entries = valid_entries();
    entries.push(("resources/a.bin".to_string(), vec![1; 30_000]));
    entries.push(("resources/b.bin".to_string(), vec![2; 30_000]));
    let bytes = package_of(&entries);
    let limits = Limits { max_entry_bytes: 40_000, max_total_bytes: 50_000, ..Limits::default() };
    assert_eq!(
        err_with(&bytes, &limits),
        ReadError::TotalTooLarge { entry: "resources/b.bin".to_string(), limit: 50_000 }
    );
}

#[test]
fn path_traversal_and_unsafe_paths() {
    for bad in [
        "../evil",
        "source/../../evil",
        "/etc/passwd",
        "resources\\..\\evil",
        "C:/evil",
        "C:evil",
        "source//lib.rs",
        "source/./lib.rs",
        "source/a\u{1}b",
    ] {
        let mut entries = valid_entries();
        entries.push((bad.to_string(), b"evil".to_vec()));
        let e = err(&package_of(&entries));
        match &e {
            ReadError::UnsafePath { entry, .. } => assert_eq!(entry, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
        names(&e, &format!("{bad:?}"));
    }
}

#[test]
fn unsafe_path_only_in_manifest() {
    let mut entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.entries[2].path = "source/../x".to_string();
    entries.truncate(2);
    assert_eq!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::UnsafePath { entry: "source/../x".to_string(), reason: "the path has a '..' component" }
    );
}

#[test]
fn non_utf8_name() {
    let mut entries = valid_entries();
    entries.push(("source/aXb".to_string(), b"x".to_vec()));
    let mut bytes = package_of(&entries);
    patch(&mut bytes, b"source/aXb", b"source/a\xffb");
    assert!(matches!(err(&bytes), ReadError::NonUtf8Name { .. }), "{:?}", err(&bytes));
}

#[test]
fn duplicate_names() {
    // The zip writer refuses duplicates, so rename one entry in the raw bytes.
    let mut entries = valid_entries();
    entries.push(("source/src/lix.rs".to_string(), b"pub fn hello() {}\n".to_vec()));
    let mut bytes = package_of(&entries);
    patch(&mut bytes, b"source/src/lix.rs", b"source/src/lib.rs");
    assert_eq!(err(&bytes), ReadError::DuplicateEntry { entry: "source/src/lib.rs".to_string() });
}

#[test]
fn duplicate_names_case_insensitive() {
    let mut entries = valid_entries();
    entries.push(("source/src/LIB.rs".to_string(), b"x".to_vec()));
    assert_eq!(err(&package_of(&entries)), ReadError::DuplicateEntry { entry: "source/src/LIB.rs".to_string() });
}

#[test]
fn duplicate_manifest_entries() {
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    let again = manifest.entries[2].clone();
    manifest.entries.push(again);
    assert_eq!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::DuplicateManifestEntry { entry: "source/src/lib.rs".to_string() }
    );
}

#[test]
fn symlink() {
    let entries = valid_entries();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    use std::io::Write as _;
    for (name, data) in
        std::iter::once(("manifest.json".to_string(), manifest_json(&manifest_for(&entries)))).chain(entries)
    {
        zip.start_file(name, options()).unwrap();
        zip.write_all(&data).unwrap();
    }
    zip.add_symlink("resources/link", "/etc/passwd", options()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(err(&bytes), ReadError::Symlink { entry: "resources/link".to_string() });
}

#[test]
fn directory() {
    let entries = valid_entries();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    use std::io::Write as _;
    zip.start_file("manifest.json", options()).unwrap();
    zip.write_all(&manifest_json(&manifest_for(&entries))).unwrap();
    zip.add_directory("source/src", options()).unwrap();
    for (name, data) in entries {
        zip.start_file(name, options()).unwrap();
        zip.write_all(&data).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(err(&bytes), ReadError::Directory { entry: "source/src/".to_string() });
}

#[test]
fn special_file() {
    let entries = valid_entries();
    let mut all = vec![("manifest.json".to_string(), manifest_json(&manifest_for(&entries)))];
    all.extend(entries);
    all.push(("resources/fifo".to_string(), Vec::new()));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    use std::io::Write as _;
    for (name, data) in &all {
        let opts = if name == "resources/fifo" {
            options().external_attributes(0o010644 << 16).system(zip::System::Unix)
        } else {
            options()
        };
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(err(&bytes), ReadError::NotRegularFile { entry: "resources/fifo".to_string(), mode: 0o010644 });
}

#[test]
fn encrypted_entry() {
    // Set the "encrypted" flag (bit 0 of the general purpose flags) of the manifest entry in
    // both headers: the version fields before it are the same in both, so patch by pattern.
    let bytes = package_of(&valid_entries());
    let mut patched = bytes.clone();
    // Local header: signature, version needed (2 bytes), flags (2 bytes).
    let flags_at = 6;
    patched[flags_at] |= 1;
    // Central header of the first entry: signature, made by, needed, flags.
    let central = bytes.windows(4).position(|w| w == [0x50, 0x4b, 0x01, 0x02]).unwrap();
    patched[central + 8] |= 1;
    match err(&patched) {
        ReadError::CorruptEntry { entry, reason } => {
            assert_eq!(entry, "manifest.json");
            assert!(reason.contains("encrypted"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_before_the_zip() {
    let mut bytes = b"#!/bin/sh\necho polyglot\n".to_vec();
    bytes.extend(valid_package());
    assert_eq!(err(&bytes), ReadError::Inconsistent { reason: "24 bytes of data before the first entry".to_string() });
}

#[test]
fn local_header_disagrees_with_directory() {
    // Rename an entry in its local header only: other zip tools would see another name.
    let mut bytes = package_of(&valid_entries());
    let name = b"source/src/lib.rs";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    bytes[at..at + name.len()].copy_from_slice(b"source/src/lix.rs");
    assert!(matches!(err(&bytes), ReadError::Inconsistent { .. }), "{:?}", err(&bytes));
}

#[test]
fn missing_manifest() {
    assert_eq!(err(&zip_of(&valid_entries())), ReadError::MissingManifest);
    assert_eq!(err(&zip_of(&[])), ReadError::MissingManifest);
}

#[test]
fn manifest_not_first() {
    let entries = valid_entries();
    let mut all = entries.clone();
    all.insert(1, ("manifest.json".to_string(), manifest_json(&manifest_for(&entries))));
    assert_eq!(err(&zip_of(&all)), ReadError::ManifestNotFirst { first: "extension.toml".to_string() });
}

#[test]
fn manifest_not_json() {
    let mut all = entries(&[("manifest.json", b"{ not json")]);
    all.extend(valid_entries());
    match err(&zip_of(&all)) {
        ReadError::InvalidManifest { reason } => assert!(!reason.is_empty()),
        other => panic!("{other:?}"),
    }
    let mut all = entries(&[("manifest.json", b"[1, 2]")]);
    all.extend(valid_entries());
    assert!(matches!(err(&zip_of(&all)), ReadError::InvalidManifest { .. }));
}

#[test]
fn manifest_with_missing_or_unknown_fields() {
    let entries = valid_entries();
    let json = String::from_utf8(manifest_json(&manifest_for(&entries))).unwrap();
    for bad in [
        json.replacen("\"toolchain\"", "\"tool\"", 1),
        json.replacen("\"format\": 1,", "\"format\": 1, \"extra\": true,", 1),
        json.replacen("\"kind\": \"source\"", "\"kind\": \"binary\"", 1),
        json.replacen("\"format\": 1", "\"format\": \"1\"", 1),
        json.replacen("\"format\": 1,", "", 1),
    ] {
        let mut all = vec![("manifest.json".to_string(), bad.into_bytes())];
        all.extend(entries.clone());
        match err(&zip_of(&all)) {
            ReadError::InvalidManifest { reason } => {
                names(&ReadError::InvalidManifest { reason: reason.clone() }, "manifest.json is invalid")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn unknown_format_version() {
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.format = 2;
    let e = err(&package_with_manifest(&manifest, &entries));
    assert_eq!(e, ReadError::UnsupportedFormat { found: 2, supported: 1 });
    assert_eq!(e.to_string(), "manifest.json has format version 2, this reader supports version 1");
    // A future format with a different shape still gets the version error.
    let mut all = entries_of_json(r#"{"format": 7, "something": "else"}"#);
    all.extend(entries);
    assert_eq!(err(&zip_of(&all)), ReadError::UnsupportedFormat { found: 7, supported: 1 });
}

fn entries_of_json(json: &str) -> Vec<(String, Vec<u8>)> {
    vec![("manifest.json".to_string(), json.as_bytes().to_vec())]
}

#[test]
fn entry_not_in_manifest() {
    let mut entries = valid_entries();
    let manifest = manifest_for(&entries);
    entries.push(("resources/extra.txt".to_string(), b"surprise".to_vec()));
    let bytes = package_with_manifest(&manifest, &entries);
    assert_eq!(err(&bytes), ReadError::NotInManifest { entry: "resources/extra.txt".to_string() });
    // A name outside the known folders is not listed either.
    let mut entries = valid_entries();
    let manifest = manifest_for(&entries);
    entries.push(("README.md".to_string(), b"hi".to_vec()));
    assert_eq!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::NotInManifest { entry: "README.md".to_string() }
    );
}

#[test]
fn entry_missing_from_archive() {
    let mut entries = valid_entries();
    let manifest = manifest_for(&entries);
    entries.remove(2);
    assert_eq!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::MissingFromArchive { entry: "source/src/lib.rs".to_string() }
    );
}

#[test]
fn size_mismatch() {
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.entries[3].size += 1;
    assert_eq!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::SizeMismatch { entry: "resources/resources/words.txt".to_string(), expected: 13, actual: 12 }
    );
}

#[test]
fn digest_mismatch() {
    let mut entries = valid_entries();
    let manifest = manifest_for(&entries);
    entries[3].1 = b"HELLO\nWORLD\n".to_vec(); // same size, different bytes
    match err(&package_with_manifest(&manifest, &entries)) {
        ReadError::DigestMismatch { entry, expected, actual } => {
            assert_eq!(entry, "resources/resources/words.txt");
            assert_eq!(expected, manifest.entries[3].sha256);
            assert_eq!(actual, xif_package::sha256_hex(b"HELLO\nWORLD\n"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kind_mismatch() {
    let entries = valid_entries();
    for (index, kind) in
        [(0, EntryKind::Component), (1, EntryKind::Resource), (2, EntryKind::Resource), (3, EntryKind::Source)]
    {
        let mut manifest = manifest_for(&entries);
        manifest.entries[index].kind = kind;
        assert_eq!(
            err(&package_with_manifest(&manifest, &entries)),
            ReadError::KindMismatch { entry: entries[index].0.clone(), kind }
        );
    }
    // A path outside the known names and folders has no valid kind.
    let mut entries = valid_entries();
    entries.push(("notes.txt".to_string(), b"x".to_vec()));
    assert_eq!(
        err(&package_of(&entries)),
        ReadError::KindMismatch { entry: "notes.txt".to_string(), kind: EntryKind::Resource }
    );
    // The manifest cannot list itself.
    let entries = valid_entries();
    let mut manifest = manifest_for(&entries);
    manifest.entries.push(xif_package::ManifestEntry {
        path: "manifest.json".to_string(),
        size: 0,
        sha256: String::new(),
        kind: EntryKind::Definition,
    });
    assert!(matches!(
        err(&package_with_manifest(&manifest, &entries)),
        ReadError::KindMismatch { entry, .. } if entry == "manifest.json"
    ));
}

#[test]
fn missing_definition() {
    let mut entries = valid_entries();
    entries.remove(0);
    assert_eq!(err(&package_of(&entries)), ReadError::MissingDefinition);
    // inspect does not require it.
    assert!(inspect(&package_of(&entries), &Limits::default()).unwrap().is_ok());
}

#[test]
fn missing_component() {
    let mut entries = valid_entries();
    entries.remove(1);
    assert_eq!(err(&package_of(&entries)), ReadError::MissingComponent);
}

#[test]
fn core_module_instead_of_component() {
    let mut entries = valid_entries();
    entries[1].1 = core_module();
    assert_eq!(err(&package_of(&entries)), ReadError::NotAComponent { entry: "component.wasm".to_string() });
}

#[test]
fn invalid_component() {
    let mut entries = valid_entries();
    let mut bad = common::component();
    bad.extend([0x01, 0xff, 0xff]); // a truncated section after the header
    entries[1].1 = bad;
    match err(&package_of(&entries)) {
        ReadError::InvalidComponent { entry, reason } => {
            assert_eq!(entry, "component.wasm");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let mut entries = valid_entries();
    entries[1].1 = b"\0asm garbage".to_vec();
    assert!(matches!(err(&package_of(&entries)), ReadError::InvalidComponent { .. }));
}

#[test]
fn inspect_reports_every_bad_entry() {
    let mut entries = valid_entries();
    entries.push(("source/Cargo.toml".to_string(), b"[package]\n".to_vec()));
    let mut manifest = manifest_for(&entries);
    // extension.toml: size differs; source/src/lib.rs: digest differs (same size).
    manifest.entries[0].size += 5;
    entries[2].1 = b"pub fn HELLO() {}\n".to_vec();
    // A listed entry that is missing, and an entry that is not listed.
    entries.retain(|(p, _)| p != "source/Cargo.toml");
    entries.push(("resources/extra.txt".to_string(), b"extra".to_vec()));
    let bytes = package_with_manifest(&manifest, &entries);

    assert!(matches!(err(&bytes), ReadError::NotInManifest { .. }));
    let inspection = inspect(&bytes, &Limits::default()).unwrap();
    assert!(!inspection.is_ok());
    let statuses: Vec<(&str, &EntryStatus)> = inspection.entries.iter().map(|e| (e.path.as_str(), &e.status)).collect();
    assert_eq!(
        statuses,
        [
            ("extension.toml", &EntryStatus::SizeMismatch { expected: manifest.entries[0].size }),
            ("component.wasm", &EntryStatus::Ok),
            ("source/src/lib.rs", &EntryStatus::DigestMismatch { expected: manifest.entries[2].sha256.clone() }),
            ("resources/resources/words.txt", &EntryStatus::Ok),
            ("resources/extra.txt", &EntryStatus::NotInManifest),
            ("source/Cargo.toml", &EntryStatus::MissingFromArchive),
        ]
    );
    let lib = &inspection.entries[2];
    assert_eq!(lib.sha256, xif_package::sha256_hex(b"pub fn HELLO() {}\n"));
    assert_eq!(inspection.entries[0].size, DEFINITION.len() as u64);
    assert_eq!(inspection.manifest, manifest);
}
