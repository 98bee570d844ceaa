//! Actions still stubs: the calls to `ActionError::not_implemented("Name")` that the stubs of
//! `xif update-source` make. A package lists them in its manifest ([`crate::Manifest::stubs`]);
//! `xif publish`, `xif upload` and the Platform Server refuse to put such a package live, while
//! `xif compile` and `xif run` keep working on a half-finished extension.
use std::ops::Range;

/// What a stub calls; the generated glue defines it.
pub const STUB_CALL: &str = "ActionError::not_implemented(";

/// One call to [`STUB_CALL`] in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StubCall {
    /// The action it names (the string literal it is called with), or `None` when it is called
    /// with something else.
    pub action: Option<String>,
    /// The byte range of the call's name, `ActionError::not_implemented`.
    pub span: Range<usize>,
}

/// A stub found in a package's source snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stub {
    /// The action it names, or the file when the call names none.
    pub action: String,
    /// The source file, relative to the extension folder (`src/actions/farewell.rs`).
    pub file: String,
    /// 1-based line of the call.
    pub line: usize,
    /// 1-based column (in characters) of the call.
    pub column: usize,
}

/// Whether a source snapshot path is one a stub is looked for in: Rust files under `src/`, but not
/// the generated ones.
pub fn is_scanned(path: &str) -> bool {
    path.starts_with("src/") && path.ends_with(".rs") && !path.starts_with("src/generated/")
}

/// Whether `path` is a file of `src/actions/` that is no action's (`action_files`, the files of the
/// definition's actions, e.g. `src/actions/farewell.rs`): such a file is not compiled (Verify warns
/// of it, W061), so its stubs do not count.
pub fn is_orphan(path: &str, action_files: &[String]) -> bool {
    path.strip_prefix("src/actions/").is_some_and(|f| !f.contains('/') && f != "mod.rs")
        && !action_files.iter().any(|a| a == path)
}

/// The calls to [`STUB_CALL`] in `src`, outside `//` comments, in order.
pub fn stub_calls(src: &str) -> Vec<StubCall> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = src[from..].find(STUB_CALL).map(|i| from + i) {
        from = at + STUB_CALL.len();
        let line_start = src[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
        if src[line_start..at].contains("//") {
            continue;
        }
        let rest = src[from..].trim_start();
        let action = rest
            .strip_prefix('"')
            .and_then(|r| r.find('"').map(|end| &r[..end]))
            .filter(|name| !name.contains('\\'))
            .map(str::to_string);
        found.push(StubCall { action, span: at..from - 1 });
    }
    found
}

/// The stubs in a source snapshot (paths relative to the extension folder), in path order; the
/// action names them, or the file when the call names none.
pub fn stubs_in<'a>(sources: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<Stub> {
    let mut stubs = Vec::new();
    for (path, bytes) in sources {
        if !is_scanned(path) {
            continue;
        }
        let Ok(src) = std::str::from_utf8(bytes) else { continue };
        for call in stub_calls(src) {
            let before = &src[..call.span.start];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map(|i| i + 1).unwrap_or(0)..].chars().count() + 1;
            stubs.push(Stub {
                action: call.action.unwrap_or_else(|| path.to_string()),
                file: path.to_string(),
                line,
                column,
            });
        }
    }
    stubs.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    stubs
}

/// The names a manifest lists: each stub's action once, sorted.
pub fn names(stubs: &[Stub]) -> Vec<String> {
    let mut names: Vec<String> = stubs.iter().map(|s| s.action.clone()).collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_calls_with_their_action_and_skips_comments() {
        let src = "fn a() {\n    // Err(ActionError::not_implemented(\"Old\"))\n    Err(ActionError::not_implemented( \"Farewell\"))\n}\nfn b() { ActionError::not_implemented(NAME) }\n";
        let calls = stub_calls(src);
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0].action.as_deref(), Some("Farewell"));
        assert_eq!(&src[calls[0].span.clone()], "ActionError::not_implemented");
        assert_eq!(calls[1].action, None);
    }

    #[test]
    fn stubs_in_a_snapshot_name_file_line_and_column() {
        let stub = b"//! x\nfn f() -> R {\n    Err(ActionError::not_implemented(\"Farewell\"))\n}\n".to_vec();
        let other = b"fn g() { ActionError::not_implemented(x) }".to_vec();
        let generated = b"ActionError::not_implemented(\"Glue\")".to_vec();
        let sources = [
            ("src/actions/farewell.rs", stub.as_slice()),
            ("src/lib.rs", other.as_slice()),
            ("src/generated/mod.rs", generated.as_slice()),
            ("Cargo.toml", generated.as_slice()),
        ];
        let stubs = stubs_in(sources);
        assert_eq!(
            stubs,
            vec![
                Stub { action: "Farewell".into(), file: "src/actions/farewell.rs".into(), line: 3, column: 9 },
                Stub { action: "src/lib.rs".into(), file: "src/lib.rs".into(), line: 1, column: 10 },
            ]
        );
        assert_eq!(names(&stubs), vec!["Farewell".to_string(), "src/lib.rs".to_string()]);
    }

    #[test]
    fn files_of_actions_that_are_gone_are_orphans() {
        let actions = ["src/actions/greet.rs".to_string()];
        assert!(!is_orphan("src/actions/greet.rs", &actions));
        assert!(is_orphan("src/actions/farewell.rs", &actions));
        assert!(!is_orphan("src/actions/mod.rs", &actions));
        assert!(!is_orphan("src/actions/util/farewell.rs", &actions));
        assert!(!is_orphan("src/lib.rs", &actions));
    }
}
