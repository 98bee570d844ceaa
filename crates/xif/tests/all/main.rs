//! Integration tests: the real `xif` binary on real extension folders.
mod support;

mod package;
mod run;
mod serve;
mod studio;
