//! The forwarding relay: upstream SSE → pipeline → downstream SSE.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Response;
use ssekit_client::{Client, Item, ReconnectPolicy, Request};
use ssekit_codec::Event;
use ssekit_server::{channel, sse_response, EventType, Hub, Sender, SseBody};
use tokio_util::sync::CancellationToken;

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
        let pipeline = (self.config.pipeline)();
        tokio::spawn(pump(client, request, pipeline, Sink::Client(sender)));
        sse_response(body_out)
    }

    /// Runs one generation into a hub topic instead of one client's stream: every processed
    /// event is published to the generation's topic (so any number of clients can follow it,
    /// and one that lost its connection resumes with `Last-Event-ID`), the generation runs to
    /// completion even when no client is left, within its time limit, and its cancellation
    /// token stops it (and its upstream request) at once. When it ends the topic is closed,
    /// keeping its events for replay until the caller removes it.
    pub fn generate(
        &self,
        method: http::Method,
        headers: &HeaderMap,
        body: Bytes,
        generation: Generation,
    ) -> tokio::task::JoinHandle<()> {
        let request = self.upstream_request(method, headers, body);
        let client = self.client.clone();
        let pipeline = (self.config.pipeline)();
        tokio::spawn(async move {
            let Generation {
                hub,
                topic,
                cancel,
                max_duration,
            } = generation;
            let sink = Sink::Topic {
                hub: hub.clone(),
                topic: topic.clone(),
                cancel,
            };
            if tokio::time::timeout(max_duration, pump(client, request, pipeline, sink))
                .await
                .is_err()
            {
                let stopped = error_event("the generation took too long and was stopped");
                let _ = publish(&hub, &topic, &stopped);
            }
            hub.close_topic(&topic);
        })
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

/// Where a [`Relay::generate`] generation publishes, how long it may run, and how to stop it.
#[derive(Clone, Debug)]
pub struct Generation {
    hub: Hub,
    topic: String,
    cancel: CancellationToken,
    max_duration: Duration,
}

impl Generation {
    /// A generation published to `topic` of `hub`, with at most 10 minutes to run.
    pub fn new(hub: Hub, topic: impl Into<String>) -> Self {
        Generation {
            hub,
            topic: topic.into(),
            cancel: CancellationToken::new(),
            max_duration: Duration::from_secs(600),
        }
    }

    /// The longest the generation may run.
    #[must_use]
    pub fn max_duration(mut self, limit: Duration) -> Self {
        self.max_duration = limit;
        self
    }

    /// The token that stops the generation when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// Where relayed events go.
enum Sink {
    /// One client's stream; it going away cancels the upstream.
    Client(Sender),
    /// A hub topic; only `cancel` stops the upstream.
    Topic {
        hub: Hub,
        topic: String,
        cancel: CancellationToken,
    },
}

fn publish(hub: &Hub, topic: &str, event: &Event) -> Result<String, ssekit_server::HubError> {
    let event_type = (event.event_type() != "message")
        .then(|| EventType::new(event.event_type()).ok())
        .flatten();
    hub.publish(topic, event_type.as_ref(), event.data())
}

impl Sink {
    async fn send(&self, event: &Event) -> bool {
        match self {
            Sink::Client(sender) => sender.send(event).await.is_ok(),
            Sink::Topic { hub, topic, .. } => publish(hub, topic, event).is_ok(),
        }
    }

    /// Resolves when the relaying should stop.
    async fn stopped(&self) {
        match self {
            Sink::Client(sender) => sender.closed().await,
            Sink::Topic { cancel, .. } => cancel.cancelled().await,
        }
    }
}

/// Relays `request`'s upstream events through `pipeline` into `sink` until the upstream ends
/// or the sink stops; returning drops the upstream request, which closes its connection.
async fn pump(
    client: Client,
    request: Result<Request, ssekit_client::Error>,
    mut pipeline: Pipeline,
    sink: Sink,
) {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            sink.send(&error_event(&format!("the relay is misconfigured: {e}")))
                .await;
            return;
        }
    };
    let mut upstream = client.stream(request, ReconnectPolicy::never());
    loop {
        let item = tokio::select! {
            () = sink.stopped() => {
                tracing::debug!("the relay was stopped; dropping the upstream request");
                return;
            }
            item = upstream.next() => item,
        };
        let events = match item {
            None => {
                for event in &pipeline.finish().await {
                    if !sink.send(event).await {
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
            if !sink.send(event).await {
                return;
            }
        }
    }
}
