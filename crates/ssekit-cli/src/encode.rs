//! `ssekit encode`: Event JSON on stdin → an SSE stream on stdout.

use std::io::{self, BufRead, Write};

use bytes::BytesMut;
use serde::Deserialize;
use ssekit_codec::{Comment, Encoder, Event, EventId, EventType};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// One input object. Every key is optional; unknown keys are rejected so that a typo is not
/// silently dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    comment: Option<String>,
}

/// Encodes one input line into `out`. The comment comes first, then the retry time, then the
/// event, which is written when any of `event`, `data` or `id` is present. On an error, `out`
/// may hold part of the line: the caller cuts it off.
fn encode_line(line: &str, encoder: Encoder, out: &mut BytesMut) -> Result<(), String> {
    let input: Input = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(comment) = input.comment {
        encoder.encode_comment(&Comment::new(comment), out);
    }
    if let Some(ms) = input.retry {
        encoder.encode_retry(ms, out);
    }
    if input.event.is_none() && input.data.is_none() && input.id.is_none() {
        return Ok(());
    }
    let mut event = Event::new(input.data.unwrap_or_default());
    if let Some(kind) = input.event {
        event = event.with_type(EventType::new(kind).map_err(|e| format!("\"event\": {e}"))?);
    }
    if let Some(id) = input.id {
        event = event.with_id(EventId::new(id).map_err(|e| format!("\"id\": {e}"))?);
    }
    encoder.encode_event(&event, out);
    Ok(())
}

pub(crate) fn run(_args: &Args) -> Result<(), Failure> {
    let encoder = Encoder::new();
    let mut stdin = io::BufReader::with_capacity(64 * 1024, io::stdin().lock());
    let mut stdout = io::stdout().lock();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        if stdin.buffer().is_empty() && !out.is_empty() {
            // The next read may wait for input: pass on what is encoded so far.
            stdout.write_all(&out)?;
            stdout.flush()?;
            out.clear();
        }
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            stdout.write_all(&out)?;
            stdout.flush()?;
            return Ok(());
        }
        number += 1;
        // A line is taken as bytes and checked here, so that text that is not UTF-8 is bad
        // input on that line, like any other, rather than a failed read.
        let checked = std::str::from_utf8(&line).map_err(|e| {
            format!(
                "not valid UTF-8 (at byte {} of the line)",
                e.valid_up_to() + 1
            )
        });
        let start = out.len();
        let result = checked.and_then(|text| {
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                return Ok(());
            }
            encode_line(text, encoder, &mut out)
        });
        if let Err(message) = result {
            // Nothing of a rejected line is written, not even its comment or retry time.
            out.truncate(start);
            stdout.write_all(&out)?;
            stdout.flush()?;
            return Err(Failure::Input(format!(
                "encode: input line {number}: {message}"
            )));
        }
        if out.len() >= 64 * 1024 {
            stdout.write_all(&out)?;
            out.clear();
        }
    }
}
