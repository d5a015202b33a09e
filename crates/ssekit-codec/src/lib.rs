//! A sans-IO codec for Server-Sent Events (`text/event-stream`).
//!
//! This crate turns bytes into events and events into bytes, and nothing else: no sockets, no
//! clock, no async runtime. [`Decoder`] is an incremental decoder that follows the WHATWG HTML
//! standard ("Server-sent events") to the byte, whatever the chunking of its input; [`Encoder`]
//! writes events that any conforming client reads back exactly, splitting data on `\n`, `\r`
//! and `\r\n`. [`Limits`] bounds every buffer that peer input can grow.
//!
//! The I/O lives in the crates above this one: `ssekit-tokio` (tokio-util framing),
//! `ssekit-server` and `ssekit-client`.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use ssekit_codec::{Decoder, Encoder, Event, EventType, Frame};
//!
//! // Encode two events...
//! let mut wire = BytesMut::new();
//! let encoder = Encoder::new();
//! encoder.encode_event(&Event::new("first"), &mut wire);
//! encoder.encode_event(&Event::new("line 1\r\nline 2").with_type(EventType::new("multi")?), &mut wire);
//!
//! // ...and decode them from chunks split anywhere.
//! let mut decoder = Decoder::new();
//! let mut events = Vec::new();
//! for chunk in wire.chunks(5) {
//!     decoder.feed(chunk);
//!     while let Some(frame) = decoder.next_frame()? {
//!         if let Frame::Event(event) = frame {
//!             events.push(event);
//!         }
//!     }
//! }
//! assert_eq!(events[0].data(), "first");
//! assert_eq!(events[1].event_type(), "multi");
//! assert_eq!(events[1].data(), "line 1\nline 2"); // every line break decodes as `\n`
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! - `std` (default): implements `std::error::Error` for the error types. Without it the crate
//!   is `#![no_std]` and needs only `alloc`: depend on it with `default-features = false`.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod decoder;
mod encoder;
mod error;
mod event;
mod limits;
mod text;

pub use bytes;
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{DecodeError, DecodeErrorKind, Field, InvalidValue};
pub use event::{Comment, Event, EventId, EventType, Frame, RawEvent, RawFrame};
pub use limits::Limits;

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
