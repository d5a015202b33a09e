//! Shared pieces of the fuzz targets: how an input's leading bytes choose the decoder's settings
//! and the chunking, the decoding loops, and the roundtrip target's input format.
//!
//! The layouts are described in `fuzz/README.md`; keep the two in step.

use ssekit_codec::bytes::BytesMut;
use ssekit_codec::{DecodeError, Decoder, Encoder, Event, EventId, EventType, Frame, Limits};

/// What one call of `next_frame` / `finish` gave, other than "need more input".
pub type Outcome = Result<Frame, DecodeError>;

/// Decoder settings taken from the first [`Config::LEN`] bytes of an input.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub limits: Limits,
    pub comments: bool,
}

impl Config {
    /// The header's length in bytes.
    pub const LEN: usize = 5;

    /// Splits an input into its settings and the rest; `None` when it is too short.
    ///
    /// Byte 0 holds flags (bit 0: report comments; bit 1: default limits instead of the small
    /// ones). Bytes 1–2 (little-endian) give the line limit, 1..=4096; bytes 3–4 the event
    /// limit, 1..=65536.
    pub fn split(input: &[u8]) -> Option<(Config, &[u8])> {
        let (header, rest) = input.split_first_chunk::<{ Config::LEN }>()?;
        let [flags, l0, l1, e0, e1] = *header;
        let limits = if flags & 0b10 == 0 {
            Limits::default()
                .with_max_line_length(usize::from(u16::from_le_bytes([l0, l1]) % 4096) + 1)
                .with_max_event_size(usize::from(u16::from_le_bytes([e0, e1])) + 1)
        } else {
            Limits::default()
        };
        let config = Config {
            limits,
            comments: flags & 0b01 != 0,
        };
        Some((config, rest))
    }

    /// A fresh decoder with these settings.
    pub fn decoder(&self) -> Decoder {
        Decoder::with_limits(self.limits).with_comments(self.comments)
    }
}

/// Splits `input` into a chunk plan and the stream: byte 0 modulo 17 is the number `n` of
/// chunk lengths, the next `n` bytes are the lengths, and the rest is the stream. `None` when
/// the input is too short.
pub fn split_chunk_plan(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&count, rest) = input.split_first()?;
    let count = usize::from(count % 17);
    if rest.len() < count {
        return None;
    }
    Some(rest.split_at(count))
}

/// Cuts `stream` into chunks whose lengths cycle through `lengths`. A zero length gives an
/// empty chunk (feeding nothing must change nothing). No lengths, or only zeros, give one
/// chunk holding the rest.
pub fn chunks<'a>(stream: &'a [u8], lengths: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    if lengths.iter().all(|&l| l == 0) {
        out.extend(lengths.iter().map(|_| &rest[..0]));
        out.push(rest);
        return out;
    }
    for &len in lengths.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

/// Drains `next` until it reports that it needs more input, collecting what it gave.
///
/// Every frame or error consumes at least one byte of the stream, so more outcomes than
/// `budget` means the decoder is stuck.
fn drain(
    out: &mut Vec<Outcome>,
    budget: usize,
    mut next: impl FnMut() -> Result<Option<Frame>, DecodeError>,
) {
    loop {
        match next() {
            Ok(None) => return,
            Ok(Some(frame)) => out.push(Ok(frame)),
            Err(error) => out.push(Err(error)),
        }
        assert!(
            out.len() <= budget,
            "the decoder gave more outcomes ({}) than the stream has bytes ({budget})",
            out.len()
        );
    }
}

/// Feeds the chunks one by one through the decoder's own buffer (`feed` / `next_frame`), then
/// ends the stream (`finish`). Returns the outcomes and the final last event ID.
pub fn decode_fed(config: &Config, chunks: &[&[u8]]) -> (Vec<Outcome>, String) {
    let budget = chunks.iter().map(|c| c.len()).sum::<usize>() + 1;
    let mut decoder = config.decoder();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        drain(&mut out, budget, || decoder.next_frame());
    }
    drain(&mut out, budget, || decoder.finish());
    (out, decoder.last_event_id().into_owned())
}

