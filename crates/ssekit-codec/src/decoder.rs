//! The incremental decoder: the WHATWG "Server-sent events" parsing and interpretation rules
//! over byte chunks, with limits.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Frame, RawEvent, RawFrame};
use crate::limits::Limits;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The data buffer of the event being built. One `data:` line (the common case) is kept as a
/// slice of the input; only a second line makes a copy.
#[derive(Debug, Default)]
enum DataBuf {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl DataBuf {
    /// The data length in bytes, not counting the final LF the spec appends and then removes.
    fn len(&self) -> usize {
        match self {
            DataBuf::Empty => 0,
            DataBuf::One(b) => b.len(),
            DataBuf::Many(b) => b.len(),
        }
    }

    fn push(&mut self, value: Bytes) {
        match core::mem::take(self) {
            DataBuf::Empty => *self = DataBuf::One(value),
            DataBuf::One(first) => {
                let mut joined = BytesMut::with_capacity((first.len() + 1 + value.len()) * 2);
                joined.extend_from_slice(&first);
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&value);
                *self = DataBuf::Many(joined);
            }
            DataBuf::Many(mut joined) => {
                joined.reserve(1 + value.len());
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&value);
                *self = DataBuf::Many(joined);
            }
        }
    }

    fn take(&mut self) -> Option<Bytes> {
        match core::mem::take(self) {
            DataBuf::Empty => None,
            DataBuf::One(b) => Some(b),
            DataBuf::Many(b) => Some(b.freeze()),
        }
    }
}

/// An incremental, spec-exact Server-Sent Events decoder.
///
/// It implements the parsing and interpretation rules of the WHATWG HTML standard,
/// "Server-sent events": one leading BOM is stripped; lines end at CRLF, LF or CR (also when a
/// CRLF is split between chunks); `field: value` is split at the first colon and one leading
/// space of the value is removed; unknown fields are ignored; `id` values holding NUL are
/// ignored; `retry` is accepted only when it is all ASCII digits; a blank line dispatches the
/// event unless its data is empty; the last event ID persists across events; an event that is
/// not terminated by a blank line when the stream ends is dropped.
///
/// Any chunking of the same bytes gives the same frames. Lines that arrive whole are handed on
/// as slices of the input without copying.
///
/// There are two ways to feed it:
/// - **Owned buffer**: [`feed`](Self::feed) bytes, then call [`next_frame`](Self::next_frame)
///   until it returns `Ok(None)`; call [`finish`](Self::finish) at the end of the stream.
/// - **Caller's buffer**: [`decode`](Self::decode) / [`decode_eof`](Self::decode_eof) take a
///   `BytesMut` that the caller appends to, as `tokio_util::codec::Decoder` does. The decoder
///   removes what it has consumed and leaves a partial line in place.
///
/// ```
/// use ssekit_codec::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// decoder.feed(b"event: greeting\r\ndata: hel");
/// assert_eq!(decoder.next_frame()?, None); // the event is not complete yet
/// decoder.feed(b"lo\ndata: world\r\n\r\nretry: 1500\n");
///
/// let Some(Frame::Event(event)) = decoder.next_frame()? else { panic!() };
/// assert_eq!(event.event_type(), "greeting");
/// assert_eq!(event.data(), "hello\nworld");
/// assert_eq!(decoder.next_frame()?, Some(Frame::Retry(1500)));
/// assert_eq!(decoder.next_frame()?, None);
/// # Ok::<(), ssekit_codec::DecodeError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    parser: Parser,
    buf: BytesMut,
}

// Each flag is an independent piece of the spec's state; an enum would tie them together.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
struct Parser {
    limits: Limits,
    comments: bool,
    /// The stream's start (and its optional BOM) has been handled.
    started: bool,
    /// The last line ended with a CR at the end of the input: skip one LF if it comes next.
    skip_lf: bool,
    /// `buf[..scanned]` holds no line ending: where the next search starts.
    scanned: usize,
    /// The rest of an over-long line is being skipped.
    discarding_line: bool,
    /// The rest of an event that exceeded a limit is being skipped, up to the next blank line.
    discarding_event: bool,
    data: DataBuf,
    event_type: Option<Bytes>,
    /// The spec's "last event ID buffer".
    last_id: Bytes,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default [`Limits`] that does not report comments.
    pub fn new() -> Self {
        Decoder::with_limits(Limits::default())
    }

