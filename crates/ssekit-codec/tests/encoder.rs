//! The encoder's output, byte for byte.

use bytes::BytesMut;
use ssekit_codec::{Comment, Encoder, Event, EventId, EventType, Field, Frame};

fn encode(frame: &Frame) -> String {
    let mut out = BytesMut::new();
    Encoder::new().encode(frame, &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn every_kind_of_line_break_in_data_is_one_line_break() {
    let event = Event::new("a\nb\rc\r\nd");
    assert_eq!(
        encode(&Frame::Event(event)),
        "data: a\ndata: b\ndata: c\ndata: d\n\n"
    );
}

#[test]
fn crlf_is_never_two_lines() {
    assert_eq!(
        encode(&Frame::Event(Event::new("\r\n"))),
        "data:\ndata:\n\n"
    );
    assert_eq!(
        encode(&Frame::Event(Event::new("\r\r\n\n"))),
        "data:\ndata:\ndata:\ndata:\n\n"
    );
}

#[test]
fn empty_data_still_dispatches() {
    assert_eq!(encode(&Frame::Event(Event::new(""))), "data:\n\n");
}

#[test]
fn type_and_id_are_written_before_data() {
    let event = Event::new("x")
        .with_type(EventType::new("update").unwrap())
        .with_id(EventId::new("42").unwrap());
    assert_eq!(
        encode(&Frame::Event(event)),
        "event: update\nid: 42\ndata: x\n\n"
    );
}

#[test]
fn message_type_is_not_written() {
    let event = Event::new("x").with_type(EventType::new("message").unwrap());
    assert_eq!(encode(&Frame::Event(event)), "data: x\n\n");
}

#[test]
fn an_empty_id_is_written_to_reset() {
    let event = Event::new("x").with_id(EventId::new("").unwrap());
    assert_eq!(encode(&Frame::Event(event)), "id:\ndata: x\n\n");
}

#[test]
fn a_leading_space_in_data_survives() {
    assert_eq!(encode(&Frame::Event(Event::new(" x"))), "data:  x\n\n");
}

#[test]
fn retry_and_comments() {
    assert_eq!(encode(&Frame::Retry(0)), "retry: 0\n");
    assert_eq!(
        encode(&Frame::Retry(u64::MAX)),
        "retry: 18446744073709551615\n"
    );
    assert_eq!(
        encode(&Frame::Comment(Comment::new("keep-alive"))),
        ": keep-alive\n"
    );
    assert_eq!(
        encode(&Frame::Comment(Comment::new("a\r\nb"))),
        ": a\n: b\n"
    );
    assert_eq!(encode(&Frame::Comment(Comment::new(""))), ":\n");
}

#[test]
fn constructors_reject_what_cannot_be_encoded() {
    let e = EventType::new("a\nb").unwrap_err();
    assert_eq!(
        (e.field(), e.byte(), e.index()),
        (Field::EventType, b'\n', 1)
    );
    assert_eq!(e.to_string(), "event type contains a line feed at byte 1");
    let e = EventId::new("ab\r").unwrap_err();
    assert_eq!((e.field(), e.byte(), e.index()), (Field::Id, b'\r', 2));
    let e = EventId::new("a\0").unwrap_err();
    assert_eq!(e.to_string(), "event id contains a NUL byte at byte 1");
    assert!(EventType::new("a\0b").is_ok(), "NUL is allowed in a type");
}

#[test]
fn the_exact_length_is_reserved() {
    let event = Event::new("line\r\nline\rline\n").with_id(EventId::new("9").unwrap());
    let mut out = BytesMut::new();
    Encoder::new().encode_event(&event, &mut out);
    assert_eq!(out.len(), Encoder::new().event_len(&event));
}

#[test]
fn last_event_id_is_set_at_dispatch() {
    use ssekit_codec::Decoder;
    let mut d = Decoder::new().with_last_event_id("start");
    assert_eq!(d.last_event_id(), "start");
    d.feed(b"id: 1\ndata: a\n\n");
    while d.next_frame().unwrap().is_some() {}
    assert_eq!(d.last_event_id(), "1");
    // An id-only block is dispatched too (with no event) and sets it.
    d.feed(b"id: 2\n\n");
    while d.next_frame().unwrap().is_some() {}
    assert_eq!(d.last_event_id(), "2");
    // An id in an event that never completes does not count.
    d.feed(b"id: 3\ndata: cut off");
    while d.next_frame().unwrap().is_some() {}
    while d.finish().unwrap().is_some() {}
    assert_eq!(d.last_event_id(), "2");
    // An empty id resets it.
    d.feed(b"id\ndata: b\n\n");
    while d.next_frame().unwrap().is_some() {}
    assert_eq!(d.last_event_id(), "");
}

/// Decoded events know when their data is one line (the encoder then skips its search for
/// line breaks); re-encoding them gives the same bytes either way, and they equal events
/// built by hand with the same values.
#[test]
fn decoded_events_reencode_exactly_and_equal_built_ones() {
    let wire = "data: one line\n\nid: 7\nevent: note\ndata: first\ndata: second\n\ndata: x\n\n";
    let mut decoder = ssekit_codec::Decoder::new();
    decoder.feed(wire.as_bytes());
    let mut out = String::new();
    let mut events = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        out.push_str(&encode(&frame));
        if let Frame::Event(event) = frame {
            events.push(event);
        }
    }
    assert_eq!(
        out,
        "data: one line\n\nevent: note\nid: 7\ndata: first\ndata: second\n\nid: 7\ndata: x\n\n"
    );
    assert_eq!(events[0], Event::new("one line"));
    let built = Event::new("first\nsecond")
        .with_type(EventType::new("note").unwrap())
        .with_id(EventId::new("7").unwrap());
    assert_eq!(events[1], built);
    assert_eq!(
        Encoder::new().event_len(&events[1]),
        "event: note\nid: 7\ndata: first\ndata: second\n\n".len()
    );
}
