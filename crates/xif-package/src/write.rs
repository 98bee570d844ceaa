//! The deterministic writer.

use std::collections::HashSet;
use std::io::{Cursor, Write as _};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::{
    COMPONENT, DEFINITION, EntryKind, FORMAT_VERSION, MANIFEST, Manifest, ManifestEntry, RESOURCE_PREFIX,
    SOURCE_PREFIX, WriteError, path, sha256_hex,
};

/// Deflate level used for every entry (flate2's best compression).
const DEFLATE_LEVEL: i64 = 9;

/// Unix permissions of every entry.
const PERMISSIONS: u32 = 0o644;

/// Everything that goes into a package.
#[derive(Clone, Copy, Debug)]
pub struct PackageInput<'a> {
    /// Name of the extension.
    pub extension: &'a str,
    /// Description of the extension.
    pub description: &'a str,
    /// The toolchain that built the component, e.g. `rustc 1.96.0 (…)`.
    pub toolchain: &'a str,
    /// The bytes of `extension.toml`.
    pub definition: &'a [u8],
    /// The WebAssembly component.
    pub component: &'a [u8],
    /// The source snapshot: paths relative to the extension folder with `/` separators
    /// (e.g. `src/lib.rs`), stored as `source/<path>`. Any order; they are sorted.
    pub sources: &'a [(String, Vec<u8>)],
    /// The resources: paths as written in `extension.toml` (e.g. `resources/words.txt`),
    /// stored as `resources/<path>`. Any order; they are sorted.
    pub resources: &'a [(String, Vec<u8>)],
    /// The actions still stubs (see [`crate::stubs`]), listed in the manifest. Any order.
    pub stubs: &'a [String],
}

/// A package built by [`write()`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The `.xif` file.
    pub bytes: Vec<u8>,
    /// The package digest: lowercase hex SHA-256 of the `manifest.json` bytes.
    pub digest: String,
    /// The manifest stored in the package.
    pub manifest: Manifest,
}

/// One entry to store, in final order.
struct Entry<'a> {
    path: String,
    data: &'a [u8],
    kind: EntryKind,
}

/// Builds a package. Deterministic: the same input gives the same bytes.
///
/// Entries are stored in a fixed order (`manifest.json`, `extension.toml`, `component.wasm`, the
/// sources sorted by path, the resources sorted by path), deflated at a fixed level, with the
/// timestamp 1980-01-01 00:00:00 and permissions 0644. Source and resource paths must be safe
/// relative paths (see [`WriteError::InvalidPath`]) and unique, even case-insensitively; the
/// component must be a valid WebAssembly component. Size limits are the reader's business.
pub fn write(input: &PackageInput) -> Result<Written, WriteError> {
    crate::validate_component(input.component).map_err(WriteError::InvalidComponent)?;

    let mut entries = vec![
        Entry { path: DEFINITION.to_string(), data: input.definition, kind: EntryKind::Definition },
        Entry { path: COMPONENT.to_string(), data: input.component, kind: EntryKind::Component },
    ];
    entries.extend(prefixed("source", SOURCE_PREFIX, input.sources, EntryKind::Source)?);
    entries.extend(prefixed("resource", RESOURCE_PREFIX, input.resources, EntryKind::Resource)?);

    let manifest = Manifest {
        format: FORMAT_VERSION,
        extension: input.extension.to_string(),
        description: input.description.to_string(),
        toolchain: input.toolchain.to_string(),
        stubs: {
            let mut stubs = input.stubs.to_vec();
            stubs.sort();
            stubs.dedup();
            stubs
        },
        entries: entries
            .iter()
            .map(|e| ManifestEntry {
                path: e.path.clone(),
                size: e.data.len() as u64,
                sha256: sha256_hex(e.data),
                kind: e.kind,
            })
            .collect(),
    };
    let manifest_bytes = manifest_json(&manifest)?;
    let digest = sha256_hex(&manifest_bytes);

    let options = SimpleFileOptions::DEFAULT
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(PERMISSIONS)
        .system(System::Unix);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(MANIFEST, options)?;
    zip.write_all(&manifest_bytes).map_err(zip::result::ZipError::Io)?;
    for entry in &entries {
        zip.start_file(entry.path.as_str(), options)?;
        zip.write_all(entry.data).map_err(zip::result::ZipError::Io)?;
    }
    let bytes = zip.finish()?.into_inner();

    Ok(Written { bytes, digest, manifest })
}

/// The exact bytes of `manifest.json` for `manifest`: pretty-printed JSON and a newline.
pub(crate) fn manifest_json(manifest: &Manifest) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec_pretty(manifest)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Validates `files`' paths and returns them as entries under `prefix`, sorted by path.
fn prefixed<'a>(
    what: &'static str,
    prefix: &str,
    files: &'a [(String, Vec<u8>)],
    kind: EntryKind,
) -> Result<Vec<Entry<'a>>, WriteError> {
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(files.len());
    for (p, data) in files {
        let stored = format!("{prefix}{p}");
        path::check(p)
            .and_then(|()| path::check(&stored))
            .and_then(|()| path::check_planted(p).map_err(|(_, reason)| reason))
            .map_err(|reason| WriteError::InvalidPath { what, path: p.clone(), reason })?;
        if !seen.insert(path::fold(p)) {
            return Err(WriteError::DuplicatePath { what, path: p.clone() });
        }
        entries.push(Entry { path: stored, data, kind });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}
