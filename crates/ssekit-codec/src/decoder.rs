//! The incremental decoder: the WHATWG "Server-sent events" parsing and interpretation rules
//! over byte chunks, with limits.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Event, EventType, Frame, RawEvent, RawFrame};
use crate::limits::Limits;
use crate::text::{Text, Value};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The data buffer of the event being built. One `data:` line (the common case) is kept as a
/// slice of the input; only a second line makes a copy.
#[derive(Debug, Default)]
enum DataBuf {
    #[default]
    Empty,
    One(Value),
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

    fn push(&mut self, value: Value) {
        match core::mem::take(self) {
            DataBuf::Empty => *self = DataBuf::One(value),
            DataBuf::One(first) => {
                let mut joined = BytesMut::with_capacity((first.len() + 1 + value.len()) * 2);
                joined.extend_from_slice(first.as_bytes());
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(value.as_bytes());
                *self = DataBuf::Many(joined);
            }
            DataBuf::Many(mut joined) => {
                joined.reserve(1 + value.len());
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(value.as_bytes());
                *self = DataBuf::Many(joined);
            }
        }
    }

    fn take(&mut self) -> Option<Value> {
        match core::mem::take(self) {
            DataBuf::Empty => None,
            DataBuf::One(v) => Some(v),
            DataBuf::Many(b) => Some(Value::from_bytes(b.freeze())),
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
/// Any chunking of the same bytes gives the same frames. Values of lines that arrive whole are
/// handed on as slices of the input chunk without copying; only a line split across chunks, or
/// data of several lines, is copied, once.
///
/// There are two ways to feed it:
/// - **Push**: [`feed`](Self::feed) (or, without a copy, [`feed_bytes`](Self::feed_bytes)) a
///   chunk, then call [`next_frame`](Self::next_frame) until it returns `Ok(None)`; call
///   [`finish`](Self::finish) at the end of the stream until it returns `Ok(None)`.
/// - **Caller's buffer**: [`decode`](Self::decode) / [`decode_eof`](Self::decode_eof) take the
///   `BytesMut` a reader appends to, as `tokio_util::codec::Decoder` does; they take its bytes
///   without copying and leave it empty.
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
// Each flag is an independent piece of the spec's state; an enum would tie them together.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    comments: bool,

    /// The chunk being parsed, and the position of its first unparsed byte.
    chunk: Bytes,
    pos: usize,
    /// `chunk[..valid_until]` is known to be valid UTF-8 (computed once per chunk, when text
    /// is asked for).
    valid_until: usize,
    validated: bool,
    /// The start of a line that began in an earlier chunk. It holds no line ending.
    partial: BytesMut,

    /// The stream's start (and its optional BOM) has been handled.
    started: bool,
    /// The last line ended with a CR at the end of a chunk: skip one LF if it comes next.
    skip_lf: bool,
    /// The rest of an over-long (or skipped) line is being discarded.
    discarding_line: bool,
    /// The rest of an event that exceeded a limit is being skipped, up to the next blank line.
    discarding_event: bool,

    data: DataBuf,
    /// Every piece of `data` is known to be valid UTF-8.
    data_utf8: bool,
    event_type: Option<Value>,
    event_type_utf8: bool,
    /// The spec's "last event ID buffer".
    last_id: Value,
    last_id_utf8: bool,
    /// The spec's "last event ID string": the buffer's value at the last dispatch.
    dispatched_id: Value,
    /// An `id:` field was taken since the last dispatch.
    id_set: bool,
}

/// Where the line being processed lies.
#[derive(Clone, Copy)]
enum Line {
    /// `chunk[start..end]`.
    InChunk { start: usize, end: usize },
    /// A line assembled in `partial` from pieces of several chunks.
    Partial,
}

/// Where the value of a line goes.
enum Target {
    Comment,
    Data,
    EventType,
    Id,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
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

/// How many bytes at the start of `bytes` are valid UTF-8.
fn utf8_prefix(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    match core::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
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
            limits,
            comments: false,
            chunk: Bytes::new(),
            pos: 0,
            valid_until: 0,
            validated: false,
            partial: BytesMut::new(),
            started: false,
            skip_lf: false,
            discarding_line: false,
            discarding_event: false,
            data: DataBuf::Empty,
            data_utf8: true,
            event_type: None,
            event_type_utf8: false,
            last_id: Value::EMPTY,
            last_id_utf8: false,
            dispatched_id: Value::EMPTY,
            id_set: false,
        }
    }

    /// Whether comment lines are reported as [`Frame::Comment`] (off by default).
    #[must_use]
    pub fn with_comments(mut self, comments: bool) -> Self {
        self.comments = comments;
        self
    }

    /// Starts from this last event ID, as a reconnecting client does. An id holding NUL is
    /// ignored, as it would be on the wire.
    #[must_use]
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        if !id.as_bytes().contains(&0) {
            self.last_id = Value::copy_from(id.as_bytes());
            self.last_id_utf8 = true;
            self.dispatched_id = self.last_id.clone();
        }
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The stream's last event ID: the value of the last `id:` field at the last dispatch (the
    /// spec's "last event ID string"), which a reconnecting client sends as `Last-Event-ID`. An
    /// `id:` in an event that was never dispatched does not count. Invalid UTF-8 is replaced
    /// with U+FFFD.
    pub fn last_event_id(&self) -> alloc::borrow::Cow<'_, str> {
        alloc::string::String::from_utf8_lossy(self.dispatched_id.as_bytes())
    }

