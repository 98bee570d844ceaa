//! The hardened reader.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read, Seek, SeekFrom};

use serde::Deserialize;
use zip::ZipArchive;

use crate::{
    EntryKind, FORMAT_VERSION, MANIFEST, Manifest, ManifestEntry, RESOURCE_PREFIX, ReadError, SOURCE_PREFIX, path,
    sha256_hex,
};

/// Unix file type bits.
const S_IFMT: u32 = 0o170_000;
/// Unix file type of a regular file.
const S_IFREG: u32 = 0o100_000;
/// Unix file type of a directory.
const S_IFDIR: u32 = 0o040_000;
/// Unix file type of a symbolic link.
const S_IFLNK: u32 = 0o120_000;

/// Signature of a zip central directory header.
const CENTRAL_HEADER_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];

/// Largest buffer reserved up front for one entry; larger entries grow as they are read, so a
/// lying header cannot make the reader reserve memory for data that is not there.
const INITIAL_BUFFER: u64 = 1 << 20;

/// What the compression ratio limit always allows on top of `max_ratio` × the package size, so
/// that small packages of very compressible text are not refused.
pub const RATIO_ALLOWANCE: u64 = 1 << 20;

/// Longest `description` in `manifest.json`, in characters (DESIGN.md: descriptions are at most
/// 255 characters).
pub const MAX_DESCRIPTION_CHARS: usize = 255;

/// Longest `toolchain` in `manifest.json`, in characters.
pub const MAX_TOOLCHAIN_CHARS: usize = 200;

/// Longest name in the `stubs` of `manifest.json`, in characters (an action's name, or a
/// source path).
pub const MAX_STUB_CHARS: usize = 300;

/// Longest `extension` name in `manifest.json`, in characters (element names are at most 50).
pub const MAX_EXTENSION_CHARS: usize = 50;

/// Resource limits enforced by [`read`] and [`inspect`].
///
/// What reading costs in memory is bounded by the uncompressed sizes the package may add up to:
/// `min(max_total_bytes, max_ratio × package size + 1 MiB)`, checked on the declared sizes before
/// anything is inflated and on the actual bytes while inflating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest package accepted, in bytes. Default 50 MiB.
    pub max_package_bytes: u64,
    /// Most entries accepted, `manifest.json` included. Default 10 000.
    pub max_entries: usize,
    /// Largest uncompressed entry, in bytes, declared or actual. Default 50 MiB.
    pub max_entry_bytes: u64,
    /// Largest sum of the uncompressed entries, in bytes, declared or actual. Default 100 MiB.
    pub max_total_bytes: u64,
    /// Largest ratio of the sum of the uncompressed entries to the package's size (with
    /// [`RATIO_ALLOWANCE`] on top): a zip bomb inflates a thousandfold, code and resources
    /// rarely tenfold. Default 100.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_package_bytes: 50 * 1024 * 1024,
            max_entries: 10_000,
            max_entry_bytes: 50 * 1024 * 1024,
            max_total_bytes: 100 * 1024 * 1024,
            max_ratio: 100,
        }
    }
}

/// A package that passed every check of [`read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The package digest: lowercase hex SHA-256 of [`Package::manifest_bytes`].
    pub digest: String,
    /// The exact bytes of `manifest.json`.
    pub manifest_bytes: Vec<u8>,
    /// The bytes of `extension.toml`.
    pub definition: Vec<u8>,
    /// The component, validated.
    pub component: Vec<u8>,
    /// The source snapshot: paths relative to the extension folder (without `source/`), in
    /// package order.
    pub sources: Vec<(String, Vec<u8>)>,
    /// The resources: paths as written in `extension.toml` (without the `resources/` folder the
    /// package stores them under), in package order.
    pub resources: Vec<(String, Vec<u8>)>,
}

impl Package {
    /// The stubs its source snapshot holds (see [`crate::stubs`]), whatever its manifest says.
    pub fn stubs(&self) -> Vec<crate::stubs::Stub> {
        crate::stubs::stubs_in(self.sources.iter().map(|(path, data)| (path.as_str(), data.as_slice())))
    }

