//! Feeds arbitrary bytes to the `.xif` reader: `read` and `inspect` must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = xif_package::Limits::default();
    let read = xif_package::read(data, &limits);
    let inspected = xif_package::inspect(data, &limits);
    // A package that reads is also one whose every entry inspects fine.
    if read.is_ok() {
        assert!(inspected.is_ok_and(|i| i.is_ok()));
    }
});
