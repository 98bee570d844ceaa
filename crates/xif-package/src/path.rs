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

/// The key under which two paths collide on a case-insensitive file system.
pub(crate) fn fold(path: &str) -> String {
    path.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::check;

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