    /// The bytes of the resource at `path`, as written in `extension.toml`.
    pub fn resource(&self, path: &str) -> Option<&[u8]> {
        self.resources.iter().find(|(p, _)| p == path).map(|(_, data)| data.as_slice())
    }
}

/// What [`inspect`] found: the manifest and every entry checked against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The package digest: lowercase hex SHA-256 of the `manifest.json` bytes.
    pub digest: String,
    /// The entries of the archive in zip order (without `manifest.json`), then the entries the
    /// manifest lists but the archive lacks.
    pub entries: Vec<InspectedEntry>,
}

impl Inspection {
    /// Whether every entry matches the manifest and the manifest lists every entry.
    ///
    /// [`read`] checks more: that `extension.toml` and `component.wasm` are present and that the
    /// component validates.
    pub fn is_ok(&self) -> bool {
        self.entries.iter().all(|e| e.status == EntryStatus::Ok)
    }
}

/// One entry as [`inspect`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectedEntry {
    /// Path of the entry in the zip.
    pub path: String,
    /// Actual uncompressed size; for [`EntryStatus::MissingFromArchive`], the manifest's.
    pub size: u64,
    /// Actual SHA-256, lowercase hex; for [`EntryStatus::MissingFromArchive`], the manifest's.
    pub sha256: String,
    /// How the entry compares with the manifest.
    pub status: EntryStatus,
}

/// How an entry compares with the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryStatus {
    /// Size and SHA-256 match the manifest.
    Ok,
    /// The size differs from the manifest's.
    SizeMismatch {
        /// Size in the manifest.
        expected: u64,
    },
    /// The size matches but the SHA-256 differs from the manifest's.
    DigestMismatch {
        /// SHA-256 in the manifest.
        expected: String,
    },
    /// The archive has the entry but the manifest does not list it.
    NotInManifest,
    /// The manifest lists the entry but the archive does not have it.
    MissingFromArchive,
}

/// Reads and fully checks a package.
///
/// Refuses, with an error naming the entry where there is one: a package over the limits; bytes
/// that are not a sound zip (truncated, CRC failure, inconsistent headers, data before the first
/// entry); too many entries, or entries too large alone or together (declared or actual
/// sizes); unsafe paths (`..`, `.` or empty components, absolute, backslash, drive letter,
/// control characters), non-UTF-8 names, names repeated even case-insensitively; symbolic
/// links, directories and other non-regular files; encrypted entries; a missing or not-first
/// `manifest.json`, one that is not valid JSON, has unknown fields or an unknown format
/// version, lists an entry twice or with a kind that does not match its path; an entry the
/// manifest does not list, a listed entry that is missing or whose size or SHA-256 differs; a
/// missing `extension.toml` or `component.wasm`; a component that is a core module or does not
/// validate. Never writes files.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Package, ReadError> {
    read_from(Cursor::new(bytes), limits)
}