    /// Records the last event ID at a dispatch (cheaply, when it has not changed).
    #[inline]
    fn note_dispatch(&mut self) {
        if self.id_set {
            self.id_set = false;
            self.dispatched_id = self.last_id.clone();
        }
    }

    /// Appends a chunk, copying it; call [`next_frame`](Self::next_frame) next.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.feed_bytes(Bytes::copy_from_slice(chunk));
    }

    /// Appends a chunk without copying it: decoded values are slices of it. Feed the next chunk
    /// once [`next_frame`](Self::next_frame) has returned `Ok(None)`; bytes fed before that
    /// still work, at the cost of a copy.
    pub fn feed_bytes(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        if self.pos < self.chunk.len() {
            let rest = &self.chunk[self.pos..];
            let mut joined = BytesMut::with_capacity(rest.len() + chunk.len());
            joined.extend_from_slice(rest);
            joined.extend_from_slice(&chunk);
            self.chunk = joined.freeze();
        } else {
            self.chunk = chunk;
        }
        self.pos = 0;
        self.validated = false;
    }

    /// The next frame from the bytes fed so far, or `Ok(None)` when more input is needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(event) = self.single_line_event() {
            return Ok(Some(Frame::Event(event)));
        }
        Ok(self.next(true)?.map(RawFrame::into_frame))
    }

    /// The most common event, `data: VALUE` LF LF with nothing pending, taken in one step: one
    /// search, no intermediate state. Anything else (or any doubt) is left to [`next`].
    ///
    /// [`next`]: Self::next
    #[inline]
    fn single_line_event(&mut self) -> Option<Event> {
        let idle = self.started
            && !self.skip_lf
            && !self.discarding_line
            && !self.discarding_event
            && self.partial.is_empty()
            && self.event_type.is_none()
            && matches!(self.data, DataBuf::Empty);
        let rest = self.chunk.get(self.pos..)?;
        if !idle || !rest.starts_with(b"data:") {
            return None;
        }
        let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
            self.carry_over_quietly();
            return None;
        };
        if rest[end] != b'\n' || rest.get(end + 1) != Some(&b'\n') {
            return None;
        }
        let value_start = if rest[5] == b' ' { 6 } else { 5 };
        if end > self.limits.max_line_length() || end - value_start > self.limits.max_event_size() {
            return None;
        }
        self.validate();
        let start = self.pos;
        self.pos += end + 2;
        self.note_dispatch();
        let data = Value::slice_of(&self.chunk, start + value_start, start + end);
        let data = if start + end <= self.valid_until {
            Text::from_checked_utf8(data)
        } else {
            Text::from_utf8_lossy(data)
        };
        let id = if self.last_id.is_empty() {
            None
        } else if self.last_id_utf8 {
            Some(Text::from_checked_utf8(self.last_id.clone()))
        } else {
            Some(Text::from_utf8_lossy(self.last_id.clone()))
        };
        Some(Event::from_parts(
            EventType::message().into_text(),
            data,
            id,
        ))
    }

    /// Like [`next_frame`](Self::next_frame), at the byte level (no UTF-8 validation).
    pub fn next_raw_frame(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        self.next(false)
    }

    /// Ends the stream fed so far: returns its remaining frames one per call, then `Ok(None)`,
    /// having dropped an unterminated last line and event as the spec says. The decoder is then
    /// ready for a new stream (such as a reconnection); it keeps its last event ID.
    pub fn finish(&mut self) -> Result<Option<Frame>, DecodeError> {
        Ok(self.finish_inner(true)?.map(RawFrame::into_frame))
    }

    /// Like [`finish`](Self::finish), at the byte level.
    pub fn finish_raw(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        self.finish_inner(false)
    }

    /// Takes the bytes of `buf` (without copying; `buf` is left empty) and returns the next
    /// frame, or `Ok(None)` when more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.take(buf);
        self.next_frame()
    }

    /// Like [`decode`](Self::decode), at the byte level.
    pub fn decode_raw(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.take(buf);
        self.next_raw_frame()
    }

    /// Like [`decode`](Self::decode), at the end of the stream: see [`finish`](Self::finish).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.take(buf);
        self.finish()
    }

    /// Like [`decode_eof`](Self::decode_eof), at the byte level.
    pub fn decode_raw_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.take(buf);
        self.finish_raw()
    }

    fn take(&mut self, buf: &mut BytesMut) {
        if !buf.is_empty() {
            self.feed_bytes(buf.split().freeze());
        }
    }

    fn finish_inner(&mut self, text: bool) -> Result<Option<RawFrame>, DecodeError> {
        // At the end of the stream a BOM prefix can no longer grow into a BOM.
        self.started = true;
        if let Some(frame) = self.next(text)? {
            return Ok(Some(frame));
        }
        // What is left is an unterminated line, and what was built is an unterminated event:
        // both are dropped. Reset for the next stream, keeping the last event ID.
        self.chunk = Bytes::new();
        self.pos = 0;
        self.validated = false;
        self.partial.clear();
        self.started = false;
        self.skip_lf = false;
        self.discarding_line = false;
        self.discarding_event = false;
        self.data = DataBuf::Empty;
        self.data_utf8 = true;
        self.event_type = None;
        Ok(None)
    }

    /// The next frame; `text` says whether UTF-8 validity will be needed.
    fn next(&mut self, text: bool) -> Result<Option<RawFrame>, DecodeError> {
        loop {
            self.data_lines(text);
            let Some(line) = self.next_line(text)? else {
                return Ok(None);
            };
            let assembled = matches!(line, Line::Partial);
            let processed = self.process(line);
            if assembled {
                self.partial.clear(); // keeps its buffer for the next split line
            }
            if let Some(frame) = processed? {
                return Ok(Some(frame));
            }
        }
    }

    /// Takes a run of `data:` lines that end in LF inside the chunk, in a tight loop. Stops at
    /// anything else, or anything doubtful (a limit about to be exceeded, a CR), which the
    /// general path then handles.
    #[inline]
    fn data_lines(&mut self, text: bool) {
        if !self.started
            || self.skip_lf
            || self.discarding_line
            || self.discarding_event
            || !self.partial.is_empty()
        {
            return;
        }
        if text {
            self.validate();
        }
        while let Some(rest) = self.chunk.get(self.pos..) {
            if !rest.starts_with(b"data:") {
                return;
            }
            let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
                self.carry_over_quietly();
                return;
            };
            let value_start = if rest[5] == b' ' { 6 } else { 5 };
            let joint = usize::from(!matches!(self.data, DataBuf::Empty));
            if rest[end] != b'\n'
                || end > self.limits.max_line_length()
                || self.data.len() + joint + (end - value_start) > self.limits.max_event_size()
            {
                return;
            }
            let start = self.pos;
            self.pos += end + 1;
            self.data_utf8 &= self.validated && start + end <= self.valid_until;
            if let DataBuf::Many(joined) = &mut self.data {
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&rest[value_start..end]);
            } else {
                let value = Value::slice_of(&self.chunk, start + value_start, start + end);
                self.data.push(value);
            }
        }
    }

    /// Finds the next complete line, or `None` when the input is used up.
    fn next_line(&mut self, text: bool) -> Result<Option<Line>, DecodeError> {
        loop {
            // (A BOM prefix alone is not yet a start: it waits for more input.)
            if !self.started && !self.start_stream() {
                return Ok(None);
            }
            if self.pos >= self.chunk.len() {
                return Ok(None);
            }
            if self.skip_lf {
                self.skip_lf = false;
                if self.chunk[self.pos] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            if text {
                self.validate();
            }
            let start = self.pos;
            if self.chunk[start] == b'\n' && self.partial.is_empty() && !self.discarding_line {
                // A blank line (the end of most events): no search needed.
                self.pos += 1;
                return Ok(Some(Line::InChunk { start, end: start }));
            }
            let Some(offset) = memchr::memchr2(b'\r', b'\n', &self.chunk[start..]) else {
                self.carry_over()?;
                return Ok(None);
            };
            let end = start + offset;
            // The line ending: CRLF, LF or CR. A CR that ends the chunk ends the line now and
            // makes the next LF, if it comes, part of this line ending.
            self.pos = end + 1;
            if self.chunk[end] == b'\r' {
                match self.chunk.get(end + 1) {
                    Some(&b'\n') => self.pos += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let empty = end == start && self.partial.is_empty();
            if self.discarding_line || (self.discarding_event && !empty) {
                // The end of an over-long line, or a line of an event being skipped: neither
                // is interpreted nor held against the line limit.
                self.discarding_line = false;
                self.partial.clear();
                continue;
            }
            if self.partial.is_empty() {
                if end - start > self.limits.max_line_length() {
                    return Err(self.fail(DecodeErrorKind::LineTooLong));
                }
                return Ok(Some(Line::InChunk { start, end }));
            }
            if self.partial.len() + (end - start) > self.limits.max_line_length() {
                self.partial.clear();
                return Err(self.fail(DecodeErrorKind::LineTooLong));
            }
            self.partial.extend_from_slice(&self.chunk[start..end]);
            return Ok(Some(Line::Partial));
        }
    }

    /// Handles the stream's first bytes: strips one BOM. Returns `false` when the bytes so far
    /// could still be the start of a BOM and more input is needed.
    fn start_stream(&mut self) -> bool {
        let rest = &self.chunk[self.pos..];
        if rest.len() < BOM.len() && BOM.starts_with(rest) {
            return false;
        }
        if rest.starts_with(BOM) {
            self.pos += BOM.len();
        }
        self.started = true;
        true
    }

    /// The chunk ends inside a line: keep its start for the next chunk, within the limit.
    fn carry_over(&mut self) -> Result<(), DecodeError> {
        let rest = &self.chunk[self.pos..];
        self.pos = self.chunk.len();
        if self.discarding_line || self.discarding_event {
            // Nothing of this line is needed, so nothing of it is kept.
            self.partial.clear();
            self.discarding_line = true;
            return Ok(());
        }
        if self.partial.len() + rest.len() > self.limits.max_line_length() {
            self.partial.clear();
            self.discarding_line = true;
            return Err(self.fail(DecodeErrorKind::LineTooLong));
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Checks the rest of the chunk for UTF-8 once (the first time text is asked for).
    // Measured: without `always` it is not inlined into the single-line fast path, which
    // then costs about 3% more instructions per token event (callgrind).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn validate(&mut self) {
        if !self.validated {
            self.valid_until = self.pos + utf8_prefix(&self.chunk[self.pos..]);
            self.validated = true;
        }
    }

    /// For the fast paths, which have found no line ending in `chunk[pos..]`: keeps that tail
    /// for the next chunk so that it is not searched again, unless it would exceed the line
    /// limit (the general path then reports the error).
    fn carry_over_quietly(&mut self) {
        let rest = &self.chunk[self.pos..];
        if self.partial.len() + rest.len() <= self.limits.max_line_length() {
            self.partial.extend_from_slice(rest);
            self.pos = self.chunk.len();
        }
    }

    /// Reports a limit error: the current event is dropped and the rest of it skipped.
    fn fail(&mut self, kind: DecodeErrorKind) -> DecodeError {
        self.data = DataBuf::Empty;
        self.data_utf8 = true;
        self.event_type = None;
        self.discarding_event = true;
        let limit = match kind {
            DecodeErrorKind::LineTooLong => self.limits.max_line_length(),
            DecodeErrorKind::EventTooLarge => self.limits.max_event_size(),
        };
        DecodeError::new(kind, limit)
    }

    /// Interprets one line.
    fn process(&mut self, line: Line) -> Result<Option<RawFrame>, DecodeError> {
        let (bytes, known_utf8): (&[u8], bool) = match &line {
            Line::InChunk { start, end } => (
                &self.chunk[*start..*end],
                self.validated && *end <= self.valid_until,
            ),
            Line::Partial => (&self.partial[..], false),
        };
        if bytes.is_empty() {
            return Ok(self.dispatch());
        }
        if self.discarding_event {
            return Ok(None);
        }
        let colon = if bytes.starts_with(b"data:") {
            Some(4) // the most common line, without a search
        } else if bytes.len() < 32 {
            bytes.iter().position(|&b| b == b':') // short lines: cheaper than memchr's setup
        } else {
            memchr::memchr(b':', bytes)
        };
        let (name_end, value_start) = match colon {
            Some(colon) if bytes.get(colon + 1) == Some(&b' ') => (colon, colon + 2),
            Some(colon) => (colon, colon + 1),
            None => (bytes.len(), bytes.len()),
        };
        let value = &bytes[value_start..];
        let target = match &bytes[..name_end] {
            b"data" => {
                let joint = usize::from(!matches!(self.data, DataBuf::Empty));
                if self.data.len() + joint + value.len() > self.limits.max_event_size() {
                    return Err(self.fail(DecodeErrorKind::EventTooLarge));
                }
                Target::Data
            }
            b"" if self.comments => Target::Comment,
            b"event" => Target::EventType,
            b"id" if memchr::memchr(0, value).is_none() => Target::Id,
            b"retry" => return Ok(parse_retry(value).map(RawFrame::Retry)),
            // Comments nobody asked for, unknown fields, and ids holding NUL are ignored.
            _ => return Ok(None),
        };
        let value = match line {
            Line::InChunk { start, end } => Value::slice_of(&self.chunk, start + value_start, end),
            Line::Partial => Value::copy_from(&self.partial[value_start..]),
        };
        match target {
            Target::Comment => return Ok(Some(RawFrame::Comment(value.into_bytes()))),
            Target::Data => {
                self.data_utf8 &= known_utf8;
                self.data.push(value);
            }
            Target::EventType => {
                self.event_type = Some(value);
                self.event_type_utf8 = known_utf8;
            }
            Target::Id => {
                self.last_id = value;
                self.last_id_utf8 = known_utf8;
                self.id_set = true;
            }
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<RawFrame> {
        if self.discarding_event {
            self.discarding_event = false;
            return None;
        }
        self.note_dispatch();
        let event_type = self.event_type.take().filter(|t| !t.is_empty());
        let data_utf8 = core::mem::replace(&mut self.data_utf8, true);
        let data = self.data.take()?;
        Some(RawFrame::Event(RawEvent {
            event_type,
            data,
            id: self.last_id.clone(),
            data_utf8,
            event_type_utf8: self.event_type_utf8,
            id_utf8: self.last_id_utf8,
        }))
    }
}
