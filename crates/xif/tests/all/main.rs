//! Integration tests: the real `xif` binary on real extension folders.
mod support;

mod again;
mod download;
pub mod login;
mod package;
mod publish;
mod remote;
mod run;
mod schemathesis;
mod serve;
mod studio;