/// [`read`] from a file or any seekable reader, without holding the compressed package in
/// memory: only the entries' uncompressed bytes are kept (within [`Limits`]).
pub fn read_from<R: Read + Seek>(source: R, limits: &Limits) -> Result<Package, ReadError> {
    let Opened { mut reader, manifest, manifest_bytes, digest } = Opened::open(source, limits)?;
    let listed: HashMap<&str, &ManifestEntry> = manifest.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    for name in reader.names.iter().skip(1) {
        if !listed.contains_key(name.as_str()) {
            return Err(ReadError::NotInManifest { entry: name.clone() });
        }
    }
    let present: HashSet<&str> = reader.names.iter().map(String::as_str).collect();
    for entry in &manifest.entries {
        if !present.contains(entry.path.as_str()) {
            return Err(ReadError::MissingFromArchive { entry: entry.path.clone() });
        }
    }

    let mut definition = None;
    let mut component = None;
    let mut sources = Vec::new();
    let mut resources = Vec::new();
    for index in 1..reader.names.len() {
        let (name, data) = reader.read_entry(index)?;
        let expected = listed.get(name.as_str()).ok_or_else(|| ReadError::NotInManifest { entry: name.clone() })?;
        let size = data.len() as u64;
        if size != expected.size {
            return Err(ReadError::SizeMismatch { entry: name, expected: expected.size, actual: size });
        }
        let sha256 = sha256_hex(&data);
        if sha256 != expected.sha256 {
            return Err(ReadError::DigestMismatch { entry: name, expected: expected.sha256.clone(), actual: sha256 });
        }
        match expected.kind {
            EntryKind::Definition => definition = Some(data),
            EntryKind::Component => component = Some(data),
            EntryKind::Source => {
                sources.push((strip(&name, SOURCE_PREFIX), data));
            }
            EntryKind::Resource => {
                resources.push((strip(&name, RESOURCE_PREFIX), data));
            }
        }
    }
    let definition = definition.ok_or(ReadError::MissingDefinition)?;
    let component = component.ok_or(ReadError::MissingComponent)?;
    crate::validate_component(&component)?;

    Ok(Package { manifest, digest, manifest_bytes, definition, component, sources, resources })
}

/// Checks every entry of a package against its manifest, without stopping at the first one
/// that differs.
///
/// The archive itself and the manifest must be sound, as for [`read`]: those errors (limits,
/// corrupt or unsafe entries, a bad manifest) are still returned as a [`ReadError`]. Unlike
/// [`read`], it does not require `extension.toml` and `component.wasm` nor validate the
/// component.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<Inspection, ReadError> {
    inspect_from(Cursor::new(bytes), limits)
}

/// [`inspect`] from a file or any seekable reader.
pub fn inspect_from<R: Read + Seek>(source: R, limits: &Limits) -> Result<Inspection, ReadError> {
    let Opened { mut reader, manifest, manifest_bytes: _, digest } = Opened::open(source, limits)?;
    let listed: HashMap<&str, &ManifestEntry> = manifest.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut entries = Vec::with_capacity(reader.names.len());
    for index in 1..reader.names.len() {
        let (name, data) = reader.read_entry(index)?;
        let size = data.len() as u64;
        let sha256 = sha256_hex(&data);
        let status = match listed.get(name.as_str()) {
            None => EntryStatus::NotInManifest,
            Some(m) if m.size != size => EntryStatus::SizeMismatch { expected: m.size },
            Some(m) if m.sha256 != sha256 => EntryStatus::DigestMismatch { expected: m.sha256.clone() },
            Some(_) => EntryStatus::Ok,
        };
        entries.push(InspectedEntry { path: name, size, sha256, status });
    }
    let present: HashSet<&str> = reader.names.iter().map(String::as_str).collect();
    for m in &manifest.entries {
        if !present.contains(m.path.as_str()) {
            entries.push(InspectedEntry {
                path: m.path.clone(),
                size: m.size,
                sha256: m.sha256.clone(),
                status: EntryStatus::MissingFromArchive,
            });
        }
    }
    Ok(Inspection { manifest, digest, entries })
}

