//! A small command builder that prints what it runs and turns failures into messages.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{project_root, Result};

/// A command to run from the project root (unless told otherwise).
pub(crate) struct Cmd {
    program: String,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
}

impl Cmd {
    pub(crate) fn new(program: &str) -> Self {
        Cmd {
            program: program.to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: project_root(),
        }
    }

    /// `cargo` as found on `PATH`: the rustup proxy, so that `+nightly` works. (`$CARGO`
    /// would name the toolchain's own binary, which does not understand `+toolchain`.)
    pub(crate) fn cargo() -> Self {
        Cmd::new("cargo")
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The command line as a person would type it.
    fn display(&self) -> String {
        let mut line = String::new();
        for (key, value) in &self.envs {
            let _ = write!(line, "{key}={} ", quote(value));
        }
        line.push_str(&self.program);
        for arg in &self.args {
            line.push(' ');
            line.push_str(&quote(&arg.to_string_lossy()));
        }
        line
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).current_dir(&self.dir);
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        command
    }

    /// Runs the command with inherited output; an error unless it exits successfully.
    pub(crate) fn run(&self) -> Result {
        println!("$ {}", self.display());
        let status = self
            .command()
            .status()
            .map_err(|e| format!("could not start `{}`: {e}", self.program))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed ({status})", self.display()))
        }
    }

    /// Runs the command silently; whether it exits successfully.
    pub(crate) fn succeeds_quietly(&self) -> bool {
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Runs the command and returns its standard output; an error unless it exits successfully.
    pub(crate) fn read(&self) -> Result<String> {
        println!("$ {}", self.display());
        let output = self
            .command()
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("could not start `{}`: {e}", self.program))?;
        if !output.status.success() {
            return Err(format!("`{}` failed ({})", self.display(), output.status));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| format!("`{}` printed something that is not UTF-8", self.display()))
    }
}

/// Quotes an argument for display when the shell would need it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=+./:,@%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
