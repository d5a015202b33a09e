//! The intermediaries between an SSE producer (an LLM, say) and the browser.
//!
//! - [`Relay`] (forwarding with processing): opens the upstream stream with `ssekit-client`,
//!   runs every event through a [`Pipeline`] (map, filter, flat-map, async steps, and
//!   built-ins such as [`Redactor`]-based redaction that works even when the upstream splits a
//!   word across events), and streams the result to the client with `ssekit-server`, event by
//!   event. A client that goes away cancels the upstream request at once.
//! - [`Proxy`] (pass-through): forwards to a fixed upstream byte for byte, streaming the request
//!   body up and the response down, with hop-by-hop headers handled as RFC 9110 says.
//!
//! # Example
//!
//! ```
//! use ssekit_relay::{Pipeline, Redactor};
//! use ssekit_codec::Event;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // OpenAI-compatible chunks, with a word split across two of them.
//! let chunk = |text: &str| Event::new(format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"{text}"}}}}]}}"#));
//! let mut pipeline = Pipeline::new().redact(["password"], "***");
//! let mut text = String::new();
//! for event in [chunk("my pass"), chunk("word is 42"), Event::new("[DONE]")] {
//!     for out in pipeline.push(event).await {
//!         if let Ok(v) = serde_json::from_str::<serde_json::Value>(out.data()) {
//!             text.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
//!         }
//!     }
//! }
//! assert_eq!(text, "my *** is 42");
//! # }
//! ```
//!
//! # Crate features
//!
//! None yet.

mod pipeline;
mod proxy;
mod redact;
mod relay;

pub use pipeline::{error_event, BoxFuture, Pipeline, Step};
pub use proxy::{Proxy, ProxyBody, ProxyError};
pub use redact::Redactor;
pub use relay::{Generation, PipelineFactory, Relay, RelayConfig};
