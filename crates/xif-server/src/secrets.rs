//! Secret settings at rest: sealed with XChaCha20-Poly1305 under the server's secret key, never
//! stored in plain text.
//!
//! - The key: 32 bytes, from `--secret-key-file FILE` ([`Config::secret_key_file`]) or
//!   `XIF_SECRET_KEY` ([`Config::secret_key`]), as hex or base64; when neither is given,
//!   `secret.key` in the data directory, generated with mode 0600 on first start. Nodes that share
//!   one database must share the key.
//! - A sealed value is `xif-sealed:1:<key id>:<base64(nonce ‖ ciphertext)>`, the key id being
//!   the first 4 bytes of the SHA-256 of the key in hex, the nonce 24 random bytes, and the
//!   associated data the extension's key and the setting's name: a sealed value moved to another
//!   row does not open.
//! - Opening with another key is an error that says so ([`Secrets::open`]), never garbage.
//!
//! **Architecture Invariant:** a secret setting's plain value exists only in memory (the
//! registry's settings, the call's context); `db.rs` only ever sees it sealed.
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::error::ServerError;

const PREFIX: &str = "xif-sealed:1:";
const NONCE: usize = 24;

/// The server's secret key, ready to seal and open values.
pub struct Secrets {
    cipher: XChaCha20Poly1305,
    id: String,
    /// Where the key came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("id", &self.id).field("source", &self.source).finish_non_exhaustive()
    }
}

/// Why a sealed value does not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// It was sealed with another key.
    #[error(
        "it was sealed with secret key {sealed_with}, but this server's key is {ours} ({source_}): start every node with the same key (--secret-key-file or XIF_SECRET_KEY)"
    )]
    OtherKey {
        /// The id of the key it was sealed with.
        sealed_with: String,
        /// This server's key id.
        ours: String,
        /// Where this server's key came from.
        source_: String,
    },
    /// It does not decrypt (damaged, or sealed with another key of the same id).
    #[error("it does not decrypt with this server's secret key {ours}: the stored value is damaged")]
    Damaged {
        /// This server's key id.
        ours: String,
    },
    /// It is not a sealed value at all.
    #[error("it is not a sealed value (set it again)")]
    NotSealed,
}

/// Opens the server's secret key (see the module documentation); generates `secret.key` in the
/// data directory when no key is configured and none is there yet.
pub fn open(config: &Config) -> Result<Secrets, ServerError> {
    let bad = |why: String| ServerError::Config(why);
    match (&config.secret_key_file, &config.secret_key) {
        (Some(_), Some(_)) => {
            Err(bad("both a secret key file (--secret-key-file) and a secret key (XIF_SECRET_KEY) are given: give one"
                .into()))
        }
        (Some(file), None) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| bad(format!("cannot read the secret key file {}: {e}", file.display())))?;
            let key = parse_key(&text).map_err(|why| bad(format!("the secret key file {}: {why}", file.display())))?;
            Ok(Secrets::new(&key, format!("key file {}", file.display())))
        }
        (None, Some(text)) => {
            let key = parse_key(text).map_err(|why| bad(format!("XIF_SECRET_KEY: {why}")))?;
            Ok(Secrets::new(&key, "XIF_SECRET_KEY".into()))
        }
        (None, None) => {
            let file = config.data_dir.join("secret.key");
            let key = default_key(&file)?;
            Ok(Secrets::new(&key, format!("key file {}", file.display())))
        }
    }
}

/// Reads `secret.key`, or creates it (mode 0600) with 32 random bytes as hex.
fn default_key(file: &Path) -> Result<[u8; 32], ServerError> {
    let dir_err = |source: std::io::Error| ServerError::DataDir { path: file.to_path_buf(), source };
    match std::fs::read_to_string(file) {
        Ok(text) => {
            warn_if_readable_by_others(file);
            parse_key(&text)
                .map_err(|why| ServerError::Config(format!("the secret key file {}: {why}", file.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| ServerError::Internal(format!("no randomness from the system: {e}")))?;
            write_new_key(file, &key).map_err(dir_err)?;
            tracing::info!(
                file = %file.display(),
                "generated the secret key that seals secret settings; keep it with the data (and give it to every node)"
            );
            Ok(key)
        }
        Err(e) => Err(dir_err(e)),
    }
}

fn write_new_key(file: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    f.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
    f.sync_all()
}

fn warn_if_readable_by_others(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %file.display(), "the secret key file can be read by other users: chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// 32 bytes as 64 hex digits or as base64 (surrounding white space ignored).
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| e.to_string())?
    } else {
        BASE64.decode(text).map_err(|_| "the key is neither 64 hex digits nor base64 of 32 bytes".to_string())?
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("the key is {} bytes long; it must be 32 (as 64 hex digits or base64)", bytes.len()))
}

impl Secrets {
    /// The sealer of this key.
    pub fn new(key: &[u8; 32], source: String) -> Secrets {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        Secrets { cipher: XChaCha20Poly1305::new(key.into()), id, source }
    }

    /// A short public id of the key (the first 4 bytes of its SHA-256, hex).
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// Seals `plain`, bound to `context` (which must be given again to open it).
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness from the system: {e}"))?;
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", self.id, BASE64.encode(out)))
    }

    /// Opens a value [`Secrets::seal`] made with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, OpenError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(OpenError::NotSealed)?;
        let (id, data) = rest.split_once(':').ok_or(OpenError::NotSealed)?;
        if id != self.id {
            return Err(OpenError::OtherKey {
                sealed_with: id.to_string(),
                ours: self.id.clone(),
                source_: self.source.clone(),
            });
        }
        let damaged = || OpenError::Damaged { ours: self.id.clone() };
        let bytes = BASE64.decode(data).map_err(|_| damaged())?;
        if bytes.len() < NONCE {
            return Err(damaged());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        let nonce = XNonce::try_from(nonce).map_err(|_| damaged())?;
        let plain =
            self.cipher.decrypt(&nonce, Payload { msg: ciphertext, aad: context.as_bytes() }).map_err(|_| damaged())?;
        String::from_utf8(plain).map_err(|_| damaged())
    }
}

/// The context a setting's value is sealed with: its extension and name.
pub fn setting_context(extension_key: &str, name: &str) -> String {
    format!("setting\0{extension_key}\0{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse_another_key_or_row() {
        let a = Secrets::new(&[7u8; 32], "test".into());
        let b = Secrets::new(&[8u8; 32], "test b".into());
        let sealed = a.seal("ctx", "hunter2").expect("seals");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(a.open("ctx", &sealed).expect("opens"), "hunter2");
        assert!(matches!(b.open("ctx", &sealed), Err(OpenError::OtherKey { .. })));
        assert!(matches!(a.open("other row", &sealed), Err(OpenError::Damaged { .. })));
        assert_eq!(a.open("ctx", "plain"), Err(OpenError::NotSealed));
        // Different nonces: sealing twice gives two texts.
        assert_ne!(a.seal("ctx", "hunter2").expect("seals"), sealed);
    }

    #[test]
    fn keys_read_as_hex_or_base64() {
        let hex = "00".repeat(32);
        assert_eq!(parse_key(&format!(" {hex}\n")).expect("hex"), [0u8; 32]);
        assert_eq!(parse_key(&BASE64.encode([1u8; 32])).expect("base64"), [1u8; 32]);
        assert!(parse_key("short").is_err());
        assert!(parse_key(&BASE64.encode([1u8; 16])).expect_err("16 bytes").contains("16 bytes"));
    }
}
