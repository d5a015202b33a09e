//! `Value` and `Text`: the decoder's values without reference counting for small ones.
//!
//! A value of at most [`INLINE`] bytes is copied into the value itself (no allocation, no
//! atomic reference count); a longer one is a `Bytes` slice of the input (no copy). Event types,
//! ids and short data are small; a token chunk or a long line is shared.

use alloc::string::String;
use bytes::Bytes;
use core::{fmt, hash, ops::Deref};

/// The longest value kept inline: 23 bytes keep a `Value` as small as a `Bytes` (32 bytes).
pub(crate) const INLINE: usize = 23;

/// Bytes, inline when small.
#[derive(Clone)]
pub(crate) enum Value {
    Inline(Small),
    Shared(Bytes),
}

/// The bytes of a small value. Word-aligned, so that moving a `Value` takes a few whole-word
/// moves rather than a byte, a word and odd pieces.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Small {
    buf: [u8; INLINE],
    len: u8,
}

// A `Value` is as small as a `Bytes`: the inline variant fits beside `Bytes`'s niche.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<Value>() == 32);

impl Value {
    pub(crate) const EMPTY: Value = Value::Inline(Small {
        buf: [0; INLINE],
        len: 0,
    });

    /// `bytes`, copied inline if small, else copied into a new shared buffer.
    pub(crate) fn copy_from(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Value::Inline(Small {
                buf,
                len: bytes.len() as u8,
            })
        } else {
            Value::Shared(Bytes::copy_from_slice(bytes))
        }
    }

    /// `chunk[start..end]`: copied inline if small, else a slice sharing `chunk`.
    // Measured: left to the compiler, it was sometimes a call per event from the decoder.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn slice_of(chunk: &Bytes, start: usize, end: usize) -> Self {
        let len = end - start;
        if len > INLINE {
            return Value::Shared(chunk.slice(start..end));
        }
        if let Some(window) = chunk.get(start..start + INLINE) {
            // A fixed-size copy (a couple of vector moves) beats a variable-length one; the
            // bytes past `len` are never read.
            let mut buf = [0; INLINE];
            buf.copy_from_slice(window);
            return Value::Inline(Small {
                buf,
                len: len as u8,
            });
        }
        Value::copy_from(&chunk[start..end])
    }

    /// `bytes` as they are (no copy).
    pub(crate) fn from_bytes(bytes: Bytes) -> Self {
        Value::Shared(bytes)
    }

    const fn from_static(s: &'static str) -> Self {
        let bytes = s.as_bytes();
        assert!(bytes.len() <= INLINE);
        let mut buf = [0; INLINE];
        let mut i = 0;
        while i < bytes.len() {
            buf[i] = bytes[i];
            i += 1;
        }
        Value::Inline(Small {
            buf,
            len: bytes.len() as u8,
        })
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Value::Inline(small) => &small.buf[..small.len as usize],
            Value::Shared(b) => b,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        match self {
            Value::Inline(small) => Bytes::copy_from_slice(&small.buf[..small.len as usize]),
            Value::Shared(b) => b,
        }
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::EMPTY
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Value {}

impl hash::Hash for Value {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// UTF-8 text in a [`Value`]. The invariant (valid UTF-8) is established by every constructor
/// and never broken, because the bytes are never exposed mutably.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Text(Value);

impl Text {
    pub(crate) const fn from_static(s: &'static str) -> Self {
        Text(Value::from_static(s))
    }

    pub(crate) fn from_string(s: String) -> Self {
        if s.len() <= INLINE {
            Text(Value::copy_from(s.as_bytes()))
        } else {
            Text(Value::from_bytes(Bytes::from(s)))
        }
    }

    /// Validates `value` as UTF-8, replacing invalid sequences with U+FFFD as browsers do.
    /// Valid input (the common case) is kept without copying.
    pub(crate) fn from_utf8_lossy(value: Value) -> Self {
        match core::str::from_utf8(value.as_bytes()) {
            Ok(_) => Text(value),
            Err(_) => Text::from_string(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        }
    }

    /// Wraps a value the decoder has already found to be valid UTF-8.
    pub(crate) fn from_checked_utf8(value: Value) -> Self {
        debug_assert!(core::str::from_utf8(value.as_bytes()).is_ok());
        Text(value)
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: every constructor above guarantees that the value holds valid UTF-8, and it
        // is never exposed mutably. Re-validating on each access would cost a scan per read.
        #[allow(unsafe_code)]
        unsafe {
            core::str::from_utf8_unchecked(self.0.as_bytes())
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