/// Like [`decode_fed`], through a buffer the caller owns (`decode` / `decode_eof`), as the
/// tokio adapter uses the decoder.
pub fn decode_caller_buffer(config: &Config, chunks: &[&[u8]]) -> (Vec<Outcome>, String) {
    let budget = chunks.iter().map(|c| c.len()).sum::<usize>() + 1;
    let mut decoder = config.decoder();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        drain(&mut out, budget, || decoder.decode(&mut buf));
    }
    drain(&mut out, budget, || decoder.decode_eof(&mut buf));
    assert!(
        buf.is_empty(),
        "decode_eof left {} bytes in the buffer",
        buf.len()
    );
    (out, decoder.last_event_id().into_owned())
}

/// One item of the roundtrip target's input.
#[derive(Clone, Debug)]
pub enum Item {
    Event {
        data: String,
        event_type: Option<String>,
        id: Option<String>,
    },
    Retry(u64),
    Comment(String),
}

/// Reads the roundtrip target's input: items separated by `0xFF`. An item starting with `r` is
/// a retry time (its ASCII digits, saturating; other bytes ignored); with `c`, a comment (the
/// rest); with any other byte, an event: after that byte, data, type and id separated by
/// `0xFE`, the latter two optional. Text is read as UTF-8 with invalid sequences replaced, so
/// every string is reachable; `0xFE` and `0xFF` never occur in UTF-8.
pub fn parse_items(input: &[u8]) -> Vec<Item> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    input
        .split(|&b| b == 0xFF)
        .filter_map(|item| {
            let (&kind, rest) = item.split_first()?;
            Some(match kind {
                b'r' => Item::Retry(
                    rest.iter()
                        .filter(|b| b.is_ascii_digit())
                        .fold(0u64, |n, d| {
                            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                        }),
                ),
                b'c' => Item::Comment(text(rest)),
                _ => {
                    let mut parts = rest.splitn(3, |&b| b == 0xFE);
                    Item::Event {
                        data: text(parts.next().unwrap_or_default()),
                        event_type: parts.next().map(text),
                        id: parts.next().map(text),
                    }
                }
            })
        })
        .collect()
}

/// `text` with each `\r\n`, `\r` and `\n` turned into one `\n`.
pub fn normalize_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Encodes `items` (dropping a type or id the constructors reject) and returns the bytes with
/// the frames a decoder must give back for them.
///
/// Expected frames follow the round-trip rule: line breaks in data come back as `\n`; comment
/// text comes back one comment per line; and the id of a decoded event is the stream's last
/// event ID, which persists from earlier events and is `None` while it is empty.
pub fn encode_items(items: &[Item]) -> (BytesMut, Vec<Frame>) {
    let encoder = Encoder::new();
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    let mut last_id = String::new();
    for item in items {
        match item {
            Item::Event {
                data,
                event_type,
                id,
            } => {
                let mut event = Event::new(data.clone());
                let mut decoded = Event::new(normalize_line_breaks(data));
                if let Some(Ok(t)) = event_type.as_ref().map(EventType::new) {
                    event = event.with_type(t.clone());
                    decoded = decoded.with_type(t);
                }
                if let Some(Ok(id)) = id.as_ref().map(EventId::new) {
                    last_id = id.as_str().to_owned();
                    event = event.with_id(id);
                }
                if !last_id.is_empty() {
                    decoded = decoded.with_id(EventId::new(last_id.clone()).expect("valid id"));
                }
                let before = wire.len();
                encoder.encode_event(&event, &mut wire);
                assert_eq!(
                    wire.len() - before,
                    encoder.event_len(&event),
                    "event_len disagrees with encode_event for {event:?}"
                );
                expected.push(Frame::Event(decoded));
            }
            Item::Retry(ms) => {
                encoder.encode(&Frame::Retry(*ms), &mut wire);
                expected.push(Frame::Retry(*ms));
            }
            Item::Comment(text) => {
                let comment = ssekit_codec::Comment::new(text.clone());
                encoder.encode(&Frame::Comment(comment), &mut wire);
                let lines = normalize_line_breaks(text);
                expected.extend(
                    lines
                        .split('\n')
                        .map(|line| Frame::Comment(ssekit_codec::Comment::new(line))),
                );
            }
        }
    }
    (wire, expected)
}
