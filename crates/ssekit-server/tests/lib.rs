//! Integration tests of the server crate: the body, the hub, HTTP over loopback, and
//! `Server`'s connection handling.

mod body;
mod http;
mod hub;
mod server;

use std::time::Duration;

use ssekit_codec::{Decoder, Event, Frame};

/// The next event of a response body, or `None` when it ends, fails or stays silent for 10 s.
async fn next_event(body: &mut hyper::body::Incoming, decoder: &mut Decoder) -> Option<Event> {
    use http_body_util::BodyExt;
    loop {
        if let Some(Frame::Event(e)) = decoder.next_frame().unwrap() {
            return Some(e);
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .ok()??
            .ok()?;
        if let Ok(data) = frame.into_data() {
            decoder.feed(&data);
        }
    }
}