/// `name` without `prefix` (which it is known to start with).
fn strip(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

/// An archive whose structure and manifest passed the checks.
struct Opened<R: Read + Seek> {
    reader: EntryReader<R>,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    digest: String,
}

/// Reads the entries of a checked archive within the limits.
struct EntryReader<R: Read + Seek> {
    archive: ZipArchive<R>,
    limits: Limits,
    /// Entry names in zip order; `names[0]` is `manifest.json`.
    names: Vec<String>,
    /// Uncompressed bytes read so far.
    total_read: u64,
    /// The most uncompressed bytes the entries may add up to: `max_total_bytes`, or less by the
    /// ratio limit.
    budget: u64,
    /// The package's size.
    package_size: u64,
}

/// How many times `needle` occurs in `source` from its start, read in chunks (so a file is not
/// held in memory).
fn count_occurrences<R: Read + Seek>(source: &mut R, needle: &[u8; 4]) -> std::io::Result<usize> {
    source.seek(SeekFrom::Start(0))?;
    let mut count = 0;
    let mut buf = vec![0u8; 64 * 1024];
    // The last bytes of the previous chunk, so an occurrence across two chunks is found.
    let mut carry = 0;
    loop {
        let n = source.read(&mut buf[carry..])?;
        if n == 0 {
            break;
        }
        let filled = carry + n;
        count += memchr::memmem::find_iter(&buf[..filled], needle).count();
        carry = (needle.len() - 1).min(filled);
        buf.copy_within(filled - carry..filled, 0);
    }
    Ok(count)
}

impl<R: Read + Seek> Opened<R> {
    /// Checks the archive's structure and every entry's metadata, then reads and checks the
    /// manifest.
    fn open(mut source: R, limits: &Limits) -> Result<Self, ReadError> {
        let unreadable = |e: std::io::Error| ReadError::NotZip { reason: e.to_string() };
        let size = source.seek(SeekFrom::End(0)).map_err(unreadable)?;
        if size > limits.max_package_bytes {
            return Err(ReadError::PackageTooLarge { size, limit: limits.max_package_bytes });
        }
        // Parsing the central directory costs memory per entry, so bound the number of entries
        // before parsing: every central directory header starts with this signature.
        let headers = count_occurrences(&mut source, &CENTRAL_HEADER_SIGNATURE).map_err(unreadable)?;
        if headers > limits.max_entries {
            return Err(ReadError::TooManyEntries { count: headers, limit: limits.max_entries });
        }
        source.seek(SeekFrom::Start(0)).map_err(unreadable)?;
        let budget = limits.max_total_bytes.min(size.saturating_mul(limits.max_ratio).saturating_add(RATIO_ALLOWANCE));
        let mut archive = ZipArchive::new(source).map_err(|e| ReadError::NotZip { reason: e.to_string() })?;
        if archive.len() > limits.max_entries {
            return Err(ReadError::TooManyEntries { count: archive.len(), limit: limits.max_entries });
        }
        if archive.offset() != 0 {
            return Err(ReadError::Inconsistent {
                reason: format!("{} bytes of data before the first entry", archive.offset()),
            });
        }
        if archive.has_duplicate_names() {
            let start = archive.central_directory_start();
            let mut source = archive.into_inner();
            return Err(ReadError::DuplicateEntry { entry: repeated_name(&mut source, start, size) });
        }

        let mut names = Vec::with_capacity(archive.len());
        let mut folded = HashSet::with_capacity(archive.len());
        let mut declared_total: u64 = 0;
        for index in 0..archive.len() {
            let entry = archive.by_index_data(index).map_err(|e| ReadError::NotZip { reason: e.to_string() })?;
            let name = match std::str::from_utf8(entry.name_raw()) {
                Ok(name) => name.to_string(),
                Err(_) => {
                    return Err(ReadError::NonUtf8Name {
                        entry: String::from_utf8_lossy(entry.name_raw()).into_owned(),
                    });
                }
            };
            if let Some(mode) = entry.unix_mode() {
                match mode & S_IFMT {
                    0 | S_IFREG => {}
                    S_IFLNK => return Err(ReadError::Symlink { entry: name }),
                    S_IFDIR => return Err(ReadError::Directory { entry: name }),
                    _ => return Err(ReadError::NotRegularFile { entry: name, mode }),
                }
            }
            if name.ends_with('/') {
                return Err(ReadError::Directory { entry: name });
            }
            path::check(&name).map_err(|reason| ReadError::UnsafePath { entry: name.clone(), reason })?;
            if !folded.insert(path::fold(&name)) {
                return Err(ReadError::DuplicateEntry { entry: name });
            }
            if entry.encrypted() {
                return Err(ReadError::CorruptEntry { entry: name, reason: "the entry is encrypted".to_string() });
            }
            let declared = entry.size();
            if declared > limits.max_entry_bytes {
                return Err(ReadError::EntryTooLarge { entry: name, size: declared, limit: limits.max_entry_bytes });
            }
            declared_total = declared_total.saturating_add(declared);
            if declared_total > limits.max_total_bytes {
                return Err(ReadError::TotalTooLarge { entry: name, limit: limits.max_total_bytes });
            }
            if declared_total > budget {
                return Err(ReadError::RatioTooHigh { entry: name, package: size, ratio: limits.max_ratio });
            }
            check_planted(&name)?;
            names.push(name);
        }
        archive.validate_header_consistency().map_err(|e| ReadError::Inconsistent { reason: e.to_string() })?;

        match names.first() {
            Some(first) if first == MANIFEST => {}
            Some(first) if names.iter().any(|n| n == MANIFEST) => {
                return Err(ReadError::ManifestNotFirst { first: first.clone() });
            }
            _ => return Err(ReadError::MissingManifest),
        }

        let mut reader = EntryReader { archive, limits: *limits, names, total_read: 0, budget, package_size: size };
        let (_, manifest_bytes) = reader.read_entry(0)?;
        let manifest = parse_manifest(&manifest_bytes, limits.max_entries)?;
        Ok(Opened { reader, manifest, digest: sha256_hex(&manifest_bytes), manifest_bytes })
    }
}

impl<R: Read + Seek> EntryReader<R> {
    /// Decompresses entry `index`, CRC-checked, reading at most one byte past the limits.
    fn read_entry(&mut self, index: usize) -> Result<(String, Vec<u8>), ReadError> {
        let name = self.names.get(index).cloned().unwrap_or_default();
        let remaining = self.budget.saturating_sub(self.total_read);
        let cap = self.limits.max_entry_bytes.min(remaining);
        let corrupt =
            |e: &dyn std::fmt::Display| ReadError::CorruptEntry { entry: name.clone(), reason: e.to_string() };
        let file = self.archive.by_index(index).map_err(|e| corrupt(&e))?;
        let initial = file.size().min(cap).min(INITIAL_BUFFER);
        let mut data = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
        file.take(cap.saturating_add(1)).read_to_end(&mut data).map_err(|e| corrupt(&e))?;
        let size = data.len() as u64;
        if size > self.limits.max_entry_bytes {
            return Err(ReadError::EntryTooLarge { entry: name, size, limit: self.limits.max_entry_bytes });
        }
        if size > remaining {
            if self.budget < self.limits.max_total_bytes {
                return Err(ReadError::RatioTooHigh {
                    entry: name,
                    package: self.package_size,
                    ratio: self.limits.max_ratio,
                });
            }
            return Err(ReadError::TotalTooLarge { entry: name, limit: self.limits.max_total_bytes });
        }
        self.total_read = self.total_read.saturating_add(size);
        Ok((name, data))
    }
}

/// Parses `manifest.json` and checks its entries' paths and kinds.
fn parse_manifest(bytes: &[u8], max_entries: usize) -> Result<Manifest, ReadError> {
    /// The format version and the number of entries, read first (without allocating for the
    /// entries) so that a future format gets a clear error and a huge entry list is refused
    /// before it is built.
    #[derive(Deserialize)]
    struct Probe {
        format: u64,
        #[serde(default)]
        entries: Count,
    }
    let invalid = |e: serde_json::Error| ReadError::InvalidManifest { reason: e.to_string() };
    let probe: Probe = serde_json::from_slice(bytes).map_err(invalid)?;
    if probe.format != u64::from(FORMAT_VERSION) {
        return Err(ReadError::UnsupportedFormat { found: probe.format, supported: FORMAT_VERSION });
    }
    if probe.entries.0 > max_entries {
        return Err(ReadError::TooManyEntries { count: probe.entries.0, limit: max_entries });
    }
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(invalid)?;
    check_field("extension", &manifest.extension, MAX_EXTENSION_CHARS, &[])?;
    check_field("description", &manifest.description, MAX_DESCRIPTION_CHARS, &['\n', '\t'])?;
    check_field("toolchain", &manifest.toolchain, MAX_TOOLCHAIN_CHARS, &[])?;
    if manifest.stubs.len() > manifest.entries.len() {
        return Err(ReadError::InvalidManifest { reason: "it lists more stubs than it has entries".into() });
    }
    for stub in &manifest.stubs {
        check_field("stubs", stub, MAX_STUB_CHARS, &[])?;
    }

    let mut seen = HashSet::with_capacity(manifest.entries.len());
    for entry in &manifest.entries {
        path::check(&entry.path).map_err(|reason| ReadError::UnsafePath { entry: entry.path.clone(), reason })?;
        if EntryKind::of_path(&entry.path) != Some(entry.kind) {
            return Err(ReadError::KindMismatch { entry: entry.path.clone(), kind: entry.kind });
        }
        if !seen.insert(path::fold(&entry.path)) {
            return Err(ReadError::DuplicateManifestEntry { entry: entry.path.clone() });
        }
        check_planted(&entry.path)?;
    }
    Ok(manifest)
}

/// Refuses a manifest text field longer than `max` characters or holding a control character
/// other than `allowed` (an escape sequence would reach the terminal of whoever lists versions).
fn check_field(field: &'static str, value: &str, max: usize, allowed: &[char]) -> Result<(), ReadError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ReadError::ManifestField { field, reason: format!("it is {chars} characters, more than {max}") });
    }
    if let Some(c) = value.chars().find(|c| c.is_control() && !allowed.contains(c)) {
        return Err(ReadError::ManifestField {
            field,
            reason: format!("it holds the control character {:?}", c.escape_unicode().to_string()),
        });
    }
    Ok(())
}

