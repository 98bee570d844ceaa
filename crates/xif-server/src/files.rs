//! The data directory's files: content-addressed packages (`packages/<digest>.xif`) and the
//! cache of native code (`cache/<digest>-<compatibility hash>.cwasm`).
//!
//! Every file is written to a scratch file in `tmp/` (same file system), synced, then renamed
//! into place: a crash leaves either the whole file or none. An upload streams into such a
//! scratch file ([`Scratch`]) and is read from there, never held whole in memory.
//!
//! On PostgreSQL ([`Files::keep_packages_in`]) packages live in the database instead (table
//! `packages`, by digest): an upload still streams into a bounded scratch file first, then goes
//! into the database; the disk keeps only the cache of native code, rebuilt on demand.
//!
//! Packages are unpacked ([`Files::unpack`], [`Files::unpack_stored`]) at most
//! `Config::max_unpacks` at a time: each costs up to the reader's limit of uncompressed bytes.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt as _;

/// The data directory.
#[derive(Debug)]
pub struct Files {
    packages: PathBuf,
    cache: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
    /// Permits to unpack a package (read it with the hardened reader).
    unpacks: tokio::sync::Semaphore,
    /// Where packages are kept when not in `packages/` (PostgreSQL).
    db: Option<xif_store::Db>,
    /// The `extension.toml` of stored packages, by digest (a package never changes), so that
    /// comparing versions does not unpack every package again: at most [`DEFINITIONS_KEPT`]
    /// of at most [`DEFINITION_KEPT_BYTES`] each.
    definitions: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<str>>>,
}

/// How many stored definitions [`Files::stored_definition`] keeps...
pub const DEFINITIONS_KEPT: usize = 512;
/// ...of at most this size each (larger ones are read again each time): at most 32 MiB in all.
pub const DEFINITION_KEPT_BYTES: usize = 64 * 1024;

/// A scratch file in `tmp/` being written; removed when dropped unless
/// [`Files::put_package_file`] moved it into place.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    len: u64,
}

impl Scratch {
    /// Appends `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).await?,
            None => return Err(std::io::Error::other("the scratch file is closed")),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Flushes, syncs and closes the file (no more writes).
    pub async fn finish(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        Ok(())
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `digest` is a SHA-256 in lowercase hex (the only thing ever put in a file name).
pub fn is_digest(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_name(part: &str) -> std::io::Result<()> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unsafe file name part {part:?}")));
    }
    Ok(())
}

impl Files {
    /// Opens (creating) the folders below `data_dir`, and empties `tmp/` of leftovers. At most
    /// `max_unpacks` packages (at least one) are unpacked at a time.
    pub fn open(data_dir: &Path, max_unpacks: usize) -> std::io::Result<Files> {
        let files = Files {
            packages: data_dir.join("packages"),
            cache: data_dir.join("cache"),
            tmp: data_dir.join("tmp"),
            counter: AtomicU64::new(0),
            unpacks: tokio::sync::Semaphore::new(max_unpacks.max(1)),
            db: None,
            definitions: Default::default(),
        };
        for dir in [&files.packages, &files.cache, &files.tmp] {
            std::fs::create_dir_all(dir)?;
        }
        for entry in std::fs::read_dir(&files.tmp)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(files)
    }

    /// Keeps packages in `db` (PostgreSQL, shared by every node) instead of `packages/`.
    pub fn keep_packages_in(&mut self, db: xif_store::Db) {
        self.db = Some(db);
    }

