//! The Platform Server's integration tests: each starts the real server (in-process, on a free
//! loopback port, with a temporary data directory) and talks HTTP to it.
//!
//! The test extensions' components are prebuilt by `cargo xtask fixtures`.
mod account;
mod admin;
mod calls;
mod console;
mod entities;
mod hostile_auth;
mod hostile_calls;
mod hostile_packages;
mod hostile_publish;
mod hostile_transport;
mod observe;
mod openapi;
mod publish;
mod rollout;
mod support;
