//! The fuzz corpora of the definition (`fuzz/corpus/parse_definition`) and of the JSON value
//! conversion (`fuzz/corpus/json_value`), replayed as a normal test through the very checks the
//! fuzz targets run (`fuzz/checks/model.rs`, included here by path): the committed seeds, and any
//! crash input copied there (`crash-*`), stay covered without cargo-fuzz.
use std::path::PathBuf;

#[path = "../../../fuzz/checks/model.rs"]
mod model;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "only {} files in {}", files.len(), dir.display());
    files
}

/// Runs `check` on every file, reporting every file that panics by name.
fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let failed: Vec<String> = corpus(target)
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| check(bytes)).is_err())
        .map(|(name, _)| name)
        .collect();
    assert!(failed.is_empty(), "fuzz/corpus/{target}: these inputs fail the checks: {failed:?}");
}

#[test]
fn replay_parse_definition_corpus() {
    replay("parse_definition", model::parse_definition);
}

#[test]
fn replay_json_value_corpus() {
    let def = model::values_definition();
    replay("json_value", |bytes| model::json_value(&def, bytes));
}

/// The seeds exercise what they are meant to: the test extensions' definitions verify clean (so
/// the deep checks of a clean definition run), and most value seeds read as their type.
#[test]
fn seeds_reach_the_deep_checks() {
    let clean = corpus("parse_definition")
        .into_iter()
        .filter(|(_, b)| {
            let text = String::from_utf8_lossy(b);
            let (def, diags) = xif_model::parse(&text);
            def.is_some_and(|d| diags.is_empty() && xif_model::verify::verify(&d).iter().all(|d| !d.is_error()))
        })
        .count();
    assert!(clean >= 5, "only {clean} seed definitions verify clean");
    let def = model::values_definition();
    let read = corpus("json_value")
        .into_iter()
        .filter(|(_, b)| {
            let text = String::from_utf8_lossy(b);
            let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
            let Ok(json) = serde_json::from_str(body) else { return false };
            match head.strip_prefix("action ") {
                Some(a) => def.action(a).is_some_and(|a| xif_model::value::inputs_from_json(&def, a, &json).is_ok()),
                None => xif_model::Type::parse_in(head, &|n| def.record(n).is_some())
                    .is_ok_and(|t| xif_model::value::from_json(&def, &t, &json, "", None).is_ok()),
            }
        })
        .count();
    assert!(read >= 15, "only {read} value seeds read as their type");
}
