//! Any bytes, any small limits: the decoder must not panic, must not get stuck, and must keep
//! what it hands out within the limits it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit_codec::bytes::BytesMut;
use ssekit_codec::{EventId, EventType, Frame, RawFrame};
use ssekit_fuzz::Config;

fuzz_target!(|input: &[u8]| {
    let Some((config, stream)) = Config::split(input) else {
        return;
    };
    let max_line = config.limits.max_line_length();
    let max_event = config.limits.max_event_size();
    let mut decoder = config.decoder();
    // The byte-level API, so that the limits can be checked on the bytes as they were on the
    // wire; `decode_chunked` holds the text-level API to it.
    let mut buf = BytesMut::from(stream);

    let mut outcomes = 0usize;
    let mut at_eof = false;
    loop {
        let next = if at_eof {
            decoder.decode_raw_eof(&mut buf)
        } else {
            decoder.decode_raw(&mut buf)
        };
        let frame = match next {
            Ok(Some(frame)) => frame,
            Ok(None) if at_eof => break,
            Ok(None) => {
                at_eof = true;
                continue;
            }
            Err(_) => {
                outcomes += 1;
                assert!(outcomes <= stream.len() + 1, "the decoder is stuck");
                continue;
            }
        };
        outcomes += 1;
        assert!(outcomes <= stream.len() + 1, "the decoder is stuck");

        // The limits are on the bytes as they came off the wire.
        match &frame {
            RawFrame::Event(event) => {
                assert!(event.data().len() <= max_event, "data over the event limit");
                // A stream that sets no type reads as the default, `message`.
                let event_type = event.event_type();
                assert!(
                    event_type.len() <= max_line || event_type == b"message",
                    "type over the line limit"
                );
                assert!(event.id().len() <= max_line, "id over the line limit");
                assert!(!event.data().contains(&b'\r'), "CR in decoded data");
            }
            RawFrame::Comment(text) => {
                assert!(config.comments, "comment reported while comments are off");
                assert!(text.len() <= max_line, "comment over the line limit");
            }
            _ => {}
        }

        // Whatever is decoded can be encoded again: types and ids hold no line break (nor NUL).
        match frame.into_frame() {
            Frame::Event(event) => {
                // Replacing invalid UTF-8 turns each bad byte into at most three.
                assert!(event.data().len() <= max_event.saturating_mul(3));
                EventType::new(event.event_type()).expect("decoded type must be valid");
                if let Some(id) = event.id() {
                    assert!(!id.is_empty(), "an empty last event ID must decode as None");
                    EventId::new(id).expect("decoded id must be valid");
                }
            }
            Frame::Comment(comment) => {
                assert!(
                    !comment.text().contains(['\r', '\n']),
                    "line break in a comment"
                );
            }
            _ => {}
        }
    }
    assert!(buf.is_empty(), "decode_raw_eof left bytes in the buffer");
    assert!(
        !decoder.last_event_id().contains('\0'),
        "NUL in the last event ID"
    );
});
