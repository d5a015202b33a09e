//! Shared helpers: decoding into the CLI's Event JSON, so that results compare with test data.

use serde_json::{json, Value};
use ssekit_codec::{DecodeErrorKind, Decoder, Frame, Limits};

/// A frame in the CLI's Event JSON.
pub(crate) fn frame_json(frame: &Frame) -> Value {
    match frame {
        Frame::Event(e) => {
            json!({"event": e.event_type(), "data": e.data(), "id": e.id().unwrap_or("")})
        }
        Frame::Retry(ms) => json!({ "retry": ms }),
        Frame::Comment(c) => json!({ "comment": c.text() }),
        other => panic!("unexpected frame {other:?}"),
    }
}

pub(crate) fn error_json(kind: DecodeErrorKind) -> Value {
    match kind {
        DecodeErrorKind::LineTooLong => json!({"error": "line_too_long"}),
        DecodeErrorKind::EventTooLarge => json!({"error": "event_too_large"}),
        other => panic!("unexpected error kind {other:?}"),
    }
}

/// Drains `decoder` after a feed (or at the end, with `eof`), collecting frames and errors.
pub(crate) fn drain(decoder: &mut Decoder, eof: bool, out: &mut Vec<Value>) {
    loop {
        let next = if eof {
            decoder.finish()
        } else {
            decoder.next_frame()
        };
        match next {
            Ok(Some(frame)) => out.push(frame_json(&frame)),
            Ok(None) => return,
            Err(e) => out.push(error_json(e.kind())),
        }
    }
}

/// Decodes `chunks` in turn, then ends the stream; every frame and error, in order.
pub(crate) fn decode_chunks<'a>(
    limits: Limits,
    comments: bool,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Value> {
    let mut decoder = Decoder::with_limits(limits).with_comments(comments);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        drain(&mut decoder, false, &mut out);
    }
    drain(&mut decoder, true, &mut out);
    out
}

pub(crate) fn decode_all(input: &[u8], comments: bool) -> Vec<Value> {
    decode_chunks(Limits::default(), comments, [input])
}
