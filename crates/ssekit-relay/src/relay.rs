//! The forwarding relay: upstream SSE → pipeline → downstream SSE.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Response;
use http_body_util::{BodyExt, Full};
use ssekit_client::{Client, EventStream, Item, ReconnectPolicy, Request};
use ssekit_codec::{Decoder, Encoder, Event, Frame};
use ssekit_server::{sse_response, EventType, Hub, SseBody};
use tokio_util::sync::CancellationToken;

use crate::pipeline::{error_event, Pipeline};
use crate::proxy::{Proxy, ProxyBody};

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
    direct: bool,
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
            direct: true,
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

    /// Whether an `http://` upstream is reached directly (the default): one HTTP/1.1
    /// connection per relayed request, read by the response body itself, so that the events of
    /// one read are decoded, processed and written on together, with no task or channel in
    /// between. The client given to [`Relay::new`] is then used only for `https://` upstreams;
    /// turn this off to send every request through it (its timeouts, limits, HTTP/2 and
    /// redirect settings then apply).
    #[must_use]
    pub fn direct(mut self, direct: bool) -> Self {
        self.direct = direct;
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
    /// The direct way to an `http://` upstream, when [`RelayConfig::direct`] is on.
    direct: Option<Proxy>,
    config: Arc<RelayConfig>,
}

