//! Entry path rules, shared by the writer and the reader.

/// Longest entry name a zip can hold.
pub(crate) const MAX_PATH_BYTES: usize = u16::MAX as usize;

/// Checks that `path` is a safe relative path with `/` separators: not empty, not absolute, no
/// backslash, no drive letter or other `:`, no control character, no empty, `.` or `..`
/// component, at most [`MAX_PATH_BYTES`] bytes. Returns why not.
pub(crate) fn check(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("the path is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("the path is longer than 65535 bytes");
    }
    if path.starts_with('/') {
        return Err("the path is absolute");
    }
    if path.contains('\\') {
        return Err("the path contains a backslash");
    }
    if path.contains(':') {
        return Err("the path contains a drive letter or a ':'");
    }
    if path.chars().any(char::is_control) {
        return Err("the path contains a control character");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("the path has an empty component"),
            "." => return Err("the path has a '.' component"),
            ".." => return Err("the path has a '..' component"),
            _ => {}
        }
    }
    Ok(())
}

/// Dot-names a source snapshot or resource path may hold: harmless to every tool that opens a
/// folder. Compared case-insensitively, so `.GitIgnore` is one too.
pub const ALLOWED_DOT_NAMES: &[&str] = &[".gitignore"];

/// Code points that macOS's HFS+ ignores in file names (as git's `is_hfs_dotgit` does), so
/// `\u{200c}.git` is `.git` there.
fn hfs_ignorable(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// A path component as Windows and macOS see it: without the code points HFS+ ignores and
/// the trailing dots and spaces Windows drops, lowercased (both are case-insensitive).
fn normalize(component: &str) -> String {
    let kept: String = component.chars().filter(|c| !hfs_ignorable(*c)).collect();
    kept.trim_end_matches(['.', ' ']).to_lowercase()
}

/// Checks that no component of `path` (a source snapshot or resource path: `xif download`
/// writes it into an extension folder) is a dot-folder or dot-file other than
/// [`ALLOWED_DOT_NAMES`] — `.git`, `.cargo`, `.vscode`, `.envrc`… hold configuration that tools
/// run when they open the folder (git's `core.fsmonitor`, cargo's `rustc-wrapper`) — nor a name
/// that Windows or macOS would take for one: `.git.`, `.git `, `.GIT`, `\u{200c}.git`, or a
/// Windows short name such as `GIT~1`. Returns the offending component and why.
pub(crate) fn check_planted(path: &str) -> Result<(), (String, &'static str)> {
    for component in path.split('/') {
        let name = normalize(component);
        if name.is_empty() {
            return Err((component.to_string(), "a name of only dots and spaces is the folder itself on Windows"));
        }
        if name.starts_with('.') && !ALLOWED_DOT_NAMES.contains(&name.as_str()) {
            return Err((
                component.to_string(),
                "dot-folders and dot-files (.git, .cargo, .vscode, .envrc, …) hold configuration that tools run \
                 when they open the folder; a package may hold only .gitignore",
            ));
        }
        let stem = name.split('.').next().unwrap_or_default();
        if let Some((_, digits)) = stem.rsplit_once('~')
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err((
                component.to_string(),
                "it looks like a Windows short (8.3) name, which can stand for a dot-folder such as .git (GIT~1)",
            ));
        }
    }
    Ok(())
}

/// The key under which two paths collide on a case-insensitive file system.
pub(crate) fn fold(path: &str) -> String {
    path.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::{check, check_planted};

    #[test]
    fn refuses_planted_names() {
        for p in [
            ".git/config",
            "src/.git/config",
            ".GIT/config",
            ".git./config",
            ".git /config",
            ".git. . /hooks/pre-commit",
            "\u{200c}.git/config",
            ".g\u{200d}it/config",
            "GIT~1/config",
            "git~12/config",
            ".cargo/config.toml",
            ".hg/hgrc",
            ".svn/entries",
            ".vscode/settings.json",
            ".idea/workspace.xml",
            ".direnv/x",
            ".envrc",
            "src/.env",
            "...",
            "src/ ",
        ] {
            assert!(check_planted(p).is_err(), "{p:?}");
        }
        for p in ["src/lib.rs", ".gitignore", "src/.gitignore", "src/.GitIgnore", "a~b.rs", "x~/y", "v1.2/z", "...x"] {
            if p == "...x" {
                assert!(check_planted(p).is_err(), "a leading dot is a dot-file: {p:?}");
            } else {
                assert_eq!(check_planted(p), Ok(()), "{p:?}");
            }
        }
    }

    #[test]
    fn accepts_normal_paths() {
        for p in ["a", "src/lib.rs", "resources/words.txt", "a/b/c.d", "é/ü.txt", "...x"] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn refuses_unsafe_paths() {
        for p in
            ["", "/etc/passwd", "../evil", "a/../../b", "a/./b", "a//b", "a/", "a\\b", "C:/x", "c:x", "a\0b", "a\nb"]
        {
            assert!(check(p).is_err(), "{p:?}");
        }
        assert!(check(&"a".repeat(70_000)).is_err());
    }
}
