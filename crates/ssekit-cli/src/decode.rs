//! `ssekit decode`: SSE bytes on stdin → Event JSON on stdout.

use std::io::{self, Read, Write};

use ssekit_codec::{DecodeError, DecodeErrorKind, Decoder, Frame, Limits};

use crate::{ndjson, Failure};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Also print comment lines as `{"comment": TEXT}`.
    #[arg(long)]
    comments: bool,
    /// The longest accepted line in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_LINE_LENGTH)]
    max_line_length: usize,
    /// The largest accepted event data in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

fn describe(e: &DecodeError) -> String {
    match e.kind() {
        DecodeErrorKind::LineTooLong => format!(
            "decode: a line is longer than the limit of {} bytes (set it with --max-line-length)",
            e.limit()
        ),
        _ => format!(
            "decode: an event's data is larger than the limit of {} bytes (set it with --max-event-size)",
            e.limit()
        ),
    }
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let limits = Limits::default()
        .with_max_line_length(args.max_line_length)
        .with_max_event_size(args.max_event_size);
    let mut decoder = Decoder::with_limits(limits).with_comments(args.comments);
    let mut stdin = io::stdin().lock();
    let mut stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        decoder.feed(&chunk[..n]);
        let drained = drain(&mut stdout, || decoder.next_frame());
        // Everything decoded from this read is written before the next read may block.
        stdout.flush()?;
        drained?;
    }
    let drained = drain(&mut stdout, || decoder.finish());
    stdout.flush()?;
    drained
}

/// Writes frames from `next` until it needs more input; a limit error ends the command.
fn drain(
    out: &mut impl Write,
    mut next: impl FnMut() -> Result<Option<Frame>, DecodeError>,
) -> Result<(), Failure> {
    loop {
        match next() {
            Ok(Some(frame)) => ndjson::write_frame(out, &frame)?,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Failure::Input(describe(&e))),
        }
    }
}