    async fn package_from_db(db: &xif_store::Db, digest: &str) -> std::io::Result<Vec<u8>> {
        db.package(digest).await.map_err(std::io::Error::other)?.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("package {digest} is not in the database"))
        })
    }

    fn package_path(&self, digest: &str) -> std::io::Result<PathBuf> {
        if !is_digest(digest) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a digest: {digest:?}")));
        }
        Ok(self.packages.join(format!("{digest}.xif")))
    }

    fn native_path(&self, digest: &str, compatibility: &str) -> std::io::Result<PathBuf> {
        check_name(compatibility)?;
        if !is_digest(digest) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a digest: {digest:?}")));
        }
        Ok(self.cache.join(format!("{digest}-{compatibility}.cwasm")))
    }

    /// Stores a package under its digest (nothing to do when it is already there).
    #[cfg(test)]
    async fn put_package(&self, digest: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        let path = self.package_path(digest)?;
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(());
        }
        self.write_atomic(path, bytes).await
    }

    /// Reads a stored package.
    pub async fn get_package(&self, digest: &str) -> std::io::Result<Vec<u8>> {
        if let Some(db) = &self.db {
            return Self::package_from_db(db, digest).await;
        }
        tokio::fs::read(self.package_path(digest)?).await
    }

    /// A new, empty scratch file in `tmp/`.
    pub async fn scratch(&self) -> std::io::Result<Scratch> {
        let path = self.scratch_path();
        let file = tokio::fs::File::create(&path).await?;
        Ok(Scratch { path, file: Some(file), len: 0 })
    }

    /// Stores the finished scratch file `scratch` as the package `digest` (moved into place; when
    /// the package is already there, the scratch file is just removed).
    pub async fn put_package_file(&self, digest: &str, mut scratch: Scratch) -> std::io::Result<()> {
        let path = self.package_path(digest)?;
        scratch.finish().await?;
        if let Some(db) = &self.db {
            // Bounded by the upload limit; the scratch file is removed when dropped.
            let bytes = tokio::fs::read(&scratch.path).await?;
            return db.put_package(digest, &bytes).await.map_err(std::io::Error::other);
        }
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() == scratch.len()) {
            return Ok(());
        }
        tokio::fs::rename(&scratch.path, &path).await?;
        scratch.path = PathBuf::new();
        if let Some(dir) = path.parent() {
            let dir = dir.to_path_buf();
            // Make the rename durable (best effort: not every file system allows it).
            let _ = tokio::task::spawn_blocking(move || std::fs::File::open(dir).and_then(|d| d.sync_all())).await;
        }
        Ok(())
    }

    /// Reads the package in the file at `path` with the hardened reader, on the blocking pool,
    /// once one of the unpack permits is free. The outer error is the file's, the inner the
    /// package's.
    pub async fn unpack(
        &self,
        path: &Path,
        limits: xif_package::Limits,
    ) -> std::io::Result<Result<xif_package::Package, xif_package::ReadError>> {
        let _permit = self.unpacks.acquire().await.map_err(std::io::Error::other)?;
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            Ok(xif_package::read_from(std::io::BufReader::new(file), &limits))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// [`Files::unpack`] of the stored package `digest`.
    pub async fn unpack_stored(
        &self,
        digest: &str,
        limits: xif_package::Limits,
    ) -> std::io::Result<Result<xif_package::Package, xif_package::ReadError>> {
        if let Some(db) = &self.db {
            let bytes = Self::package_from_db(db, digest).await?;
            let _permit = self.unpacks.acquire().await.map_err(std::io::Error::other)?;
            return tokio::task::spawn_blocking(move || {
                Ok(xif_package::read_from(std::io::Cursor::new(bytes), &limits))
            })
            .await
            .map_err(std::io::Error::other)?;
        }
        let path = self.package_path(digest)?;
        self.unpack(&path, limits).await
    }

    /// The `extension.toml` text of the stored package `digest` (read with the hardened reader
    /// on first use, then kept: see [`Files::definitions`]).
    pub async fn stored_definition(
        &self,
        digest: &str,
        limits: xif_package::Limits,
    ) -> std::io::Result<Result<std::sync::Arc<str>, xif_package::ReadError>> {
        if let Some(kept) = self.definitions.lock().unwrap_or_else(|p| p.into_inner()).get(digest) {
            return Ok(Ok(kept.clone()));
        }
        let package = match self.unpack_stored(digest, limits).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let text: std::sync::Arc<str> = String::from_utf8_lossy(&package.definition).into();
        if text.len() <= DEFINITION_KEPT_BYTES {
            let mut kept = self.definitions.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() >= DEFINITIONS_KEPT {
                kept.clear();
            }
            kept.insert(digest.to_string(), text.clone());
        }
        Ok(Ok(text))
    }

    fn scratch_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{}-{n}.part", std::process::id()))
    }

    /// Removes a stored package and its native code (any compatibility hash).
    pub async fn remove_package(&self, digest: &str) -> std::io::Result<()> {
        if let Some(db) = &self.db {
            db.delete_package_if_unused(digest).await.map_err(std::io::Error::other)?;
        } else {
            match tokio::fs::remove_file(self.package_path(digest)?).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let prefix = format!("{digest}-");
        let mut dir = tokio::fs::read_dir(&self.cache).await?;
        while let Some(entry) = dir.next_entry().await? {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }

    /// The cached native code of a package for a runtime, if there is any.
    pub async fn get_native(&self, digest: &str, compatibility: &str) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.native_path(digest, compatibility)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Caches native code.
    pub async fn put_native(&self, digest: &str, compatibility: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.write_atomic(self.native_path(digest, compatibility)?, bytes).await
    }

    /// Writes a scratch file in `tmp/`, syncs it, renames it to `path`.
    async fn write_atomic(&self, path: PathBuf, bytes: Vec<u8>) -> std::io::Result<()> {
        let scratch = self.scratch_path();
        tokio::task::spawn_blocking(move || {
            let result = (|| {
                let mut f = std::fs::File::create(&scratch)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                drop(f);
                std::fs::rename(&scratch, &path)?;
                if let Some(dir) = path.parent() {
                    // Make the rename durable (best effort: not every file system allows it).
                    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                }
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&scratch);
            }
            result
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        assert!(is_digest(&"a".repeat(64)));
        assert!(!is_digest(&"A".repeat(64)));
        assert!(!is_digest("../../etc/passwd"));
        assert!(!is_digest(&"a".repeat(63)));
    }

    #[tokio::test]
    async fn writes_and_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path(), 2).expect("open");
        let digest = "b".repeat(64);
        files.put_package(&digest, b"abc".to_vec()).await.expect("put");
        assert_eq!(files.get_package(&digest).await.expect("get"), b"abc");
        assert!(files.get_package("../x").await.is_err());
        files.put_native(&digest, "0123abcd", b"native".to_vec()).await.expect("put native");
        assert_eq!(files.get_native(&digest, "0123abcd").await.expect("get"), Some(b"native".to_vec()));
        assert!(files.get_native(&digest, "../x").await.is_err());
        files.remove_package(&digest).await.expect("remove");
        assert_eq!(files.get_native(&digest, "0123abcd").await.expect("get"), None);
        assert!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").next().is_none());
    }

    #[tokio::test]
    async fn scratch_files_are_removed_unless_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path(), 1).expect("open");
        let tmp_is_empty = || std::fs::read_dir(dir.path().join("tmp")).expect("tmp").next().is_none();
        let mut dropped = files.scratch().await.expect("scratch");
        dropped.write(b"partial").await.expect("write");
        assert!(!tmp_is_empty());
        drop(dropped);
        assert!(tmp_is_empty(), "a refused upload leaves nothing behind");
        let mut kept = files.scratch().await.expect("scratch");
        kept.write(b"abc").await.expect("write");
        let digest = "c".repeat(64);
        files.put_package_file(&digest, kept).await.expect("put");
        assert_eq!(files.get_package(&digest).await.expect("get"), b"abc");
        assert!(tmp_is_empty());
    }
}
