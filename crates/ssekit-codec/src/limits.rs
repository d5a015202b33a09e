//! The limits that bound every buffer the decoder grows from peer input.

/// Bounds on what the decoder buffers on behalf of the peer.
///
/// Every buffer that grows with input is bounded by one of these values, so a decoder never
/// holds more than `max_line_length + max_event_size` bytes of input plus the chunk being
/// decoded. Its allocations can be larger than what they hold: a growing buffer may have up to
/// twice the room it uses, and the decoder keeps a few buffers of 4–8 KiB for reuse.
/// Exceeding a limit is reported as a [`DecodeError`](crate::DecodeError); see there for how the
/// decoder recovers.
///
/// ```
/// use ssekit_codec::Limits;
///
/// let limits = Limits::default()
///     .with_max_line_length(64 * 1024)
///     .with_max_event_size(1024 * 1024);
/// assert_eq!(limits.max_line_length(), 64 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    max_line_length: usize,
    max_event_size: usize,
}

impl Limits {
    /// The default longest line, not counting its line ending: 16 MiB.
    pub const DEFAULT_MAX_LINE_LENGTH: usize = 16 * 1024 * 1024;
    /// The default largest data buffer of one event: 16 MiB.
    pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

    /// Limits that never trigger: for input you trust, such as your own encoder's output.
    pub const fn unlimited() -> Self {
        Limits {
            max_line_length: usize::MAX,
            max_event_size: usize::MAX,
        }
    }

    /// Sets the longest accepted line in bytes, line ending excluded.
    #[must_use]
    pub const fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_length = bytes;
        self
    }

    /// Sets the largest accepted event data in bytes (the `data:` values joined with `\n`).
    #[must_use]
    pub const fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The longest accepted line in bytes, line ending excluded.
    pub const fn max_line_length(&self) -> usize {
        self.max_line_length
    }

    /// The largest accepted event data in bytes.
    pub const fn max_event_size(&self) -> usize {
        self.max_event_size
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_length: Self::DEFAULT_MAX_LINE_LENGTH,
            max_event_size: Self::DEFAULT_MAX_EVENT_SIZE,
        }
    }
}