    /// A decoder with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            parser: Parser {
                limits,
                comments: false,
                started: false,
                skip_lf: false,
                scanned: 0,
                discarding_line: false,
                discarding_event: false,
                data: DataBuf::Empty,
                event_type: None,
                last_id: Bytes::new(),
            },
            buf: BytesMut::new(),
        }
    }

    /// Whether comment lines are reported as [`Frame::Comment`] (off by default).
    #[must_use]
    pub fn with_comments(mut self, comments: bool) -> Self {
        self.parser.comments = comments;
        self
    }

    /// Starts from this last event ID, as a reconnecting client does.
    #[must_use]
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        if !id.as_bytes().contains(&0) {
            self.parser.last_id = Bytes::copy_from_slice(id.as_bytes());
        }
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.parser.limits
    }

    /// The spec's last event ID buffer: the value to send as `Last-Event-ID` when reconnecting.
    /// Invalid UTF-8 in it is replaced with U+FFFD.
    pub fn last_event_id(&self) -> alloc::borrow::Cow<'_, str> {
        alloc::string::String::from_utf8_lossy(&self.parser.last_id)
    }

    /// Appends a chunk to the decoder's own buffer; call [`next_frame`](Self::next_frame) next.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next frame from the bytes fed so far, or `Ok(None)` when more input is needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        Ok(self.parser.decode(&mut self.buf)?.map(RawFrame::into_frame))
    }

    /// Like [`next_frame`](Self::next_frame), at the byte level.
    pub fn next_raw_frame(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        self.parser.decode(&mut self.buf)
    }

    /// Ends the stream fed with [`feed`](Self::feed): returns its remaining frames one per call,
    /// then `Ok(None)`, dropping an unterminated last event. See [`decode_eof`](Self::decode_eof).
    pub fn finish(&mut self) -> Result<Option<Frame>, DecodeError> {
        Ok(self
            .parser
            .decode_eof(&mut self.buf)?
            .map(RawFrame::into_frame))
    }

    /// Decodes the next frame from the front of `buf`, removing the bytes it consumed.
    /// `Ok(None)` means more input is needed; a partial line is left in `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        Ok(self.parser.decode(buf)?.map(RawFrame::into_frame))
    }

    /// Like [`decode`](Self::decode), at the byte level.
    pub fn decode_raw(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.parser.decode(buf)
    }

    /// Decodes at the end of the stream. Returns the remaining frames one per call; once it
    /// returns `Ok(None)` an unterminated last line and event have been dropped (as the spec
    /// says) and `buf` is empty. The decoder is then ready for a new stream (such as a
    /// reconnection); it keeps its last event ID.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        Ok(self.parser.decode_eof(buf)?.map(RawFrame::into_frame))
    }

    /// Like [`decode_eof`](Self::decode_eof), at the byte level.
    pub fn decode_raw_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.parser.decode_eof(buf)
    }
}

/// Where the value of a line goes.
enum Target {
    Comment,
    Data,
    EventType,
    Id,
}

/// Whether `value` is a valid `retry` value (ASCII digits only), and its value, saturating at
/// `u64::MAX`.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

