//! `ssekit`: decode, encode and stream Server-Sent Events from the command line.
//!
//! The command-line contract (commands, flags, Event JSON, exit codes) is fixed in the
//! project's `shared/CONTRACT.md`; tests outside the project rely on it.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;
mod encode;
mod get;
mod intermediaries;
mod mock;
mod ndjson;
mod serve;

/// Server-Sent Events from the command line.
#[derive(Debug, Parser)]
#[command(name = "ssekit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode an SSE byte stream on stdin into Event JSON (one object per line) on stdout.
    Decode(decode::Args),
    /// Encode Event JSON objects (one per line) on stdin into an SSE stream on stdout.
    Encode(encode::Args),
    /// Stream events from a URL, fetch-style (any method, headers, body), reconnecting like `EventSource`.
    Get(get::Args),
    /// Serve the demo: the chat page, the chat relay, the mock LLM, and the topic hub.
    Serve(serve::Args),
    /// A forwarding relay: each request opens the upstream stream, processed event by event.
    Relay(intermediaries::RelayArgs),
    /// A byte-for-byte streaming pass-through to a fixed upstream.
    Proxy(intermediaries::ProxyArgs),
}

/// Why a command failed, and so its exit code.
#[derive(Debug)]
enum Failure {
    /// Bad usage or bad input: exit 2.
    Input(String),
    /// A local I/O failure: exit 1.
    Io(io::Error),
    /// A remote or protocol failure: exit 1.
    Remote(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Encode(args) => encode::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Get(args) => get::run(&args),
        Command::Relay(args) => intermediaries::relay(&args),
        Command::Proxy(args) => intermediaries::proxy(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`ssekit decode | head`) is not a failure of ours.
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(e)) => {
            let _ = writeln!(io::stderr(), "ssekit: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Remote(message)) => {
            let _ = writeln!(io::stderr(), "ssekit: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Input(message)) => {
            let _ = writeln!(io::stderr(), "ssekit: {message}");
            ExitCode::from(2)
        }
    }
}
