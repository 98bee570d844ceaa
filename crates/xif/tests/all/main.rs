//! Integration tests: the real `xif` binary on real extension folders.
mod support;

mod again;
mod download;
mod examples;
mod hostile_auth;
mod hostile_calls;
mod hostile_packages;
mod hostile_transport;
pub mod login;
mod logs;
mod package;
mod publish;
mod remote;
mod run;
mod schemathesis;
mod serve;
mod settings;
mod studio;
