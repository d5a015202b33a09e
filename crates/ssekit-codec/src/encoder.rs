//! The encoder: events, retry times and comments into a caller's buffer.

use bytes::BytesMut;

use crate::event::{Comment, Event, Frame};

/// Calls `line` with each line of `text`, where `\r\n`, `\r` and `\n` each end one line. Text
/// ending in a line break has an empty last line, so `"a\n"` is `["a", ""]`.
fn for_each_line(text: &[u8], mut line: impl FnMut(&[u8])) {
    let mut start = 0;
    for i in memchr::memchr2_iter(b'\r', b'\n', text) {
        if i < start {
            continue; // the LF of a CRLF
        }
        line(&text[start..i]);
        start = if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
            i + 2
        } else {
            i + 1
        };
    }
    line(&text[start..]);
}

/// The encoded size of `prefix` lines holding `text`: each line is `prefix`, a space unless the
/// line is empty, the line, and LF.
fn lines_len(prefix: &[u8], text: &[u8]) -> usize {
    let mut len = 0;
    for_each_line(text, |line| {
        len += prefix.len() + usize::from(!line.is_empty()) + line.len() + 1;
    });
    len
}

fn put_lines(dst: &mut BytesMut, prefix: &[u8], text: &[u8]) {
    for_each_line(text, |line| {
        dst.extend_from_slice(prefix);
        if !line.is_empty() {
            dst.extend_from_slice(b" ");
            dst.extend_from_slice(line);
        }
        dst.extend_from_slice(b"\n");
    });
}

fn put_field(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    if !value.is_empty() {
        dst.extend_from_slice(b" ");
        dst.extend_from_slice(value);
    }
    dst.extend_from_slice(b"\n");
}

fn field_len(name: &[u8], value: &[u8]) -> usize {
    name.len() + usize::from(!value.is_empty()) + value.len() + 1
}

/// Whether `text` holds no line break.
fn is_one_line(text: &[u8]) -> bool {
    memchr::memchr2(b'\r', b'\n', text).is_none()
}

/// Whether `event`'s data holds no line break: known from the decoder, or looked for.
fn one_line(event: &Event) -> bool {
    event.known_one_line() || is_one_line(event.data().as_bytes())
}

/// The encoded size of `event`, whose data is `one_line` or not.
fn event_len(event: &Event, one_line: bool) -> usize {
    let mut len = data_len(event.data().as_bytes(), one_line) + 1;
    if event.event_type() != "message" {
        len += field_len(b"event:", event.event_type().as_bytes());
    }
    if let Some(id) = event.id() {
        len += field_len(b"id:", id.as_bytes());
    }
    len
}

/// The encoded size of the `data:` lines of `data`.
fn data_len(data: &[u8], one_line: bool) -> usize {
    if one_line {
        field_len(b"data:", data)
    } else {
        lines_len(b"data:", data)
    }
}

/// Encodes events, retry times and comments as `text/event-stream` bytes.
///
/// Encoding cannot fail: [`EventType`](crate::EventType) and [`EventId`](crate::EventId) reject
/// what cannot be encoded when they are built. Data may hold anything: each `\n`, `\r` or
/// `\r\n` in it ends one `data:` line, so a decoder gives the data back with every line break
/// as `\n`. The exact encoded length is reserved before writing.
///
/// ```
/// use bytes::BytesMut;
/// use ssekit_codec::{Encoder, Event, EventId};
///
/// let mut out = BytesMut::new();
/// let event = Event::new("a\r\nb").with_id(EventId::new("1")?);
/// Encoder::new().encode_event(&event, &mut out);
/// assert_eq!(&out[..], b"id: 1\ndata: a\ndata: b\n\n");
/// # Ok::<(), ssekit_codec::InvalidValue>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct Encoder {}

impl Encoder {
    /// An encoder.
    pub const fn new() -> Self {
        Encoder {}
    }

    /// The number of bytes [`encode_event`](Self::encode_event) writes for `event`.
    pub fn event_len(&self, event: &Event) -> usize {
        event_len(event, one_line(event))
    }

    /// Appends `event` to `dst`: `event:` (unless the type is `message`), `id:` (if set), the
    /// `data:` lines (at least one, so that an empty data is still dispatched), a blank line.
    pub fn encode_event(&self, event: &Event, dst: &mut BytesMut) {
        // Most data is one line: one scan (or the decoder's word) decides, and the length
        // needs no second one.
        let one_line = one_line(event);
        dst.reserve(event_len(event, one_line));
        if event.event_type() != "message" {
            put_field(dst, b"event:", event.event_type().as_bytes());
        }
        if let Some(id) = event.id() {
            put_field(dst, b"id:", id.as_bytes());
        }
        let data = event.data().as_bytes();
        if one_line {
            put_field(dst, b"data:", data);
        } else {
            put_lines(dst, b"data:", data);
        }
        dst.extend_from_slice(b"\n");
    }

    /// Appends a `retry:` line, which sets the client's reconnection time in milliseconds.
    pub fn encode_retry(&self, millis: u64, dst: &mut BytesMut) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = millis;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        dst.reserve(b"retry: \n".len() + digits.len() - at);
        put_field(dst, b"retry:", &digits[at..]);
    }

    /// Appends a comment; text holding line breaks becomes several comment lines.
    pub fn encode_comment(&self, comment: &Comment, dst: &mut BytesMut) {
        let text = comment.text().as_bytes();
        dst.reserve(lines_len(b":", text));
        put_lines(dst, b":", text);
    }

    /// Appends any frame.
    pub fn encode(&self, frame: &Frame, dst: &mut BytesMut) {
        match frame {
            Frame::Event(event) => self.encode_event(event, dst),
            Frame::Retry(millis) => self.encode_retry(*millis, dst),
            Frame::Comment(comment) => self.encode_comment(comment, dst),
        }
    }
}
