//! `cargo xtask`: the project's automation, written in Rust with the standard library only.
//!
//! ```text
//! cargo xtask ci [--with-tests] [--seconds N]   what CI runs (.ci/run calls it)
//! cargo xtask fuzz [TARGET] [--seconds N]       fuzz one target, or each in turn
//! cargo xtask bench [ARGS...]                   cargo bench -p ssekit-benches ARGS...
//! cargo xtask tidy                              formatting and no machine paths in files
//! ```
//!
//! Every step prints the command it runs; the first failing step stops the task with a message
//! and a nonzero exit status.

mod cmd;
mod fuzz;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cmd::Cmd;

/// A failed task: what went wrong, in a sentence for the person at the terminal.
type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  ci [--with-tests] [--seconds N]
        cargo fmt --check; cargo clippy -D warnings; a no_std build of the codec; the server's
        axum feature (clippy, tests); cargo doc
        with -D warnings; [cargo test --workspace]; every fuzz target for N seconds (default 20,
        or SSEKIT_FUZZ_SECONDS); the path check of `tidy`
  fuzz [TARGET] [--seconds N]
        fuzz TARGET (default: every target in turn) for N seconds each (default 60), replaying
        fuzz/regressions/TARGET first; installs cargo-fuzz if it is missing; needs nightly
  bench [ARGS...]
        cargo bench -p ssekit-benches ARGS...
  tidy
        cargo fmt --check, and no file of the repository holds an absolute path of this machine
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result {
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Err("no task given".into());
    };
    match task.as_str() {
        "ci" => ci(rest),
        "fuzz" => fuzz::run(rest),
        "bench" => Cmd::cargo()
            .args(["bench", "-p", "ssekit-benches"])
            .args(rest)
            .run(),
        "tidy" => {
            no_options("tidy", rest)?;
            tidy::run()
        }
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            Err(format!("unknown task `{other}`"))
        }
    }
}

/// The repository's root directory, where the workspace `Cargo.toml` is.
fn project_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir
        .parent()
        .expect("xtask/ has a parent directory")
        .to_path_buf()
}

fn no_options(task: &str, args: &[String]) -> Result {
    match args.first() {
        None => Ok(()),
        Some(arg) => Err(format!("`{task}` takes no arguments; got `{arg}`")),
    }
}

/// Reads the value of `--seconds N` (or `--seconds=N`) from `args`, removing the option.
fn take_seconds(args: &mut Vec<String>) -> Result<Option<u64>> {
    let Some(at) = args
        .iter()
        .position(|a| a == "--seconds" || a.starts_with("--seconds="))
    else {
        return Ok(None);
    };
    let option = args.remove(at);
    let value = match option.strip_prefix("--seconds=") {
        Some(value) => value.to_owned(),
        None if at < args.len() => args.remove(at),
        None => return Err("`--seconds` needs a value".into()),
    };
    parse_seconds(&value, "--seconds").map(Some)
}

fn parse_seconds(value: &str, what: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!(
            "{what} must be a positive whole number of seconds, not `{value}`"
        )),
    }
}

/// The checks CI runs, in order, stopping at the first failure.
fn ci(args: &[String]) -> Result {
    let mut args = args.to_vec();
    let seconds = match take_seconds(&mut args)? {
        Some(seconds) => seconds,
        None => match std::env::var("SSEKIT_FUZZ_SECONDS") {
            Ok(value) => parse_seconds(&value, "SSEKIT_FUZZ_SECONDS")?,
            Err(_) => 20,
        },
    };
    let with_tests = match args.iter().position(|a| a == "--with-tests") {
        Some(at) => {
            args.remove(at);
            true
        }
        None => false,
    };
    no_options("ci", &args)?;

    section("formatting");
    tidy::check_formatting()?;
    let steps: Vec<(&str, Cmd)> = vec![
        (
            "clippy",
            Cmd::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "no_std build of the codec",
            Cmd::cargo().args(["build", "-p", "ssekit-codec", "--no-default-features"]),
        ),
        (
            "the server's axum feature (clippy and tests)",
            Cmd::cargo().args([
                "clippy",
                "-p",
                "ssekit-server",
                "--features",
                "axum",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "the server's axum feature (tests)",
            Cmd::cargo().args(["test", "-p", "ssekit-server", "--features", "axum"]),
        ),
        (
            "docs",
            Cmd::cargo()
                .args(["doc", "--workspace", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        ),
    ];
    for (what, step) in steps {
        section(what);
        step.run()?;
    }
    if with_tests {
        section("tests");
        Cmd::cargo().args(["test", "--workspace"]).run()?;
    }
    section(&format!("fuzz smoke ({seconds} s per target)"));
    fuzz::run_all(seconds)?;
    section("machine paths");
    tidy::check_paths()?;
    println!("\nxtask ci: all steps passed");
    Ok(())
}

/// Prints a heading for one step of a task.
fn section(title: &str) {
    println!("\n== {title}");
}
