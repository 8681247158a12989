//! Driver discovery: JSON manifests in the XDG folders and in
//! `PARALLAX_DRIVER_PATH`.
//!
//! A manifest (`*.json`) looks like
//! ```json
//! { "file_format_version": "1.0.0",
//!   "driver": { "name": "c-sample", "library_path": "libparallax_driver_c.so",
//!               "abi_version": "1.0", "config": { "any": "json" } } }
//! ```
//! A relative `library_path` is relative to the manifest's folder. Folders
//! searched, in order (the first manifest of a name wins, later ones are
//! reported as shadowed):
//! 1. each entry of `PARALLAX_DRIVER_PATH` (colon-separated): a manifest
//!    file, a folder of manifests, or a driver library (`.so`) itself;
//! 2. `$XDG_CONFIG_HOME/parallax/drivers` (default `~/.config/...`), then
//!    each of `$XDG_CONFIG_DIRS` (default `/etc/xdg`) + `/parallax/drivers`;
//! 3. `$XDG_DATA_HOME/parallax/drivers` (default `~/.local/share/...`), then
//!    each of `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`).

use crate::ffi::{PX_ABI_VERSION_MAJOR, PX_ABI_VERSION_MINOR};
use crate::host::{load, AbiBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct ManifestFile {
    file_format_version: String,
    driver: ManifestDriver,
}

#[derive(Debug, Deserialize)]
struct ManifestDriver {
    name: String,
    library_path: PathBuf,
    #[serde(default)]
    abi_version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// A driver found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    /// The manifest's name (or the library's file stem without a manifest).
    pub name: String,
    /// The manifest, or `None` for a library named directly.
    pub manifest: Option<PathBuf>,
    pub library: Option<PathBuf>,
    pub description: Option<String>,
    /// The loaded driver, or why it could not be used.
    pub outcome: Result<AbiBuilder, String>,
}

/// The folders searched after `PARALLAX_DRIVER_PATH`, in order.
pub fn search_dirs(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let mut dirs = Vec::new();
    let sub = |d: PathBuf| d.join("parallax").join("drivers");
    if let Some(d) = nonempty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")))
    {
        dirs.push(sub(d));
    }
    for d in nonempty("XDG_CONFIG_DIRS")
        .unwrap_or_else(|| "/etc/xdg".into())
        .split(':')
        .filter(|s| !s.is_empty())
    {
        dirs.push(sub(PathBuf::from(d)));
    }
    if let Some(d) = nonempty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".local/share")))
    {
        dirs.push(sub(d));
    }
    for d in nonempty("XDG_DATA_DIRS")
        .unwrap_or_else(|| "/usr/local/share:/usr/share".into())
        .split(':')
        .filter(|s| !s.is_empty())
    {
        dirs.push(sub(PathBuf::from(d)));
    }
    dirs
}

fn is_library(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "so") || p.to_string_lossy().contains(".so.")
}

/// Reads a manifest and loads its library.
pub fn load_manifest(path: &Path) -> Found {
    let mut found = Found {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        manifest: Some(path.to_path_buf()),
        library: None,
        description: None,
        outcome: Err(String::new()),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            found.outcome = Err(format!("bad manifest: cannot read: {e}"));
            return found;
        }
    };
    let m: ManifestFile = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            found.outcome = Err(format!("bad manifest: {e}"));
            return found;
        }
    };
    found.name = m.driver.name.clone();
    found.description = m.driver.description.clone();
    if !m.file_format_version.starts_with("1.") {
        found.outcome = Err(format!(
            "bad manifest: file_format_version {} (this host reads 1.x)",
            m.file_format_version
        ));
        return found;
    }
    if let Some(v) = &m.driver.abi_version {
        let parsed: Option<(u32, u32)> = v
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        match parsed {
            Some((major, _)) if major < PX_ABI_VERSION_MAJOR => {
                found.outcome = Err(format!(
                    "ABI too old: the manifest says {v}, this host needs {PX_ABI_VERSION_MAJOR}.x"
                ));
                return found;
            }
            Some((major, _)) if major > PX_ABI_VERSION_MAJOR => {
                found.outcome = Err(format!(
                    "ABI too new: the manifest says {v}, this host speaks {PX_ABI_VERSION_MAJOR}.{PX_ABI_VERSION_MINOR}"
                ));
                return found;
            }
            Some(_) => {}
            None => {
                found.outcome = Err(format!(
                    "bad manifest: abi_version {v:?} is not MAJOR.MINOR"
                ));
                return found;
            }
        }
    }
    let lib = if m.driver.library_path.is_absolute() {
        m.driver.library_path.clone()
    } else {
        path.parent()
            .unwrap_or(Path::new("."))
            .join(&m.driver.library_path)
    };
    found.library = Some(lib.clone());
    let config = m.driver.config.as_ref().map(|c| c.to_string());
    found.outcome = load(&lib, config.as_deref()).map_err(|e| e.to_string());
    if let Ok(b) = &found.outcome {
        use parallax_sdk::Builder;
        if b.name() != found.name {
            tracing::debug!(
                "manifest {} names the driver {:?}; the library calls itself {:?}",
                path.display(),
                found.name,
                b.name()
            );
        }
    }
    found
}

