//! The end of a stream and the recovery from limit errors: what `finish` decodes, and which
//! last event ID the events after a dropped event carry.

use bytes::BytesMut;
use serde_json::{json, Value};
use ssekit_codec::{Decoder, Frame, Limits};

/// Every frame and error (as Event JSON) until `Ok(None)`, from `next_frame` or, at the end,
/// `finish`.
fn drain(decoder: &mut Decoder, end: bool) -> Vec<Value> {
    let mut out = Vec::new();
    crate::support::drain(decoder, end, &mut out);
    out
}

fn message(data: &str, id: &str) -> Value {
    json!({"event": "message", "data": data, "id": id})
}

/// `finish` strips a whole BOM from input that was never decoded, however it was fed, and
/// with a limit that the BOM would push the first line over.
#[test]
fn finish_strips_a_bom_not_yet_decoded() {
    let mut decoder = Decoder::new();
    decoder.feed(b"\xEF\xBB\xBFdata: x\n\n");
    assert_eq!(drain(&mut decoder, true), [message("x", "")]);

    let limits = Limits::default().with_max_line_length(7);
    let mut decoder = Decoder::with_limits(limits);
    decoder.feed(b"\xEF\xBB\xBFdata: x\n\n");
    assert_eq!(drain(&mut decoder, true), [message("x", "")]);

    let mut decoder = Decoder::new();
    decoder.feed(b"\xEF\xBB");
    assert_eq!(drain(&mut decoder, false), Vec::<Value>::new());
    decoder.feed(b"\xBFretry:7\n");
    assert_eq!(drain(&mut decoder, true), [json!({"retry": 7})]);

    let mut buf = BytesMut::from(&b"\xEF\xBB\xBFdata: y\n\n"[..]);
    let frame = Decoder::new().decode_eof(&mut buf).unwrap();
    assert!(matches!(frame, Some(Frame::Event(e)) if e.data() == "y"));

    // A BOM's first bytes that can no longer be completed are the first line's bytes.
    let mut decoder = Decoder::new().with_comments(true);
    decoder.feed(b"\xEF\xBB");
    assert_eq!(drain(&mut decoder, true), Vec::<Value>::new());
    decoder.feed(b"\xEF\xBBdata: z\n\n");
    assert_eq!(drain(&mut decoder, true), Vec::<Value>::new()); // an unknown field
}

/// An `id:` in the unterminated event that `finish` drops does not reach the next stream.
#[test]
fn finish_forgets_the_id_of_the_dropped_event() {
    let mut decoder = Decoder::new();
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: cut");
    assert_eq!(drain(&mut decoder, false), [message("a", "1")]);
    assert_eq!(drain(&mut decoder, true), Vec::<Value>::new());
    assert_eq!(decoder.last_event_id(), "1");
    decoder.feed(b"data: b\n\n");
    assert_eq!(drain(&mut decoder, false), [message("b", "1")]);
    assert_eq!(decoder.last_event_id(), "1");
}

/// An `id:` in an event dropped by a limit error is dropped with it, before and after the
/// blank line that ends the dropped event, for either limit.
#[test]
fn a_limit_error_drops_the_id_of_its_event() {
    let limits = Limits::default().with_max_event_size(3);
    let mut decoder = Decoder::with_limits(limits).with_last_event_id("0");
    decoder.feed(b"id: 5\ndata: toolong\n\n");
    assert_eq!(
        drain(&mut decoder, false),
        [json!({"error": "event_too_large"})]
    );
    assert_eq!(decoder.last_event_id(), "0");
    decoder.feed(b"data: x\n\n");
    assert_eq!(drain(&mut decoder, false), [message("x", "0")]);
    assert_eq!(decoder.last_event_id(), "0");

    let limits = Limits::default().with_max_line_length(10);
    let mut decoder = Decoder::with_limits(limits);
    decoder.feed(b"id: 1\ndata: a\n\nid: 6\ndata: 0123456789\nid: 7\n\ndata: y\n\n");
    assert_eq!(
        drain(&mut decoder, false),
        [
            message("a", "1"),
            json!({"error": "line_too_long"}),
            message("y", "1")
        ]
    );
    assert_eq!(decoder.last_event_id(), "1");
}
