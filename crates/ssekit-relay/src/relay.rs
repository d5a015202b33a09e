//! The forwarding relay: upstream SSE → pipeline → downstream SSE.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use ssekit_client::{Client, Item, ReconnectPolicy, Request};
use ssekit_server::{channel, sse_response, SseBody};

use crate::pipeline::{error_event, Pipeline};

/// Makes a fresh pipeline for each relayed stream.
pub type PipelineFactory = Arc<dyn Fn() -> Pipeline + Send + Sync>;

/// Settings of a [`Relay`].
#[derive(Clone)]
pub struct RelayConfig {
    upstream: String,
    forward_headers: Vec<HeaderName>,
    upstream_headers: HeaderMap,
    pipeline: PipelineFactory,
    keep_alive: Option<Duration>,
    queue: usize,
}

impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("upstream", &self.upstream)
            .field("forward_headers", &self.forward_headers)
            .field(
                "upstream_headers",
                &self.upstream_headers.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RelayConfig {
    /// Relays to `upstream` (a fixed URL: clients never choose where the relay connects).
    ///
    /// By default only `Content-Type` and `Accept-Language` of the client's request go
    /// upstream: never its cookies or `Authorization`, unless allowed with
    /// [`forward_header`](Self::forward_header). No upstream response header comes back, so
    /// nothing the upstream sends (or the credentials sent to it) reaches the client.
    pub fn new(upstream: impl Into<String>) -> Self {
        RelayConfig {
            upstream: upstream.into(),
            forward_headers: vec![http::header::CONTENT_TYPE, http::header::ACCEPT_LANGUAGE],
            upstream_headers: HeaderMap::new(),
            pipeline: Arc::new(Pipeline::new),
            keep_alive: Some(Duration::from_secs(15)),
            queue: 64,
        }
    }

    /// Also forwards this client header upstream.
    #[must_use]
    pub fn forward_header(mut self, name: HeaderName) -> Self {
        self.forward_headers.push(name);
        self
    }

    /// Adds a header to every upstream request (an API key, say). It never reaches clients.
    #[must_use]
    pub fn upstream_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.upstream_headers.append(name, value);
        self
    }

    /// The processing for each stream.
    #[must_use]
    pub fn pipeline(mut self, factory: PipelineFactory) -> Self {
        self.pipeline = factory;
        self
    }

    /// The keep-alive interval towards the client (`None`: none).
    #[must_use]
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = interval;
        self
    }
}

/// Relays event streams: for each call it opens the upstream stream with the client's method
/// and body (and the allowed headers), runs each event through the pipeline, and streams the
/// result to the client as it comes, without buffering.
///
/// When the client goes away the upstream request is dropped at once. When the upstream fails,
/// the client gets an `error` event (JSON `{"error":{"message":...}}`) and a clean end. The
/// upstream request is never sent twice: a finished or failed upstream is not reconnected.
#[derive(Clone, Debug)]
pub struct Relay {
    client: Client,
    config: Arc<RelayConfig>,
}

impl Relay {
    /// A relay using `client` for upstream requests.
    pub fn new(client: Client, config: RelayConfig) -> Self {
        Relay {
            client,
            config: Arc::new(config),
        }
    }

    /// Relays one request: `method`, the client's `headers` (filtered) and `body`.
    pub fn relay(
        &self,
        method: http::Method,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response<SseBody> {
        let (sender, body_out) = channel(self.config.queue);
        let mut body_out = body_out;
        if let Some(interval) = self.config.keep_alive {
            body_out = body_out.with_keep_alive(interval);
        }
        let request = self.upstream_request(method, headers, body);
        let client = self.client.clone();
        let mut pipeline = (self.config.pipeline)();
        tokio::spawn(async move {
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    let _ = sender
                        .send(&error_event(&format!("the relay is misconfigured: {e}")))
                        .await;
                    return;
                }
            };
            let mut upstream = client.stream(request, ReconnectPolicy::never());
            loop {
                let item = tokio::select! {
                    () = sender.closed() => {
                        tracing::debug!("client went away; dropping the upstream request");
                        return; // `upstream` is dropped here: its connection closes now
                    }
                    item = upstream.next() => item,
                };
                let events = match item {
                    None => {
                        let rest = pipeline.finish().await;
                        for event in &rest {
                            if sender.send(event).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    Some(Ok(Item::Event(event))) => pipeline.push(event).await,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        let mut events = pipeline.finish().await;
                        events.push(error_event(&format!("upstream: {e}")));
                        events
                    }
                };
                for event in &events {
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
            }
        });
        sse_response(body_out)
    }

    fn upstream_request(
        &self,
        method: http::Method,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Request, ssekit_client::Error> {
        let mut request = Request::new(method, &self.config.upstream)?;
        for name in &self.config.forward_headers {
            for value in headers.get_all(name) {
                if let Ok(value) = value.to_str() {
                    request = request.header(name.as_str(), value)?;
                }
            }
        }
        for (name, value) in &self.config.upstream_headers {
            if let Ok(value) = value.to_str() {
                request = request.header(name.as_str(), value)?;
            }
        }
        Ok(request.body(body))
    }
}

/// A plain-text error response (for bad requests to the relay).
pub fn text_response(status: StatusCode, message: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!("{message}\n")));
    *response.status_mut() = status;
    response
}
