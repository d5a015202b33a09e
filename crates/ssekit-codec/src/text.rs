//! `Text`: shared, immutable UTF-8 backed by [`Bytes`], so decoded values are slices of the
//! input rather than copies.

use alloc::string::String;
use bytes::Bytes;
use core::{fmt, ops::Deref};

/// UTF-8 text held in a [`Bytes`]. The invariant (valid UTF-8) is established by every
/// constructor and never broken, because the bytes are never exposed mutably.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Text(Bytes);

impl Text {
    pub(crate) const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    pub(crate) fn from_string(s: String) -> Self {
        Text(Bytes::from(s))
    }

    /// Validates `bytes` as UTF-8, replacing invalid sequences with U+FFFD as browsers do.
    /// Valid input (the common case) is kept without copying.
    pub(crate) fn from_utf8_lossy(bytes: Bytes) -> Self {
        match core::str::from_utf8(&bytes) {
            Ok(_) => Text(bytes),
            Err(_) => Text::from_string(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Wraps bytes the decoder has already found to be valid UTF-8.
    pub(crate) fn from_checked_utf8(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: every constructor above guarantees that `self.0` holds valid UTF-8 and the
        // bytes are immutable. Re-validating on each access would cost a full scan per read.
        #[allow(unsafe_code)]
        unsafe {
            core::str::from_utf8_unchecked(&self.0)
        }
    }

    pub(crate) fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
