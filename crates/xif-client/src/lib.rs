//! The client side of Xif, as library functions the `xif` binary renders:
//!
//! - [`config`] — the servers you are connected to and their tokens (a file only you can read in
//!   your config directory), and how `--server`, `XIF_SERVER` and `XIF_TOKEN` pick one.
//! - [`client`] — an HTTP client for the Platform Server's API: login, upload (with progress),
//!   publish (its stages streamed as server-sent events), call, versions, rollback, tokens.
//! - [`download`] — recreates an editable extension folder from a package's source snapshot.
//! - [`pipeline`] — the 1-Click Publish: Verify → Update Source Code → Compile → Save → Upload →
//!   Publish, emitting DESIGN.md's events to a callback.
//!
//! **Architecture Invariant:** nothing here prints or prompts; the caller renders events and asks
//! the questions (so a terminal, `--json` and tests see the same pipeline).
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod download;
pub mod pipeline;

pub use client::{Client, ClientError, Consent, Gradual};
pub use config::{Config, ConfigError, Connection};
