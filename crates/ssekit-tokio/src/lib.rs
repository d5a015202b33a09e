//! Server-Sent Events framing for tokio: [`SseDecoder`] and [`SseEncoder`] implement
//! `tokio_util::codec::{Decoder, Encoder}` over the sans-IO `ssekit-codec`, and [`frames`] /
//! [`events`] turn any `AsyncRead` into a stream.
//!
//! This crate does no HTTP; `ssekit-server` and `ssekit-client` build on it.
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use ssekit_tokio::{Frame, SseDecoder};
//! use tokio_util::codec::FramedRead;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ssekit_tokio::Error> {
//! // Any `AsyncRead` works: a socket, a response body, `tokio::io::stdin()`.
//! let input: &[u8] = b"data: hello\n\nevent: bye\ndata: world\n\ndata: never finished";
//! let mut frames = FramedRead::new(input, SseDecoder::default());
//! let mut data = Vec::new();
//! while let Some(frame) = frames.next().await {
//!     if let Frame::Event(event) = frame? {
//!         data.push(event.data().to_owned());
//!     }
//! }
//! // The unterminated last event is dropped, as the specification says; it is not an error.
//! assert_eq!(data, ["hello", "world"]);
//! # Ok(())
//! # }
//! ```
//!
//! Reading events from standard input, as `ssekit decode` does:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ssekit_tokio::{Frame, SseDecoder};
//! use tokio_util::codec::FramedRead;
//!
//! # async fn run() -> Result<(), ssekit_tokio::Error> {
//! let mut frames = FramedRead::new(tokio::io::stdin(), SseDecoder::default());
//! while let Some(frame) = frames.next().await {
//!     if let Frame::Event(event) = frame? {
//!         println!("{}: {}", event.event_type(), event.data());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Crate features
//!
//! None; this crate needs `std` and the `codec` feature of tokio-util.

use std::{fmt, io};

use bytes::BytesMut;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;

pub use ssekit_codec::{
    Comment, DecodeError, DecodeErrorKind, Event, EventId, EventType, Frame, InvalidValue, Limits,
};

/// What went wrong reading an event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading the input failed.
    Io,
    /// The input exceeded a decoding limit.
    Decode,
}

/// An error reading an event stream: an I/O error or a [`DecodeError`] (see `source()`).
#[derive(Debug)]
pub struct Error {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Io(io::Error),
    Decode(DecodeError),
}

impl Error {
    /// Whether this is an I/O or a decoding error.
    pub fn kind(&self) -> ErrorKind {
        match self.inner {
            Inner::Io(_) => ErrorKind::Io,
            Inner::Decode(_) => ErrorKind::Decode,
        }
    }

    /// The decoding error, if this is one.
    pub fn as_decode(&self) -> Option<&DecodeError> {
        match &self.inner {
            Inner::Decode(e) => Some(e),
            Inner::Io(_) => None,
        }
    }

    /// The I/O error, if this is one.
    pub fn as_io(&self) -> Option<&io::Error> {
        match &self.inner {
            Inner::Io(e) => Some(e),
            Inner::Decode(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner {
            Inner::Io(_) => f.write_str("reading the event stream failed"),
            Inner::Decode(_) => f.write_str("the event stream exceeded a decoding limit"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner {
            Inner::Io(e) => Some(e),
            Inner::Decode(e) => Some(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error {
            inner: Inner::Io(e),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error {
            inner: Inner::Decode(e),
        }
    }
}

/// A `tokio_util` decoder of SSE frames.
///
/// Lines are split off the read buffer without copying. At the end of the input an unterminated
/// last event is dropped, as the specification says, instead of being an error (tokio-util's
/// default `decode_eof` would report leftover bytes as one).
///
/// # After a limit error
///
/// `FramedRead` ends its stream after an error. The codec itself can go on: it drops the event
/// being built and resumes with the next one. Through `FramedRead` that works only in part.
/// Polled again after its `None`, `FramedRead` reads more input before it decodes what it
/// already holds, so the events after the error wait for the peer's next bytes; and an error
/// found at the end of the input ends the stream for good, with whatever followed it. To read
/// past limit errors, drive [`ssekit_codec::Decoder`] directly:
///
/// ```
/// use ssekit_tokio::{Frame, Limits};
/// use tokio::io::AsyncReadExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let mut input: &[u8] = b"data: far too long\n\ndata: ok\n\n";
/// let limits = Limits::default().with_max_line_length(8);
/// let mut decoder = ssekit_codec::Decoder::with_limits(limits);
/// let (mut data, mut errors) = (Vec::new(), 0);
/// let mut buf = vec![0; 4096];
/// loop {
///     let n = input.read(&mut buf).await?;
///     if n == 0 {
///         break;
///     }
///     decoder.feed(&buf[..n]);
///     loop {
///         match decoder.next_frame() {
///             Ok(Some(Frame::Event(event))) => data.push(event.data().to_owned()),
///             Ok(Some(_)) => {}
///             Ok(None) => break,
///             Err(_) => errors += 1, // the event is dropped; go on
///         }
///     }
/// }
/// assert_eq!((errors, data), (1, vec!["ok".to_owned()]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct SseDecoder {
    inner: ssekit_codec::Decoder,
}

impl SseDecoder {
    /// A decoder with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        SseDecoder {
            inner: ssekit_codec::Decoder::with_limits(limits),
        }
    }

    /// Wraps a configured codec decoder (for comments, or a starting last event ID).
    pub fn from_decoder(inner: ssekit_codec::Decoder) -> Self {
        SseDecoder { inner }
    }

    /// The codec decoder, for its last event ID.
    pub fn get_ref(&self) -> &ssekit_codec::Decoder {
        &self.inner
    }
}

impl tokio_util::codec::Decoder for SseDecoder {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        Ok(self.inner.decode(src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        Ok(self.inner.decode_eof(src)?)
    }
}

/// A `tokio_util` encoder of SSE frames and events.
#[derive(Clone, Copy, Debug, Default)]
pub struct SseEncoder {
    inner: ssekit_codec::Encoder,
}

impl tokio_util::codec::Encoder<Frame> for SseEncoder {
    type Error = io::Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> io::Result<()> {
        self.inner.encode(&frame, dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<&Frame> for SseEncoder {
    type Error = io::Error;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> io::Result<()> {
        self.inner.encode(frame, dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<Event> for SseEncoder {
    type Error = io::Error;

    fn encode(&mut self, event: Event, dst: &mut BytesMut) -> io::Result<()> {
        self.inner.encode_event(&event, dst);
        Ok(())
    }
}

/// All frames (events and retry times) read from `reader`, ending with the input or after the
/// first error.
pub fn frames<R: AsyncRead>(reader: R) -> FramedRead<R, SseDecoder> {
    FramedRead::new(reader, SseDecoder::default())
}

/// The events read from `reader`, ending with the input or after the first error. Retry times
/// are skipped; use [`frames`] to see them.
pub fn events<R: AsyncRead>(reader: R) -> impl Stream<Item = Result<Event, Error>> {
    frames(reader).filter_map(|frame| async move {
        match frame {
            Ok(Frame::Event(event)) => Some(Ok(event)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    })
}