/// Loads a library named directly (no manifest, no config).
pub fn load_library(path: &Path) -> Found {
    let outcome = load(path, None).map_err(|e| e.to_string());
    let name = match &outcome {
        Ok(b) => parallax_sdk::Builder::name(b).to_string(),
        Err(_) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    Found {
        name,
        manifest: None,
        library: Some(path.to_path_buf()),
        description: None,
        outcome,
    }
}

/// Every driver found, in search order, each loaded (or with why not).
/// A later driver with the name of an earlier one is reported as shadowed.
pub fn discover(env: &dyn Fn(&str) -> Option<String>) -> Vec<Found> {
    let mut entries: Vec<PathBuf> = Vec::new();
    let push_dir = |entries: &mut Vec<PathBuf>, dir: &Path| {
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            entries.extend(files);
        }
    };
    if let Some(list) = env("PARALLAX_DRIVER_PATH") {
        for item in list.split(':').filter(|s| !s.is_empty()) {
            let p = PathBuf::from(item);
            if p.is_dir() {
                push_dir(&mut entries, &p);
            } else {
                entries.push(p);
            }
        }
    }
    for d in search_dirs(env) {
        push_dir(&mut entries, &d);
    }
    let mut out: Vec<Found> = Vec::new();
    for p in entries {
        let mut f = if is_library(&p) {
            load_library(&p)
        } else {
            load_manifest(&p)
        };
        if let Some(first) = out.iter().find(|o| o.name == f.name && o.outcome.is_ok()) {
            let by = first
                .manifest
                .as_ref()
                .or(first.library.as_ref())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            f.outcome = Err(format!("shadowed by {by}"));
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_dirs_follow_the_spec_defaults() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        let d = search_dirs(&env);
        assert_eq!(
            d,
            vec![
                PathBuf::from("/home/u/.config/parallax/drivers"),
                PathBuf::from("/etc/xdg/parallax/drivers"),
                PathBuf::from("/home/u/.local/share/parallax/drivers"),
                PathBuf::from("/usr/local/share/parallax/drivers"),
                PathBuf::from("/usr/share/parallax/drivers"),
            ]
        );
    }

    #[test]
    fn bad_manifests_are_reported_not_fatal() {
        let dir = std::env::temp_dir().join(format!("px-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), "{ not json").unwrap();
        std::fs::write(
            dir.join("b.json"),
            r#"{"file_format_version":"1.0.0","driver":{"name":"old","library_path":"x.so","abi_version":"0.3"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("c.json"),
            r#"{"file_format_version":"1.0.0","driver":{"name":"gone","library_path":"missing.so"}}"#,
        )
        .unwrap();
        let d = dir.to_string_lossy().into_owned();
        let env = move |k: &str| (k == "PARALLAX_DRIVER_PATH").then(|| d.clone());
        let found = discover(&env);
        let by = |n: &str| found.iter().find(|f| f.name == n).unwrap();
        assert!(by("a")
            .outcome
            .as_ref()
            .unwrap_err()
            .starts_with("bad manifest"));
        assert!(by("old")
            .outcome
            .as_ref()
            .unwrap_err()
            .starts_with("ABI too old"));
        assert!(by("gone")
            .outcome
            .as_ref()
            .unwrap_err()
            .contains("cannot load"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