impl Relay {
    /// A relay using `client` for upstream requests.
    pub fn new(client: Client, config: RelayConfig) -> Self {
        let direct = config
            .direct
            .then(|| config.upstream.parse::<http::Uri>().ok())
            .flatten()
            .filter(|uri| uri.scheme_str() == Some("http"))
            .and_then(|uri| Proxy::new(&format!("http://{}", uri.authority()?)).ok());
        Relay {
            client,
            direct,
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
        let frames =
            relayed::<Encoded>(self.start(method, headers, body), (self.config.pipeline)());
        // The connection's own task runs the relay as it polls the body: no task and no
        // queue in between, and a client that goes away drops the upstream request with it.
        let mut body_out = SseBody::from_stream(frames);
        if let Some(interval) = self.config.keep_alive {
            body_out = body_out.with_keep_alive(interval);
        }
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
        let start = self.start(method, headers, body);
        let pipeline = (self.config.pipeline)();
        tokio::spawn(async move {
            let Generation {
                hub,
                topic,
                cancel,
                max_duration,
            } = generation;
            let run = async {
                let events = relayed::<Vec<Event>>(start, pipeline);
                tokio::pin!(events);
                loop {
                    let batch = tokio::select! {
                        biased;
                        () = cancel.cancelled() => {
                            tracing::debug!("the generation was stopped; dropping the upstream request");
                            return;
                        }
                        batch = events.next() => batch,
                    };
                    let Some(batch) = batch else { return };
                    for event in &batch {
                        if publish(&hub, &topic, event).is_err() {
                            return;
                        }
                    }
                }
            };
            if tokio::time::timeout(max_duration, run).await.is_err() {
                let stopped = error_event("the generation took too long and was stopped");
                let _ = publish(&hub, &topic, &stopped);
            }
            hub.close_topic(&topic);
        })
    }

    /// Where a relayed request starts: directly, or through the client.
    fn start(&self, method: http::Method, headers: &HeaderMap, body: Bytes) -> Upstream {
        match &self.direct {
            Some(proxy) => {
                Upstream::Direct(proxy.clone(), self.direct_request(method, headers, body))
            }
            None => Upstream::Start(
                self.client.clone(),
                self.upstream_request(method, headers, body),
            ),
        }
    }

    /// The request for a direct upstream: the same headers the client would send.
    fn direct_request(
        &self,
        method: http::Method,
        headers: &HeaderMap,
        body: Bytes,
    ) -> http::Request<Full<Bytes>> {
        let length = body.len();
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        if let Some(target) = self
            .config
            .upstream
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.path_and_query().cloned())
        {
            *request.uri_mut() = http::Uri::from(target);
        }
        let out = request.headers_mut();
        for name in &self.config.forward_headers {
            for value in headers.get_all(name) {
                out.append(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.config.upstream_headers {
            out.append(name.clone(), value.clone());
        }
        out.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        if length > 0 {
            out.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        request
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

fn publish(hub: &Hub, topic: &str, event: &Event) -> Result<String, ssekit_server::HubError> {
    let event_type = (event.event_type() != "message")
        .then(|| EventType::new(event.event_type()).ok())
        .flatten();
    hub.publish(topic, event_type.as_ref(), event.data())
}

/// After an upstream failure: what the pipeline still holds, then an error event.
async fn failed(pipeline: &mut Pipeline, why: &str) -> Vec<Event> {
    let mut out = pipeline.finish().await;
    out.push(error_event(&format!("upstream: {why}")));
    out
}

/// Where a relayed stream is.
enum Upstream {
    /// Not requested yet, through the client.
    Start(Client, Result<Request, ssekit_client::Error>),
    /// Not requested yet, directly.
    Direct(Proxy, http::Request<Full<Bytes>>),
    /// Streaming through the client.
    Streaming(EventStream),
    /// Streaming directly: the response body and a decoder of it.
    Reading(ProxyBody, Decoder),
    Done,
}

/// Why a direct upstream's answer is not an event stream, if it is not.
fn refusal<B>(response: &http::Response<B>) -> Option<String> {
    let status = response.status();
    if !status.is_success() || status == http::StatusCode::NO_CONTENT {
        return Some(format!("the server answered {status}"));
    }
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    (!essence.eq_ignore_ascii_case("text/event-stream")).then(|| {
        format!(
            "the server answered {status} with content type {content_type}, not text/event-stream"
        )
    })
}

/// Where [`relayed`] puts the events of one batch.
trait Batch: Default + Send + 'static {
    /// Makes room for about `bytes` of upstream input's worth of events.
    fn expect(&mut self, bytes: usize);
    fn push_event(&mut self, event: Event);
    fn is_empty(&self) -> bool;
    /// What the stream yields for a batch.
    type Item: Send;
    /// The batch so far, leaving this one empty.
    fn take(&mut self) -> Self::Item;

    fn push_events(&mut self, events: Vec<Event>) {
        for event in events {
            self.push_event(event);
        }
    }
}

impl Batch for Vec<Event> {
    fn expect(&mut self, _bytes: usize) {}

    fn push_event(&mut self, event: Event) {
        Vec::push(self, event);
    }

    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }

    type Item = Vec<Event>;

    fn take(&mut self) -> Vec<Event> {
        std::mem::take(self)
    }

    fn push_events(&mut self, events: Vec<Event>) {
        if self.is_empty() {
            *self = events;
        } else {
            self.extend(events);
        }
    }
}

/// Events encoded as they come, into one buffer for the whole stream: once the previous
/// frame is written and dropped, `reserve` takes its memory back instead of allocating anew.
#[derive(Default)]
struct Encoded(BytesMut);

impl Batch for Encoded {
    fn expect(&mut self, bytes: usize) {
        // Re-encoded events take about as many bytes as they came in.
        self.0.reserve(bytes + bytes / 8);
    }

    fn push_event(&mut self, event: Event) {
        Encoder::new().encode_event(&event, &mut self.0);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    type Item = Bytes;

    fn take(&mut self) -> Bytes {
        self.0.split().freeze()
    }
}

/// The events of a relayed request's upstream stream after `pipeline`, in batches: what one
/// upstream read brought (directly), or one event (through the client). An upstream failure
/// becomes an error event, then the end. Dropping the stream drops the upstream request, which
/// closes its connection.
fn relayed<B: Batch>(start: Upstream, pipeline: Pipeline) -> impl Stream<Item = B::Item> + Send {
    futures_util::stream::unfold(
        (start, pipeline, B::default()),
        |(mut upstream, mut pipeline, mut out)| async move {
            loop {
                upstream = match upstream {
                    Upstream::Start(client, request) => match request {
                        Ok(request) => {
                            Upstream::Streaming(client.stream(request, ReconnectPolicy::never()))
                        }
                        Err(e) => {
                            out.push_event(error_event(&format!(
                                "the relay is misconfigured: {e}"
                            )));
                            Upstream::Done
                        }
                    },
                    Upstream::Direct(proxy, request) => {
                        let response = proxy.forward(request).await;
                        if let Some(why) = refusal(&response) {
                            out.push_event(error_event(&format!("upstream: {why}")));
                            Upstream::Done
                        } else {
                            Upstream::Reading(response.into_body(), Decoder::new())
                        }
                    }
                    Upstream::Streaming(mut events) => match events.next().await {
                        Some(Ok(Item::Event(event))) => {
                            out.push_events(pipeline.push(event).await);
                            Upstream::Streaming(events)
                        }
                        Some(Ok(_)) => Upstream::Streaming(events),
                        None => {
                            out.push_events(pipeline.finish().await);
                            Upstream::Done
                        }
                        Some(Err(e)) => {
                            out.push_events(failed(&mut pipeline, &e.to_string()).await);
                            Upstream::Done
                        }
                    },
                    Upstream::Reading(mut body, mut decoder) => match body.frame().await {
                        Some(Ok(frame)) => {
                            if let Ok(data) = frame.into_data() {
                                out.expect(data.len());
                                decoder.feed_bytes(data);
                            }
                            let failed_at = if pipeline.has_steps() {
                                let mut events = Vec::new();
                                let failed_at = decode_into(&mut decoder, &mut events);
                                out.push_events(pipeline.push_all(events).await);
                                failed_at
                            } else {
                                // Nothing to process: straight from the decoder to the batch.
                                decode_into(&mut decoder, &mut out)
                            };
                            if let Some(e) = failed_at {
                                out.push_events(failed(&mut pipeline, &e.to_string()).await);
                                Upstream::Done
                            } else {
                                Upstream::Reading(body, decoder)
                            }
                        }
                        None => {
                            // The end: the decoder drops an unterminated event, and hands on
                            // whatever else the end of the stream completes.
                            let mut events = Vec::new();
                            while let Ok(Some(frame)) = decoder.finish() {
                                if let Frame::Event(event) = frame {
                                    events.push(event);
                                }
                            }
                            out.push_events(pipeline.push_all(events).await);
                            out.push_events(pipeline.finish().await);
                            Upstream::Done
                        }
                        Some(Err(e)) => {
                            out.push_events(failed(&mut pipeline, &e.to_string()).await);
                            Upstream::Done
                        }
                    },
                    Upstream::Done => {
                        if out.is_empty() {
                            return None;
                        }
                        Upstream::Done
                    }
                };
                if !out.is_empty() {
                    let batch = out.take();
                    return Some((batch, (upstream, pipeline, out)));
                }
            }
        },
    )
}

/// Moves the events the decoder has complete into `out`; the decoding error, if one stopped it.
fn decode_into(decoder: &mut Decoder, out: &mut impl Batch) -> Option<ssekit_codec::DecodeError> {
    loop {
        match decoder.next_frame() {
            Ok(Some(Frame::Event(event))) => out.push_event(event),
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}
