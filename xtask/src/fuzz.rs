//! `cargo xtask fuzz`: replays the saved regressions, then fuzzes with the committed seeds.
//!
//! Layout (see fuzz/README.md): `fuzz/seeds/<target>/` committed seeds, read but never written;
//! `fuzz/corpus/<target>/` the growing corpus (ignored by git); `fuzz/regressions/<target>/`
//! committed inputs that once failed and must pass now; `fuzz/artifacts/<target>/` where
//! libFuzzer saves a new failing input.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::{project_root, section, take_seconds, Result};

/// Fuzzing needs nightly (for the sanitizer and the coverage instrumentation).
const TOOLCHAIN: &str = "+nightly";

pub(crate) fn run(args: &[String]) -> Result {
    let mut args = args.to_vec();
    let seconds = take_seconds(&mut args)?.unwrap_or(60);
    let target = match args.as_slice() {
        [] => None,
        [target] if !target.starts_with('-') => Some(target.clone()),
        [arg] => return Err(format!("unknown option `{arg}` for `fuzz`")),
        [_, extra, ..] => return Err(format!("`fuzz` takes one target; got also `{extra}`")),
    };
    match target {
        Some(target) => {
            ensure_cargo_fuzz()?;
            let targets = list_targets()?;
            if !targets.contains(&target) {
                return Err(format!(
                    "no fuzz target `{target}`; the targets are: {}",
                    targets.join(", ")
                ));
            }
            fuzz_target(&target, seconds)
        }
        None => run_all(seconds),
    }
}

/// Fuzzes every target in turn, one process at a time, and fails if any of them failed.
pub(crate) fn run_all(seconds: u64) -> Result {
    ensure_cargo_fuzz()?;
    let mut failed = Vec::new();
    for target in list_targets()? {
        section(&format!("fuzz {target} ({seconds} s)"));
        if let Err(message) = fuzz_target(&target, seconds) {
            eprintln!("xtask: error: {message}");
            failed.push(target);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets failed: {}", failed.join(", ")))
    }
}

/// Installs cargo-fuzz from crates.io unless `cargo fuzz` already works.
fn ensure_cargo_fuzz() -> Result {
    if Cmd::cargo().args(["fuzz", "--help"]).succeeds_quietly() {
        return Ok(());
    }
    println!("cargo-fuzz is missing; installing it");
    Cmd::cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .run()
        .map_err(|e| format!("could not install cargo-fuzz: {e}"))
}

fn list_targets() -> Result<Vec<String>> {
    let listing = Cmd::cargo().args([TOOLCHAIN, "fuzz", "list"]).read()?;
    let targets: Vec<String> = listing
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("`cargo fuzz list` found no fuzz targets".into());
    }
    Ok(targets)
}

fn fuzz_target(target: &str, seconds: u64) -> Result {
    let fuzz_dir = project_root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    fs::create_dir_all(&corpus)
        .map_err(|e| format!("could not create {}: {e}", corpus.display()))?;

    let regressions = files_in(&fuzz_dir.join("regressions").join(target))?;
    if !regressions.is_empty() {
        println!(
            "replaying {} saved regression(s) of {target}",
            regressions.len()
        );
        fuzz_run(target)
            .args(&regressions)
            .run()
            .map_err(|e| format!("a saved regression of `{target}` fails again: {e}"))?;
    }

    // libFuzzer writes new inputs to the first directory only, so the seeds stay as committed.
    // Without `-jobs`/`-fork` it fuzzes in this one process on one core.
    let mut run = fuzz_run(target).arg(&corpus);
    if seeds.is_dir() {
        run = run.arg(&seeds);
    }
    run.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .run()
        .map_err(|e| {
            format!(
                "fuzz target `{target}` failed: {e}\n\
                 the failing input is under fuzz/artifacts/{target}/; replay it with \
                 `cargo +nightly fuzz run {target} <file>`, then copy it to \
                 fuzz/regressions/{target}/ (see fuzz/README.md)"
            )
        })?;
    let size = files_in(&corpus)?.len();
    println!("{target}: corpus of {size} inputs in fuzz/corpus/{target}");
    Ok(())
}

/// `cargo +nightly fuzz run TARGET`, with debug assertions (overflow checks) on.
fn fuzz_run(target: &str) -> Cmd {
    Cmd::cargo().args([TOOLCHAIN, "fuzz", "run", "--debug-assertions", target])
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("could not read {}: {e}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("could not read {}: {e}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}
