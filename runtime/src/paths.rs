//! Semantic paths: the per-instance string <-> `XrPath` table and the rules
//! for well-formed path strings and names.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// `XR_MAX_PATH_LENGTH` including the terminating NUL.
pub const MAX_PATH_LENGTH: usize = 256;
/// A generous bound on distinct paths per instance
/// (`XR_ERROR_PATH_COUNT_EXCEEDED` past it).
pub const MAX_PATHS: usize = 1 << 20;

/// A path atom as apps see it (`XrPath`); 0 is `XR_NULL_PATH`.
pub type PathId = u64;

/// Path atoms of one instance.
#[derive(Default)]
pub struct PathTable {
    by_string: HashMap<String, PathId>,
    strings: Vec<String>,
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
}

/// Checks the spec's rules for a well-formed path string: it starts with
/// `/`, does not end with `/`, has no empty component, only lower-case
/// ASCII letters, digits, `-`, `_` and `.` in components, and no component
/// made only of dots.
pub fn validate_path(s: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::path_format_invalid(format!(
            "path \"{s}\" is not well-formed: {why}"
        )))
    };
    if s.len() + 1 > MAX_PATH_LENGTH {
        return bad("too long");
    }
    let Some(rest) = s.strip_prefix('/') else {
        return bad("must start with '/'");
    };
    if rest.is_empty() {
        return bad("empty path");
    }
    for comp in rest.split('/') {
        if comp.is_empty() {
            return bad("empty component (\"//\" or trailing '/')");
        }
        if !comp.bytes().all(is_name_char) {
            return bad("only a-z, 0-9, '-', '_' and '.' are allowed");
        }
        if comp.bytes().all(|c| c == b'.') {
            return bad("a component cannot be only dots");
        }
    }
    Ok(())
}

/// Checks a name of an action or action set (one path component's rules).
pub fn validate_name(s: &str) -> Result<()> {
    if s.is_empty() {
        // The spec's code for an empty action or action set name.
        return Err(Error::name_invalid("the name is empty"));
    }
    if !s.bytes().all(is_name_char) || s.bytes().all(|c| c == b'.') {
        return Err(Error::path_format_invalid(format!(
            "name \"{s}\" is not well-formed: use only a-z, 0-9, '-', '_' and '.'"
        )));
    }
    Ok(())
}

impl PathTable {
    /// The atom of a well-formed path string, creating it on first use.
    pub fn intern(&mut self, s: &str) -> Result<PathId> {
        validate_path(s)?;
        if let Some(&id) = self.by_string.get(s) {
            return Ok(id);
        }
        if self.strings.len() >= MAX_PATHS {
            return Err(Error::path_count_exceeded(
                "too many distinct paths in this instance",
            ));
        }
        self.strings.push(s.to_owned());
        let id = self.strings.len() as PathId;
        self.by_string.insert(s.to_owned(), id);
        Ok(id)
    }

    /// The string of an atom; `XR_ERROR_PATH_INVALID` if it was never made.
    pub fn string(&self, id: PathId) -> Result<&str> {
        if id == 0 {
            return Err(Error::path_invalid("XR_NULL_PATH is not a valid path"));
        }
        self.strings
            .get(id as usize - 1)
            .map(String::as_str)
            .ok_or_else(|| Error::path_invalid(format!("{id} is not a path of this instance")))
    }

    /// The atom of a string if it already exists.
    pub fn lookup(&self, s: &str) -> Option<PathId> {
        self.by_string.get(s).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_paths() {
        for ok in [
            "/user/hand/left",
            "/a",
            "/interaction_profiles/khr/simple_controller",
            "/x.y/z-1_",
        ] {
            assert!(validate_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "user",
            "/user/",
            "//user",
            "/User",
            "/a//b",
            "/a/../b",
            "/a/./b",
            "/a b",
            "/a/\u{e9}",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        assert!(validate_path(&format!("/{}", "a".repeat(254))).is_ok());
        assert!(validate_path(&format!("/{}", "a".repeat(255))).is_err());
    }

    #[test]
    fn atoms_are_stable() {
        let mut t = PathTable::default();
        let a = t.intern("/user/hand/left").unwrap();
        assert_eq!(t.intern("/user/hand/left").unwrap(), a);
        assert_ne!(t.intern("/user/hand/right").unwrap(), a);
        assert_eq!(t.string(a).unwrap(), "/user/hand/left");
        assert!(t.string(0).is_err());
        assert!(t.string(999).is_err());
    }
}
