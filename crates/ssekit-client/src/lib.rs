//! A fetch-style Server-Sent Events client over hyper 1.x.
//!
//! The browser's `EventSource` can only GET, with no headers and no body. This client sends any
//! method, headers and body (over HTTP/1.1 or HTTP/2, with rustls for TLS), and still behaves
//! like `EventSource` when the connection ends: it reconnects after the retry time, sends
//! `Last-Event-ID`, honours the server's `retry:`, backs off on repeated failures and stops on
//! fatal statuses. All of that is decided by a [`ReconnectPolicy`], a small value you can
//! configure, test, or override with a hook.
//!
//! A stream that ends normally is **not** an error. Whether it is reconnected is the policy's
//! decision: by default it is, as `EventSource` does, which re-sends the request and its body.
//! For a non-idempotent request (a POST that starts a paid generation, say) use
//! `ReconnectPolicy::default().reconnect_on_end(false)`.
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ssekit_client::{Client, ReconnectPolicy, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ssekit_client::Error> {
//! let client = Client::new()?;
//! let request = Request::get("https://example.com/events")?.header("authorization", "Bearer t")?;
//! let mut events = Box::pin(client.stream(request, ReconnectPolicy::default()).events());
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{}: {}", event.event_type(), event.data());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Crate features
//!
//! None yet: TLS (rustls with the `ring` provider and the webpki roots) is always on.

mod client;
mod error;
mod policy;
mod stream;
mod tls;

pub use client::{BodyFactory, Client, ClientBuilder, HeaderHook, Request};
pub use error::{Error, ErrorKind};
pub use policy::{is_retryable, Decision, Hook, Outcome, ReconnectPolicy, ResponseCheck};
pub use ssekit_codec::{Comment, Event, EventId, EventType, Limits};
pub use stream::{EventStream, Item};
