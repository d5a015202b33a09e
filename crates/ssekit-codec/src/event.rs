//! The items of an event stream: events, retry times and comments.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

use crate::error::{Field, InvalidValue};
use crate::text::{Text, Value};

const MESSAGE: Text = Text::from_static("message");

/// Returns the index and value of the first byte of `value` that is a line break (or NUL when
/// `nul` is set).
fn find_forbidden(value: &[u8], nul: bool) -> Option<(usize, u8)> {
    let found = if nul {
        memchr::memchr3(b'\r', b'\n', 0, value)
    } else {
        memchr::memchr2(b'\r', b'\n', value)
    };
    found.map(|i| (i, value[i]))
}

/// An event type (the `event:` field): any text without CR or LF.
///
/// An empty type means the default, `message`, as it does on the wire.
///
/// ```
/// use ssekit_codec::EventType;
///
/// assert_eq!(EventType::new("update").unwrap().as_str(), "update");
/// assert!(EventType::new("two\nlines").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventType(Text);

impl EventType {
    /// Validates an event type: it must not contain `\r` or `\n`.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        if let Some((index, byte)) = find_forbidden(value.as_bytes(), false) {
            return Err(InvalidValue::new(Field::EventType, byte, index));
        }
        if value.is_empty() {
            return Ok(EventType(MESSAGE));
        }
        Ok(EventType(Text::from_string(value)))
    }

    /// The default type, `message`.
    pub const fn message() -> Self {
        EventType(MESSAGE)
    }

    /// The type as text.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn into_text(self) -> Text {
        self.0
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl core::str::FromStr for EventType {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        EventType::new(s)
    }
}

/// An event id (the `id:` field): any text without CR, LF or NUL.
///
/// ```
/// use ssekit_codec::EventId;
///
/// assert_eq!(EventId::new("42").unwrap().as_str(), "42");
/// assert!(EventId::new("a\0b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventId(Text);

impl EventId {
    /// Validates an id: it must not contain `\r`, `\n` or NUL.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        if let Some((index, byte)) = find_forbidden(value.as_bytes(), true) {
            return Err(InvalidValue::new(Field::Id, byte, index));
        }
        Ok(EventId(Text::from_string(value)))
    }

    /// The id as text.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl core::str::FromStr for EventId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        EventId::new(s)
    }
}

/// A message event: a type, data and an id.
///
/// Decoded events carry the stream's *last event ID* at dispatch (it persists across events
/// until an `id:` field changes it); `None` when that ID is empty. When encoding, `Some` writes
/// an `id:` line (an empty id resets the client's last event ID) and `None` writes none.
///
/// ```
/// use ssekit_codec::{Event, EventId, EventType};
///
/// let event = Event::new("line one\nline two")
///     .with_type(EventType::new("note")?)
///     .with_id(EventId::new("7")?);
/// assert_eq!(event.event_type(), "note");
/// assert_eq!(event.data(), "line one\nline two");
/// assert_eq!(event.id(), Some("7"));
/// # Ok::<(), ssekit_codec::InvalidValue>(())
/// ```
#[derive(Clone)]
pub struct Event {
    event_type: Text,
    data: Text,
    id: Option<Text>,
    /// The data is known to hold no line break (the decoder made it from one `data:` line),
    /// so the encoder need not look for one. Not part of the event's value: `false` says
    /// nothing.
    one_line: bool,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type && self.data == other.data && self.id == other.id
    }
}

impl Eq for Event {}

impl core::hash::Hash for Event {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.event_type.hash(state);
        self.data.hash(state);
        self.id.hash(state);
    }
}

impl Event {
    /// A `message` event with this data and no id. Data may hold any text, line breaks included.
    pub fn new(data: impl Into<String>) -> Self {
        Event {
            event_type: MESSAGE,
            data: Text::from_string(data.into()),
            id: None,
            one_line: false,
        }
    }

    /// An event from its parts; `one_line` when the data is known to hold no line break.
    pub(crate) fn from_parts(
        event_type: Text,
        data: Text,
        id: Option<Text>,
        one_line: bool,
    ) -> Self {
        Event {
            event_type,
            data,
            id,
            one_line,
        }
    }

    /// Whether the data is known to hold no line break (see the field).
    pub(crate) fn known_one_line(&self) -> bool {
        self.one_line
    }

    /// Sets the event type.
    #[must_use]
    pub fn with_type(mut self, event_type: EventType) -> Self {
        self.event_type = event_type.0;
        self
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: EventId) -> Self {
        self.id = Some(id.0);
        self
    }

