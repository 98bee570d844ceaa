//! Helpers shared by the integration tests: a valid package and hand-made zips.

#![allow(dead_code)]

use std::io::{Cursor, Write as _};

use xif_package::{EntryKind, FORMAT_VERSION, Manifest, ManifestEntry, PackageInput};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The smallest valid component.
pub fn component() -> Vec<u8> {
    wat::parse_str("(component)").expect("valid wat")
}

/// A core module, which is not a component.
pub fn core_module() -> Vec<u8> {
    wat::parse_str("(module)").expect("valid wat")
}

pub const DEFINITION: &[u8] = b"name = \"Greetings\"\nresources = [\"resources/words.txt\"]\n";

/// Owned inputs for [`PackageInput`].
pub struct Inputs {
    pub component: Vec<u8>,
    pub sources: Vec<(String, Vec<u8>)>,
    pub resources: Vec<(String, Vec<u8>)>,
}

impl Inputs {
    pub fn sample() -> Self {
        Inputs {
            component: component(),
            sources: vec![
                ("src/lib.rs".to_string(), b"pub fn hello() {}\n".to_vec()),
                ("Cargo.toml".to_string(), b"[package]\nname = \"greetings\"\n".to_vec()),
                ("src/actions/greet.rs".to_string(), b"// greet\n".to_vec()),
            ],
            resources: vec![
                ("resources/words.txt".to_string(), b"hello\nworld\n".to_vec()),
                ("resources/empty.txt".to_string(), Vec::new()),
            ],
        }
    }

    pub fn input(&self) -> PackageInput<'_> {
        PackageInput {
            extension: "Greetings",
            description: "Says hello",
            toolchain: "rustc 1.96.0 (test)",
            definition: DEFINITION,
            component: &self.component,
            sources: &self.sources,
            resources: &self.resources,
            stubs: &[],
        }
    }
}

/// A valid package.
pub fn valid_package() -> Vec<u8> {
    xif_package::write(&Inputs::sample().input()).expect("write").bytes
}

/// The entries (other than the manifest) of a valid package, in order.
pub fn valid_entries() -> Vec<(String, Vec<u8>)> {
    let mut entries =
        vec![("extension.toml".to_string(), DEFINITION.to_vec()), ("component.wasm".to_string(), component())];
    entries.push(("source/src/lib.rs".to_string(), b"pub fn hello() {}\n".to_vec()));
    entries.push(("resources/resources/words.txt".to_string(), b"hello\nworld\n".to_vec()));
    entries
}

/// A manifest listing `entries` with their true sizes and digests; the kind is derived from the
/// path (a resource when the path fits no kind).
pub fn manifest_for(entries: &[(String, Vec<u8>)]) -> Manifest {
    Manifest {
        format: FORMAT_VERSION,
        extension: "Greetings".to_string(),
        description: "Says hello".to_string(),
        toolchain: "rustc 1.96.0 (test)".to_string(),
        stubs: Vec::new(),
        entries: entries
            .iter()
            .map(|(path, data)| ManifestEntry {
                path: path.clone(),
                size: data.len() as u64,
                sha256: xif_package::sha256_hex(data),
                kind: EntryKind::of_path(path).unwrap_or(EntryKind::Resource),
            })
            .collect(),
    }
}

/// Pretty JSON of `manifest`, as the writer stores it.
pub fn manifest_json(manifest: &Manifest) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(manifest).expect("json");
    bytes.push(b'\n');
    bytes
}

/// Default options for hand-made zips: deflated, 0644.
pub fn options() -> SimpleFileOptions {
    SimpleFileOptions::DEFAULT.compression_method(CompressionMethod::Deflated).unix_permissions(0o644)
}

/// Stored (uncompressed) options, so the data can be patched in place.
pub fn stored() -> SimpleFileOptions {
    options().compression_method(CompressionMethod::Stored)
}

/// A zip of `entries`, in order, with [`options`].
pub fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    zip_with(entries, options())
}

/// A zip of `entries`, in order, with the given options.
pub fn zip_with(entries: &[(String, Vec<u8>)], options: SimpleFileOptions) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(name.as_str(), options).expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// A zip whose first entry is the manifest of `entries` (true sizes and digests), then `entries`.
pub fn package_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    package_with_manifest(&manifest_for(entries), entries)
}

/// A zip whose first entry is `manifest`, then `entries`.
pub fn package_with_manifest(manifest: &Manifest, entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut all = vec![("manifest.json".to_string(), manifest_json(manifest))];
    all.extend(entries.iter().cloned());
    zip_of(&all)
}

/// Replaces every occurrence of `from` by `to` (same length) in `bytes`; panics if none.
pub fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "pattern not found");
}

/// `s` as owned entries.
pub fn entries(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    list.iter().map(|(p, d)| (p.to_string(), d.to_vec())).collect()
}