impl Parser {
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        // At the end of the stream a BOM prefix can no longer grow into a BOM.
        if !self.started && buf.len() < BOM.len() {
            self.started = true;
        }
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        // What is left is an unterminated line, and what was built is an unterminated event:
        // both are dropped. Reset for the next stream, keeping the last event ID.
        buf.clear();
        self.started = false;
        self.skip_lf = false;
        self.scanned = 0;
        self.discarding_line = false;
        self.discarding_event = false;
        self.data = DataBuf::Empty;
        self.event_type = None;
        Ok(None)
    }

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        if !self.started {
            if buf.len() < BOM.len() && BOM.starts_with(buf) {
                return Ok(None); // could still be a BOM
            }
            if buf.starts_with(BOM) {
                buf.advance(BOM.len());
            }
            self.started = true;
        }
        loop {
            if self.skip_lf {
                match buf.first() {
                    None => return Ok(None),
                    Some(&b'\n') => buf.advance(1),
                    Some(_) => {}
                }
                self.skip_lf = false;
            }
            let Some(offset) = memchr::memchr2(b'\r', b'\n', &buf[self.scanned..]) else {
                return self.no_line_end(buf);
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            // The line ending: CRLF, LF or CR. A CR that ends the input ends the line now and
            // makes the next LF, if it comes, part of this line ending.
            let ending = if buf[end] == b'\n' {
                1
            } else {
                match buf.get(end + 1) {
                    Some(&b'\n') => 2,
                    Some(_) => 1,
                    None => {
                        self.skip_lf = true;
                        1
                    }
                }
            };
            if self.discarding_line || (self.discarding_event && end > 0) {
                // The rest of an over-long line, or a line of an event being skipped.
                self.discarding_line = false;
                buf.advance(end + ending);
                continue;
            }
            if end > self.limits.max_line_length() {
                buf.advance(end + ending);
                return Err(self.fail(DecodeErrorKind::LineTooLong));
            }
            if let Some(frame) = self.line(buf, end, ending)? {
                return Ok(Some(frame));
            }
        }
    }

    /// No line ending in `buf[self.scanned..]`: remember how far the search went, and enforce
    /// the line length limit.
    fn no_line_end(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        if self.discarding_line || (self.discarding_event && !buf.is_empty()) {
            // Skipping: nothing of this line is needed, so nothing of it is kept.
            buf.clear();
            self.scanned = 0;
            self.discarding_line = true;
            return Ok(None);
        }
        if buf.len() > self.limits.max_line_length() {
            buf.clear();
            self.scanned = 0;
            self.discarding_line = true;
            return Err(self.fail(DecodeErrorKind::LineTooLong));
        }
        self.scanned = buf.len();
        Ok(None)
    }

    /// Reports a limit error: the current event is dropped and the rest of it skipped.
    fn fail(&mut self, kind: DecodeErrorKind) -> DecodeError {
        self.data = DataBuf::Empty;
        self.event_type = None;
        self.discarding_event = true;
        let limit = match kind {
            DecodeErrorKind::LineTooLong => self.limits.max_line_length(),
            DecodeErrorKind::EventTooLarge => self.limits.max_event_size(),
        };
        DecodeError::new(kind, limit)
    }

    /// Processes the line `buf[..end]`, followed by a line ending of `ending` bytes, and removes
    /// both from `buf`.
    fn line(
        &mut self,
        buf: &mut BytesMut,
        end: usize,
        ending: usize,
    ) -> Result<Option<RawFrame>, DecodeError> {
        if end == 0 {
            buf.advance(ending);
            return Ok(self.dispatch());
        }
        let line = &buf[..end];
        let (name_end, value_start) = match memchr::memchr(b':', line) {
            Some(colon) if line.get(colon + 1) == Some(&b' ') => (colon, colon + 2),
            Some(colon) => (colon, colon + 1),
            None => (end, end),
        };
        let target = match &line[..name_end] {
            b"" if self.comments => Target::Comment,
            b"data" => {
                let joint = usize::from(!matches!(self.data, DataBuf::Empty));
                if self.data.len() + joint + (end - value_start) > self.limits.max_event_size() {
                    buf.advance(end + ending);
                    return Err(self.fail(DecodeErrorKind::EventTooLarge));
                }
                Target::Data
            }
            b"event" => Target::EventType,
            b"id" if memchr::memchr(0, &line[value_start..]).is_none() => Target::Id,
            b"retry" => {
                let retry = parse_retry(&line[value_start..]);
                buf.advance(end + ending);
                return Ok(retry.map(RawFrame::Retry));
            }
            // Comments nobody asked for, unknown fields, and ids holding NUL are ignored.
            _ => {
                buf.advance(end + ending);
                return Ok(None);
            }
        };
        // Split the line off without copying and keep its value.
        let mut value = buf.split_to(end);
        value.advance(value_start);
        let value = value.freeze();
        buf.advance(ending);
        match target {
            Target::Comment => return Ok(Some(RawFrame::Comment(value))),
            Target::Data => self.data.push(value),
            Target::EventType => self.event_type = Some(value),
            Target::Id => self.last_id = value,
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<RawFrame> {
        if self.discarding_event {
            self.discarding_event = false;
            return None;
        }
        let event_type = self.event_type.take().filter(|t| !t.is_empty());
        let data = self.data.take()?;
        Some(RawFrame::Event(RawEvent {
            event_type,
            data,
            id: self.last_id.clone(),
        }))
    }
}
