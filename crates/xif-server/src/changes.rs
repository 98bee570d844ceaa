//! A change of an extension's callable surface (`xif_model::api::diff`) as the server words it:
//! its place in the `extension.toml` it is in, its class, its message and what callers see. The
//! one wording, for the publish's callers stage (`publish::callers_stage`) and for the version
//! diff (`ops::extensions::version_diff`, the API's `.../diff` and the Service Center's version
//! list and compare page).
use xif_model::api::ApiChange;
use xif_wire::ApiChangeInfo;

/// One of the two `extension.toml` files compared.
pub(crate) struct File<'a> {
    /// The version it is of.
    pub version: i64,
    /// Its text.
    pub source: &'a str,
    /// Whether a place in it names the version (`extension.toml of version 3`); the file being
    /// published is plain `extension.toml`.
    pub named: bool,
}

impl File<'_> {
    fn name(&self) -> String {
        if self.named { format!("extension.toml of version {}", self.version) } else { "extension.toml".into() }
    }
}

/// The change, located in the file it is in: `old` for what was removed, else `new`.
pub(crate) fn locate(c: &ApiChange, old: &File<'_>, new: &File<'_>) -> ApiChangeInfo {
    let file = if c.in_old { old } else { new };
    let at = c.location(old.source, new.source);
    let place = match at {
        Some((line, column)) => format!("{}:{line}:{column}", file.name()),
        None => file.name(),
    };
    ApiChangeInfo {
        kind: c.kind.as_str().into(),
        breaking: c.breaking,
        message: c.message.clone(),
        caller: c.caller.clone(),
        version: file.version,
        line: at.map(|(line, _)| line),
        column: at.map(|(_, column)| column),
        place,
    }
}

/// `breaking` or `compatible`.
pub(crate) fn class(c: &ApiChangeInfo) -> &'static str {
    if c.breaking { "breaking" } else { "compatible" }
}

/// The change on one line: `PLACE: breaking|compatible: MESSAGE; callers: WHAT THEY SEE`.
pub(crate) fn line(c: &ApiChangeInfo) -> String {
    format!("{}: {}: {}; callers: {}", c.place, class(c), c.message, c.caller)
}

/// "2 changes, 1 breaking", "1 change", or "no API change".
pub(crate) fn summary(changes: &[ApiChangeInfo]) -> String {
    let breaking = changes.iter().filter(|c| c.breaking).count();
    match (changes.len(), breaking) {
        (0, _) => "no API change".into(),
        (1, 0) => "1 change".into(),
        (n, 0) => format!("{n} changes"),
        (1, _) => "1 change, breaking".into(),
        (n, b) => format!("{n} changes, {b} breaking"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "[extension]\nname = \"E\"\n\n[actions.A]\n\n[actions.B]\n";
    const NEW: &str =
        "[extension]\nname = \"E\"\n\n[actions.A]\ninputs = { X = { type = \"Text\", default = \"\" } }\n";

    #[test]
    fn each_change_is_placed_in_its_file_and_worded_once() {
        let (old, new) = (xif_model::parse(OLD).0.expect("old"), xif_model::parse(NEW).0.expect("new"));
        let changes = xif_model::api::diff(&old, &new);
        let files = (File { version: 1, source: OLD, named: true }, File { version: 2, source: NEW, named: true });
        let located: Vec<ApiChangeInfo> = changes.iter().map(|c| locate(c, &files.0, &files.1)).collect();
        let lines: Vec<String> = located.iter().map(line).collect();
        assert_eq!(
            lines,
            [
                "extension.toml of version 2:5:12: compatible: action A has a new optional input X; callers: nothing: calls without it take its default",
                "extension.toml of version 1:6:10: breaking: action B is removed; callers: calls of B are answered 404 not_found",
            ]
        );
        assert_eq!((located[1].version, located[1].line, located[1].column), (1, Some(6), Some(10)));
        assert_eq!(located[1].kind, "action_removed");
        assert_eq!(summary(&located), "2 changes, 1 breaking");
        assert_eq!(summary(&located[..1]), "1 change");
        assert_eq!(summary(&[]), "no API change");
        // The file being published is plain extension.toml.
        let plain = File { version: 2, source: NEW, named: false };
        assert!(line(&locate(&changes[0], &files.0, &plain)).starts_with("extension.toml:5:12: compatible"));
    }
}