    /// Removes the id.
    #[must_use]
    pub fn without_id(mut self) -> Self {
        self.id = None;
        self
    }

    /// The event type; `message` unless the stream set another.
    #[inline]
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The data, lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The data as bytes.
    #[inline]
    pub fn data_bytes(&self) -> &[u8] {
        self.data.as_bytes()
    }

    /// The id, if any.
    #[inline]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

// `one_line` is a hint for the encoder, not part of the event's value.
#[allow(clippy::missing_fields_in_debug)]
impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_type", &self.event_type)
            .field("data", &self.data)
            .field("id", &self.id)
            .finish()
    }
}

/// A comment line (`: text`): ignored by `EventSource`, used for keep-alives.
///
/// Decoded comments have the one space after the colon removed, as field values do, so
/// encoding and decoding a comment gives it back.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Comment(Text);

impl Comment {
    /// A comment. Text holding line breaks is encoded as several comment lines.
    pub fn new(text: impl Into<String>) -> Self {
        Comment(Text::from_string(text.into()))
    }

    pub(crate) fn from_text(text: Text) -> Self {
        Comment(text)
    }

    /// The comment text.
    #[inline]
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Comment").field(&self.0).finish()
    }
}

/// One item of an event stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Frame {
    /// A dispatched event.
    Event(Event),
    /// A `retry:` field: the reconnection time in milliseconds.
    Retry(u64),
    /// A comment line (decoded only when asked for).
    Comment(Comment),
}

/// A dispatched event at the byte level: the values exactly as they were on the wire, without
/// UTF-8 validation. For users who carry binary-ish or non-UTF-8 payloads.
#[derive(Clone, Debug)]
pub struct RawEvent {
    pub(crate) event_type: Option<Value>,
    pub(crate) data: Value,
    pub(crate) id: Value,
    /// What the decoder already knows is valid UTF-8 (it checks whole chunks at once).
    pub(crate) data_utf8: bool,
    pub(crate) event_type_utf8: bool,
    pub(crate) id_utf8: bool,
}

impl PartialEq for RawEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event_type() == other.event_type() && self.data == other.data && self.id == other.id
    }
}

impl Eq for RawEvent {}

impl core::hash::Hash for RawEvent {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.event_type().hash(state);
        self.data.hash(state);
        self.id.hash(state);
    }
}

impl RawEvent {
    /// The event type's bytes; `b"message"` when the stream set none (or an empty one).
    #[inline]
    pub fn event_type(&self) -> &[u8] {
        self.event_type.as_ref().map_or(b"message", Value::as_bytes)
    }

    /// The data bytes, lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.data.as_bytes()
    }

    /// The data as `Bytes` (without a copy when it was a slice of the input).
    pub fn into_data(self) -> Bytes {
        self.data.into_bytes()
    }

    /// The last event ID at dispatch; empty when none was set.
    #[inline]
    pub fn id(&self) -> &[u8] {
        self.id.as_bytes()
    }

    /// Converts to an [`Event`], replacing invalid UTF-8 with U+FFFD as browsers do.
    pub fn into_event(self) -> Event {
        let text = |value: Value, checked: bool| {
            if checked {
                Text::from_checked_utf8(value)
            } else {
                Text::from_utf8_lossy(value)
            }
        };
        let event_type = match self.event_type {
            Some(t) => text(t, self.event_type_utf8),
            None => MESSAGE,
        };
        let id = if self.id.is_empty() {
            None
        } else {
            Some(text(self.id, self.id_utf8))
        };
        let data = if self.data_utf8 {
            Text::from_checked_utf8(self.data)
        } else {
            Text::from_utf8_lossy(self.data)
        };
        Event::from_parts(event_type, data, id, false)
    }
}

/// One item of an event stream at the byte level; see [`RawEvent`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RawFrame {
    /// A dispatched event.
    Event(RawEvent),
    /// A `retry:` field: the reconnection time in milliseconds.
    Retry(u64),
    /// A comment line's text after the colon and one optional space (decoded only when asked for).
    Comment(Bytes),
}

impl RawFrame {
    /// Converts to a [`Frame`], replacing invalid UTF-8 with U+FFFD.
    pub fn into_frame(self) -> Frame {
        match self {
            RawFrame::Event(e) => Frame::Event(e.into_event()),
            RawFrame::Retry(ms) => Frame::Retry(ms),
            RawFrame::Comment(c) => Frame::Comment(Comment::from_text(Text::from_utf8_lossy(
                Value::from_bytes(c),
            ))),
        }
    }
}
