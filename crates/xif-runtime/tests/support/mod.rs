//! The test extension `tests/extensions/RuntimeTest`, compiled once by `cargo xtask fixtures`
//! (the real Compile step of xif-build, into the shared target folder).
use std::path::Path;
use std::sync::{Arc, OnceLock};

use xif_model::Definition;

/// The compiled test extension.
pub struct Guest {
    /// Its definition (`extension.toml`).
    pub def: Arc<Definition>,
    /// The component.
    pub component: Vec<u8>,
}

/// The test extension, read on first use. Panics (failing the test) when it has not been
/// compiled: run `cargo xtask fixtures` (scripts/test.sh does).
pub fn guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/extensions/RuntimeTest");
        let toml = std::fs::read_to_string(dir.join("extension.toml")).expect("reading extension.toml");
        let (def, diags) = xif_model::parse(&toml);
        let def = def.unwrap_or_else(|| panic!("extension.toml does not parse: {diags:?}"));
        let path = dir.join(".xif/build/component.wasm");
        let component = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e}; compile the test extensions with `cargo xtask fixtures`", path.display())
        });
        Guest { def: Arc::new(def), component }
    })
}
