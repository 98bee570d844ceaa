//! Errors of the writer and the reader.

use crate::EntryKind;

/// Why [`write`](crate::write()) refused to build a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A source or resource path is not a safe relative path.
    #[error("invalid {what} path {path:?}: {reason}")]
    InvalidPath {
        /// `source` or `resource`.
        what: &'static str,
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Two sources or two resources have the same path (compared case-insensitively, since
    /// they would collide on a case-insensitive file system).
    #[error("duplicate {what} path {path:?}")]
    DuplicatePath {
        /// `source` or `resource`.
        what: &'static str,
        /// The second of the two paths.
        path: String,
    },
    /// The component is not a valid WebAssembly component.
    #[error("the component cannot be packaged: {0}")]
    InvalidComponent(#[source] crate::ReadError),
    /// The zip writer failed.
    #[error("cannot write the zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The manifest could not be serialized.
    #[error("cannot serialize manifest.json: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// Why [`read`](crate::read()) or [`inspect`](crate::inspect) refused a package.
///
/// Every variant about one entry carries its path in `entry`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The package is larger than [`Limits::max_package_bytes`](crate::Limits).
    #[error("the package is {size} bytes, more than the limit of {limit} bytes")]
    PackageTooLarge {
        /// Size of the package.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The bytes are not a zip archive, or its directory is truncated or corrupt.
    #[error("not a valid zip archive: {reason}")]
    NotZip {
        /// What the zip reader reported.
        reason: String,
    },
    /// The archive has more entries than [`Limits::max_entries`](crate::Limits), or
    /// `manifest.json` lists more.
    #[error("the package has {count} entries, more than the limit of {limit}")]
    TooManyEntries {
        /// Number of entries: central directory headers found in the archive (counted before
        /// parsing it), or entries listed in the manifest.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry's declared or actual uncompressed size exceeds
    /// [`Limits::max_entry_bytes`](crate::Limits).
    #[error("entry {entry:?} is {size} bytes or more uncompressed, more than the limit of {limit} bytes")]
    EntryTooLarge {
        /// The entry.
        entry: String,
        /// Its declared size, or the number of bytes read when it grew past the limit.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The entries together exceed [`Limits::max_total_bytes`](crate::Limits) uncompressed.
    #[error("the entries add up to more than the limit of {limit} bytes uncompressed (at entry {entry:?})")]
    TotalTooLarge {
        /// The entry at which the sum went past the limit.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// An entry's data is corrupt: CRC mismatch, truncated or undecodable compressed data,
    /// an unsupported compression method or encryption, or local and central headers that
    /// disagree.
    #[error("entry {entry:?} is corrupt: {reason}")]
    CorruptEntry {
        /// The entry.
        entry: String,
        /// What went wrong.
        reason: String,
    },
    /// The archive's structure is inconsistent (overlapping entries, data before the first
    /// entry, local headers the directory does not list).
    #[error("the zip archive is inconsistent: {reason}")]
    Inconsistent {
        /// What went wrong.
        reason: String,
    },
    /// An entry name is not valid UTF-8.
    #[error("entry name {entry:?} is not valid UTF-8")]
    NonUtf8Name {
        /// The name, lossily decoded.
        entry: String,
    },
    /// An entry path could escape the extraction folder or is otherwise unsafe.
    #[error("entry {entry:?} has an unsafe path: {reason}")]
    UnsafePath {
        /// The entry.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A source snapshot or resource path holds a dot-folder or dot-file (`.git`, `.cargo`,
    /// `.vscode`, …, or a name Windows or macOS take for one) that could run code when a tool
    /// opens the folder `xif download` writes.
    #[error("entry {entry:?} is refused: its part {component:?} is not allowed in a package: {reason}")]
    PlantedPath {
        /// The entry.
        entry: String,
        /// The offending path component.
        component: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The entries inflate to more than [`Limits::max_ratio`](crate::Limits) times the
    /// package's size (plus 1 MiB): a zip bomb.
    #[error(
        "the entries inflate to more than {ratio} times the package's {package} bytes (plus 1 MiB) at entry {entry:?}: \
         the package looks like a zip bomb"
    )]
    RatioTooHigh {
        /// The entry at which the sum went past the limit.
        entry: String,
        /// The package's (compressed) size.
        package: u64,
        /// The largest ratio allowed.
        ratio: u64,
    },
    /// A field of `manifest.json` is too long or holds characters it may not.
    #[error("manifest.json field {field:?} is refused: {reason}")]
    ManifestField {
        /// `extension`, `description` or `toolchain`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two entries have the same name (exactly or case-insensitively).
    #[error("entry {entry:?} appears more than once (names compared case-insensitively)")]
    DuplicateEntry {
        /// The repeated name.
        entry: String,
    },
    /// An entry is a symbolic link.
    #[error("entry {entry:?} is a symbolic link")]
    Symlink {
        /// The entry.
        entry: String,
    },
    /// An entry is a directory.
    #[error("entry {entry:?} is a directory")]
    Directory {
        /// The entry.
        entry: String,
    },
    /// An entry is neither a regular file, a directory nor a symbolic link (a device, a FIFO,
    /// a socket…).
    #[error("entry {entry:?} is not a regular file (unix mode {mode:o})")]
    NotRegularFile {
        /// The entry.
        entry: String,
        /// Its unix mode.
        mode: u32,
    },
    /// There is no `manifest.json`.
    #[error("the package has no manifest.json")]
    MissingManifest,
    /// `manifest.json` is not the first entry.
    #[error("manifest.json must be the first entry, but the first entry is {first:?}")]
    ManifestNotFirst {
        /// The first entry.
        first: String,
    },
    /// `manifest.json` is not valid JSON or does not have the expected fields.
    #[error("manifest.json is invalid: {reason}")]
    InvalidManifest {
        /// What is wrong.
        reason: String,
    },
    /// `manifest.json` has a format version this reader does not know.
    #[error("manifest.json has format version {found}, this reader supports version {supported}")]
    UnsupportedFormat {
        /// The version found.
        found: u64,
        /// The version supported, [`FORMAT_VERSION`](crate::FORMAT_VERSION).
        supported: u32,
    },
    /// The manifest lists an entry twice (exactly or case-insensitively).
    #[error("manifest.json lists entry {entry:?} more than once")]
    DuplicateManifestEntry {
        /// The entry.
        entry: String,
    },
    /// The manifest lists a path that is not valid for its kind: `manifest.json` itself, a path
    /// outside `extension.toml`, `component.wasm`, `source/…` and `resources/…`, or a kind that
    /// does not match the path.
    #[error("manifest.json lists entry {entry:?} as {kind}, which does not match its path")]
    KindMismatch {
        /// The entry.
        entry: String,
        /// The kind the manifest gives.
        kind: EntryKind,
    },
    /// The archive has an entry the manifest does not list.
    #[error("entry {entry:?} is not listed in manifest.json")]
    NotInManifest {
        /// The entry.
        entry: String,
    },
    /// The manifest lists an entry the archive does not have.
    #[error("manifest.json lists entry {entry:?}, which is missing from the package")]
    MissingFromArchive {
        /// The entry.
        entry: String,
    },
    /// An entry's size differs from the manifest.
    #[error("entry {entry:?} is {actual} bytes, manifest.json says {expected}")]
    SizeMismatch {
        /// The entry.
        entry: String,
        /// Size in the manifest.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// An entry's SHA-256 differs from the manifest.
    #[error("entry {entry:?} has SHA-256 {actual}, manifest.json says {expected}")]
    DigestMismatch {
        /// The entry.
        entry: String,
        /// SHA-256 in the manifest.
        expected: String,
        /// Actual SHA-256.
        actual: String,
    },
    /// There is no `extension.toml`.
    #[error("the package has no extension.toml")]
    MissingDefinition,
    /// There is no `component.wasm`.
    #[error("the package has no component.wasm")]
    MissingComponent,
    /// The component is a core WebAssembly module, not a component.
    #[error("entry {entry:?} is a core WebAssembly module, not a component")]
    NotAComponent {
        /// The entry.
        entry: String,
    },
    /// The component does not validate.
    #[error("entry {entry:?} is not a valid WebAssembly component: {reason}")]
    InvalidComponent {
        /// The entry.
        entry: String,
        /// The validator's message.
        reason: String,
    },
}
