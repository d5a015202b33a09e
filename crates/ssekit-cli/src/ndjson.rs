//! Event JSON: one object per line, as the CLI contract defines it.

use std::io::{self, Write};

use serde::Serialize;
use ssekit_codec::Frame;

#[derive(Serialize)]
struct EventJson<'a> {
    event: &'a str,
    data: &'a str,
    id: &'a str,
}

#[derive(Serialize)]
struct RetryJson {
    retry: u64,
}

#[derive(Serialize)]
struct CommentJson<'a> {
    comment: &'a str,
}

/// Writes `frame` as one line of Event JSON. An event's `id` is its last event ID, `""` when
/// none is set.
pub(crate) fn write_frame(out: &mut impl Write, frame: &Frame) -> io::Result<()> {
    match frame {
        Frame::Event(e) => serde_json::to_writer(
            &mut *out,
            &EventJson {
                event: e.event_type(),
                data: e.data(),
                id: e.id().unwrap_or(""),
            },
        ),
        Frame::Retry(retry) => serde_json::to_writer(&mut *out, &RetryJson { retry: *retry }),
        Frame::Comment(c) => serde_json::to_writer(&mut *out, &CommentJson { comment: c.text() }),
        _ => return Ok(()),
    }
    .map_err(io::Error::from)?;
    out.write_all(b"\n")
}
