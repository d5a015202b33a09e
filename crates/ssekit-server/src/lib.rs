//! Server-Sent Events over hyper 1.x.
//!
//! - [`SseBody`] is an `http_body::Body` that sends each event as soon as it is there (in a
//!   frame of its own, so it is flushed at once; events that are already waiting, because the
//!   client fell behind, go out together in one frame), fills idle time with keep-alive
//!   comments, and tells the producer when the client goes away: dropping the body cancels the
//!   [`Sender`]'s token and fails its sends. [`SseBody::from_stream`] instead polls a producer
//!   stream itself, with no task or queue in between.
//! - [`sse_response`] adds the headers an event stream needs; [`last_event_id`] reads a
//!   reconnecting client's id from the header or a `lastEventId` query parameter.
//! - [`Hub`] holds topics: publishing encodes an event once and stores it once, in a log every
//!   subscriber reads from its own position; a bounded replay window lets a client resume with
//!   `Last-Event-ID` and miss nothing; a subscriber that falls behind is cut off instead of
//!   slowing the others.
//!
//! - [`Server`] is an accept loop for all of this: HTTP/1.1 and h2c on one port, graceful
//!   shutdown, and a direct path for plain `GET`s that keeps under a quarter of hyper's memory
//!   per idle connection (an event stream's connection mostly waits); everything else is
//!   served by hyper.
//!
//! The responses are ordinary `http_body::Body`s: serve them with [`Server`], with hyper's own
//! connection builders, or with axum. The `ssekit serve` command is a complete server built on
//! this crate.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use ssekit_server::{channel, sse_response, Event};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a hyper `service_fn` handler:
//! let (sender, body) = channel(16);
//! let response = sse_response(body.with_keep_alive(Duration::from_secs(15)).with_retry(2000));
//! tokio::spawn(async move {
//!     for i in 0..3 {
//!         let event = Event::new(format!("tick {i}"));
//!         tokio::select! {
//!             _ = sender.closed() => return, // the client went away: stop at once
//!             sent = sender.send(&event) => if sent.is_err() { return },
//!         }
//!     }
//! });
//! assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
//! # }
//! ```
//!
//! With the `axum` feature, an [`SseBody`] is an axum response:
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn example() -> axum::Router {
//! use axum::{routing::get, Router};
//! use ssekit_server::{channel, Event};
//!
//! Router::new().route("/events", get(|| async {
//!     let (sender, body) = channel(16);
//!     tokio::spawn(async move {
//!         let _ = sender.send(&Event::new("hello")).await;
//!     });
//!     body // the SSE headers come with it
//! }))
//! # }
//! ```
//!
//! # Crate features
//!
//! - `axum`: `impl axum::response::IntoResponse for SseBody`.

#[cfg(feature = "axum")]
mod axum_response;
mod body;
mod hub;
mod response;
mod server;

pub use body::{channel, Disconnected, Sender, SseBody};
pub use hub::{
    is_valid_topic, Backend, Hub, HubConfig, HubError, HubErrorKind, MemoryBackend, Subscription,
    HISTORY_LOST,
};
pub use response::{last_event_id, query_param, sse_response, CONTENT_TYPE_EVENT_STREAM};
pub use server::{RequestBody, Server};
pub use ssekit_codec::{Comment, Event, EventId, EventType, Frame};
