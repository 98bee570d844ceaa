//! `xif inspect` on good and tampered packages.
use std::io::{Read as _, Write as _};

use crate::support::*;

/// Rewrites a package with `path`'s content replaced, the manifest unchanged.
fn tamper(bytes: &[u8], path: &str) -> Vec<u8> {
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut e = zin.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if name == path {
            data[0] ^= 1;
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn inspect_names_the_tampered_entry() {
    let (_tmp, dir) = new_extension("Tamper");
    compile(&dir);
    save(&dir);
    let pkg = dir.join("Tamper.xif");
    let bytes = std::fs::read(&pkg).unwrap();
    let bad = dir.join("bad.xif");
    std::fs::write(&bad, tamper(&bytes, "resources/resources/greeting.txt")).unwrap();
    let out = run_code(xif().arg("inspect").arg(&bad), 1);
    let err = stderr(&out);
    assert!(err.contains("entry resources/resources/greeting.txt does not match"), "{err}");
    assert!(err.contains("1 error"), "{err}");
    let j = json(&run_code(xif().arg("inspect").arg("--json").arg(&bad), 1));
    assert_eq!(j["ok"], false);
    let ok = json(&run_ok(xif().arg("inspect").arg("--json").arg(&pkg)));
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["extension"], "Tamper");
}
