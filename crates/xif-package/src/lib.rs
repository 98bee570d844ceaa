//! The `.xif` package format.
//!
//! A package is a zip archive with a fixed entry order and fixed metadata:
//!
//! 1. [`MANIFEST`] (`manifest.json`): format version, extension name, description, toolchain, and
//!    for every other entry its path, size, SHA-256 and kind;
//! 2. [`DEFINITION`] (`extension.toml`);
//! 3. [`COMPONENT`] (`component.wasm`);
//! 4. the source snapshot under [`SOURCE_PREFIX`] (`source/<relative path>`), sorted by path;
//! 5. the resources under [`RESOURCE_PREFIX`] (`resources/<path as written in extension.toml>`),
//!    sorted by path.
//!
//! **The package digest is the SHA-256 of the `manifest.json` bytes**, so it names the content,
//! not the compressor: the manifest pins every other entry by its SHA-256.
//!
//! [`write()`] builds a package deterministically (same inputs, same bytes). [`read()`] is the hardened
//! reader: it refuses, with a [`ReadError`] that names the offending entry, anything the manifest
//! does not list or lists wrongly, unsafe paths, links, oversized or corrupt entries, and a
//! component that does not validate. It never writes files and never panics on its input.
//! [`inspect`] checks every entry against the manifest without stopping at the first mismatch.

#![deny(missing_docs)]

mod error;
mod path;
mod read;
pub mod stubs;
mod write;

use serde::{Deserialize, Serialize};

pub use error::{ReadError, WriteError};
pub use path::ALLOWED_DOT_NAMES;
pub use read::{
    EntryStatus, InspectedEntry, Inspection, Limits, MAX_DESCRIPTION_CHARS, MAX_EXTENSION_CHARS, MAX_STUB_CHARS,
    MAX_TOOLCHAIN_CHARS, Package, RATIO_ALLOWANCE, inspect, inspect_from, read, read_from,
};
pub use write::{PackageInput, Written, write};

/// The manifest format version this crate writes and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Path of the manifest entry; always the first entry of a package.
pub const MANIFEST: &str = "manifest.json";

/// Path of the extension definition (`extension.toml`) entry.
pub const DEFINITION: &str = "extension.toml";

/// Path of the WebAssembly component entry.
pub const COMPONENT: &str = "component.wasm";

/// Folder under which the source snapshot is stored: `source/<relative path>`.
pub const SOURCE_PREFIX: &str = "source/";

/// Folder under which resources are stored: `resources/<path as written in extension.toml>`.
pub const RESOURCE_PREFIX: &str = "resources/";

/// The content of `manifest.json`.
///
/// Serialized as pretty-printed JSON with a trailing newline; fields and entries keep the order
/// shown here and the order of the zip. Unknown fields are refused when reading.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, [`FORMAT_VERSION`].
    pub format: u32,
    /// Name of the extension.
    pub extension: String,
    /// Description of the extension.
    pub description: String,
    /// The toolchain that built the component, e.g. `rustc 1.96.0 (…)`.
    pub toolchain: String,
    /// The actions whose code is still the stub `xif update-source` wrote (see [`stubs`]), sorted;
    /// absent when there are none. The Platform Server refuses to publish a package with stubs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stubs: Vec<String>,
    /// Every entry of the package except `manifest.json` itself, in zip order.
    pub entries: Vec<ManifestEntry>,
}

/// One entry listed in the manifest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path of the entry in the zip, with `/` separators.
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes, lowercase hex.
    pub sha256: String,
    /// What the entry is; must match its path (see [`EntryKind::of_path`]).
    pub kind: EntryKind,
}

/// The kind of a package entry, serialized in lowercase.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// `extension.toml`.
    Definition,
    /// `component.wasm`.
    Component,
    /// A file of the source snapshot, under `source/`.
    Source,
    /// A resource, under `resources/`.
    Resource,
}

impl EntryKind {
    /// The kind an entry at `path` must have, or `None` when no entry may have that path
    /// (`manifest.json` itself, or anything outside the known names and folders).
    pub fn of_path(path: &str) -> Option<EntryKind> {
        if path == DEFINITION {
            Some(EntryKind::Definition)
        } else if path == COMPONENT {
            Some(EntryKind::Component)
        } else if path.len() > SOURCE_PREFIX.len() && path.starts_with(SOURCE_PREFIX) {
            Some(EntryKind::Source)
        } else if path.len() > RESOURCE_PREFIX.len() && path.starts_with(RESOURCE_PREFIX) {
            Some(EntryKind::Resource)
        } else {
            None
        }
    }

    /// The lowercase name used in `manifest.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Definition => "definition",
            EntryKind::Component => "component",
            EntryKind::Source => "source",
            EntryKind::Resource => "resource",
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the reader refuses `path` as a source snapshot or resource path (relative to the
/// extension folder, as `xif download` would write it): the offending component and the reason,
/// or `None` when it is allowed. `.git`, `.cargo`, `.vscode` and every other dot-folder or
/// dot-file but [`ALLOWED_DOT_NAMES`] are refused, and so are names Windows or macOS take for
/// one (`.GIT`, `.git.`, `.git `, `GIT~1`). `xif save` leaves such files out of the snapshot.
pub fn planted_component(path: &str) -> Option<(String, &'static str)> {
    path::check_planted(path).err()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Checks that `bytes` is a valid WebAssembly component (not a core module), validated with
/// all WebAssembly features enabled. Errors name the entry [`COMPONENT`].
pub fn validate_component(bytes: &[u8]) -> Result<(), ReadError> {
    use wasmparser::{Parser, Validator, WasmFeatures};
    if Parser::is_core_wasm(bytes) {
        return Err(ReadError::NotAComponent { entry: COMPONENT.to_string() });
    }
    if !Parser::is_component(bytes) {
        return Err(ReadError::InvalidComponent {
            entry: COMPONENT.to_string(),
            reason: "it does not start with the WebAssembly component header".to_string(),
        });
    }
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map(|_| ())
        .map_err(|e| ReadError::InvalidComponent { entry: COMPONENT.to_string(), reason: e.to_string() })
}
