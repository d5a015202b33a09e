//! Error types: opaque structs with a `kind()`, as `http` and `hyper` do.

use core::fmt;

/// What went wrong while decoding. More kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// A line was longer than [`Limits::max_line_length`](crate::Limits::max_line_length).
    LineTooLong,
    /// An event's data was larger than [`Limits::max_event_size`](crate::Limits::max_event_size).
    EventTooLarge,
}

/// A limit was exceeded while decoding.
///
/// Spec quirks (unknown fields, a bad `retry`, an `id` holding NUL, invalid UTF-8) are never
/// errors: the decoder handles them as the WHATWG specification says. Only limits are.
///
/// **Recovery.** The event being built when the error occurred is discarded, including the
/// rest of the offending line and an `id:` it held (the next event carries the last event ID
/// from before it); decoding resumes with the next event (after the next blank line). Events
/// dispatched before the error are unaffected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    limit: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, limit: usize) -> Self {
        DecodeError { kind, limit }
    }

    /// Which limit was exceeded.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The value of the limit that was exceeded, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether a line was too long.
    pub fn is_line_too_long(&self) -> bool {
        self.kind == DecodeErrorKind::LineTooLong
    }

    /// Whether an event's data was too large.
    pub fn is_event_too_large(&self) -> bool {
        self.kind == DecodeErrorKind::EventTooLarge
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::LineTooLong => {
                write!(f, "line longer than the limit of {} bytes", self.limit)
            }
            DecodeErrorKind::EventTooLarge => {
                write!(
                    f,
                    "event data larger than the limit of {} bytes",
                    self.limit
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

/// Which field a rejected value was meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The event type (`event:`).
    EventType,
    /// The event id (`id:`).
    Id,
}

/// A value that cannot be encoded in the field it was meant for: an event type or id holding a
/// line break, or an id holding NUL.
///
/// Returned by the fallible constructors of [`EventType`](crate::EventType) and
/// [`EventId`](crate::EventId), so that encoding a valid event can never fail or corrupt the
/// stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    field: Field,
    byte: u8,
    index: usize,
}

impl InvalidValue {
    pub(crate) fn new(field: Field, byte: u8, index: usize) -> Self {
        InvalidValue { field, byte, index }
    }

    /// The field the value was meant for.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The offending byte: `\r`, `\n` or NUL.
    pub fn byte(&self) -> u8 {
        self.byte
    }

    /// The byte offset of the offending byte in the value.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.field {
            Field::EventType => "event type",
            Field::Id => "event id",
        };
        let what = match self.byte {
            b'\r' => "a carriage return",
            b'\n' => "a line feed",
            _ => "a NUL byte",
        };
        write!(f, "{field} contains {what} at byte {}", self.index)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InvalidValue {}
