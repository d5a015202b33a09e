//! Any events, retry times and comments: encoding them and decoding the bytes must give them
//! back, with line breaks in data as `\n`, comments one per line, and ids following the
//! stream's last event ID (see `ssekit_fuzz::encode_items`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit_codec::{Decoder, Limits};
use ssekit_fuzz::{encode_items, parse_items, Config};

fuzz_target!(|input: &[u8]| {
    let items = parse_items(input);
    let (wire, expected) = encode_items(&items);

    let config = Config {
        limits: Limits::unlimited(),
        comments: true,
    };
    let (decoded, last_id) = ssekit_fuzz::decode_fed(&config, &[&wire]);
    let decoded: Vec<_> = decoded
        .into_iter()
        .map(|outcome| outcome.expect("no limit can be exceeded"))
        .collect();
    assert_eq!(
        decoded, expected,
        "roundtrip mismatch; items: {items:?}; wire: {wire:?}"
    );

    // The default decoder (comments off) sees the same events and retry times.
    let mut decoder = Decoder::new();
    decoder.feed(&wire);
    let mut plain = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("within the default limits") {
        plain.push(frame);
    }
    while let Some(frame) = decoder.finish().expect("within the default limits") {
        plain.push(frame);
    }
    let without_comments: Vec<_> = expected
        .into_iter()
        .filter(|f| !matches!(f, ssekit_codec::Frame::Comment(_)))
        .collect();
    assert_eq!(plain, without_comments);
    assert_eq!(decoder.last_event_id(), last_id);
});
