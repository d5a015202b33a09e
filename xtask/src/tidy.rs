//! `cargo xtask tidy`: formatting, and no absolute path of a developer's machine in the files
//! of the repository.

use std::fs;
use std::io::ErrorKind;

use crate::cmd::Cmd;
use crate::{project_root, section, Result};

pub(crate) fn run() -> Result {
    section("formatting");
    check_formatting()?;
    section("machine paths");
    check_paths()
}

/// `cargo fmt --check` over the main workspace, then over the fuzz package, which the first
/// does not reach. (No `--all` for the second: it would follow the path dependency back into
/// the main workspace.)
pub(crate) fn check_formatting() -> Result {
    Cmd::cargo().args(["fmt", "--all", "--", "--check"]).run()?;
    Cmd::cargo()
        .args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"])
        .run()
}

/// The path prefixes that betray where a checkout lived: the usual roots of a workspace or
/// home directory on the project's machines, this checkout's own location and `$HOME`.
fn machine_paths() -> Vec<String> {
    // Built from pieces so that this file does not match itself.
    let mut needles: Vec<String> = ["work", "root", "home"]
        .iter()
        .map(|dir| format!("/{dir}/"))
        .collect();
    let root = project_root();
    needles.push(format!("{}/", root.display()));
    if let Ok(home) = std::env::var("HOME") {
        let home = home.trim_end_matches('/');
        if !home.is_empty() {
            needles.push(format!("{home}/"));
        }
    }
    needles.sort();
    needles.dedup();
    needles
}

/// Fails if a file that git tracks, or would track (untracked but not ignored), holds an
/// absolute path of this machine.
pub(crate) fn check_paths() -> Result {
    let listing = Cmd::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .read()?;
    let needles = machine_paths();
    println!("looking for {}", needles.join(" "));
    let root = project_root();
    let mut found = Vec::new();
    let mut checked = 0usize;
    for path in listing.split('\0').filter(|p| !p.is_empty()) {
        let bytes = match fs::read(root.join(path)) {
            Ok(bytes) => bytes,
            // Deleted in the work tree but still in the index, or a directory (a submodule).
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => continue,
            Err(e) => return Err(format!("could not read {path}: {e}")),
        };
        checked += 1;
        for needle in &needles {
            if let Some(line) = find_line(&bytes, needle.as_bytes()) {
                found.push(format!("{path}:{line}: holds `{needle}`"));
            }
        }
    }
    if found.is_empty() {
        println!("no machine paths in {checked} files");
        Ok(())
    } else {
        for hit in &found {
            eprintln!("{hit}");
        }
        Err(format!(
            "{} file(s) hold an absolute path of this machine; use a path relative to the \
             repository instead",
            found.len()
        ))
    }
}

/// The 1-based line number of the first occurrence of `needle` in `haystack`.
fn find_line(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let at = haystack.windows(needle.len()).position(|w| w == needle)?;
    // n line feeds before the match make n + 1 pieces: the match is on line n + 1.
    Some(haystack[..at].split(|&b| b == b'\n').count())
}