/// Refuses a source snapshot or resource entry (`source/…`, `resources/…`) whose path, as
/// written into an extension folder, holds a dot-folder or dot-file (see [`path::check_planted`]).
fn check_planted(entry: &str) -> Result<(), ReadError> {
    let inner = entry.strip_prefix(SOURCE_PREFIX).or_else(|| entry.strip_prefix(RESOURCE_PREFIX));
    match inner.map(path::check_planted) {
        Some(Err((component, reason))) => Err(ReadError::PlantedPath { entry: entry.to_string(), component, reason }),
        _ => Ok(()),
    }
}

/// The length of a JSON array, counted without keeping its elements.
#[derive(Default)]
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut count = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Count(count))
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// Names the first entry repeated in the central directory that starts at `start` of a package
/// of `size` bytes, by walking its headers; the zip reader keeps only one entry per name, so it
/// cannot tell.
fn repeated_name<R: Read + Seek>(source: &mut R, start: u64, size: u64) -> String {
    let mut directory = Vec::new();
    let read = source
        .seek(SeekFrom::Start(start))
        .and_then(|_| source.take(size.saturating_sub(start)).read_to_end(&mut directory));
    match read {
        Ok(_) => repeated_in(&directory, 0),
        Err(_) => "(unknown)".to_string(),
    }
}

/// [`repeated_name`] in a central directory at `start` of `bytes`.
fn repeated_in(bytes: &[u8], start: u64) -> String {
    const HEADER: usize = 46;
    let field = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(2)?)?;
        Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let mut seen = HashSet::new();
    let mut pos = usize::try_from(start).unwrap_or(usize::MAX);
    loop {
        let header = pos.checked_add(HEADER).and_then(|end| bytes.get(pos..end));
        let Some(header) = header else { break };
        if header[..4] != CENTRAL_HEADER_SIGNATURE {
            break;
        }
        let (Some(name_len), Some(extra_len), Some(comment_len)) = (field(pos + 28), field(pos + 30), field(pos + 32))
        else {
            break;
        };
        let name_start = pos + HEADER;
        let Some(name) = bytes.get(name_start..name_start + name_len) else {
            break;
        };
        if !seen.insert(name) {
            return String::from_utf8_lossy(name).into_owned();
        }
        pos = name_start + name_len + extra_len + comment_len;
    }
    "(unknown)".to_string()
}
