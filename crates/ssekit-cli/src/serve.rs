//! `ssekit serve`: the hub over HTTP/1.1 and HTTP/2 (h2c) on one port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use ssekit_server::{
    last_event_id, query_param, sse_response, EventType, Hub, HubConfig, HubErrorKind, RequestBody,
};
use tokio::net::TcpSocket;

use crate::Failure;

const CHAT_HTML: &str = include_str!("chat.html");
const HUB_HTML: &str = include_str!("hub.html");
/// The largest request body the chat relay and the mock LLM accept.
const MAX_CHAT_BODY: usize = 1024 * 1024;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8800")]
    addr: SocketAddr,
    /// Events retained per topic for replay to reconnecting clients.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    replay: usize,
    /// Seconds of silence after which a keep-alive comment is sent (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    keep_alive: u64,
    /// An origin allowed to use the endpoints from a browser (repeatable), or `*`.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Require `Authorization: Bearer TOKEN` to publish.
    #[arg(long, value_name = "TOKEN")]
    publish_token: Option<String>,
    /// The largest accepted publish body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    max_publish_bytes: usize,
    /// Live events queued per subscriber before a subscriber that cannot keep up is cut off
    /// (it can resume with Last-Event-ID).
    #[arg(long, value_name = "EVENTS", default_value_t = 256)]
    queue: usize,
    /// The OpenAI-compatible streaming endpoint `/chat` relays to (default: the embedded mock
    /// LLM at /v1/chat/completions). `/proxy` forwards to it byte for byte.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// A header sent upstream, `Name: value` (repeatable): an API key, say. Never sent to clients.
    #[arg(long, value_name = "HEADER")]
    upstream_header: Vec<String>,
    /// The model name sent upstream.
    #[arg(long, value_name = "NAME", default_value = "gpt-4o-mini")]
    model: String,
    /// A word the relay removes from answers, even when split across chunks (repeatable).
    #[arg(long, value_name = "WORD")]
    redact: Vec<String>,
    /// Milliseconds between the mock LLM's tokens.
    #[arg(long, value_name = "MS", default_value_t = 40)]
    mock_delay_ms: u64,
    /// Seconds a finished chat generation stays resumable (GET /chat/ID with Last-Event-ID).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    generation_retention: u64,
    /// Seconds a chat generation may run at most.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    generation_timeout: u64,
}

/// The most generations kept (running or resumable); the oldest finished one goes first.
const MAX_GENERATIONS: usize = 1000;

type Lock<T> = std::sync::Mutex<T>;

fn lock<T>(mutex: &Lock<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The chat generations: each is a hub topic, so that a client that lost its connection can
/// resume it, and a token to stop it.
struct Generations {
    hub: Hub,
    running: Lock<std::collections::HashMap<String, tokio_util::sync::CancellationToken>>,
    finished: Lock<std::collections::VecDeque<String>>,
    retention: Duration,
    timeout: Duration,
    counter: std::sync::atomic::AtomicU64,
}

impl Generations {
    fn new_id(&self) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // Not a secret: a generation id only names a stream to resume.
        let mixed = (nanos ^ n.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!("{mixed:016x}{n:x}")
    }

    fn topic(id: &str) -> Option<String> {
        let topic = format!("gen-{id}");
        ssekit_server::is_valid_topic(&topic).then_some(topic)
    }

    /// A generation has ended: it stays resumable for the retention time, and the oldest
    /// finished ones go when there are too many.
    async fn finished(self: Arc<Self>, id: String, topic: String) {
        lock(&self.running).remove(&id);
        let evicted: Vec<String> = {
            let mut finished = lock(&self.finished);
            finished.push_back(id);
            let excess = finished.len().saturating_sub(MAX_GENERATIONS);
            finished.drain(..excess).collect()
        };
        for old in evicted {
            if let Some(t) = Generations::topic(&old) {
                self.hub.remove_topic(&t);
            }
        }
        tokio::time::sleep(self.retention).await;
        self.hub.remove_topic(&topic);
    }
}

struct App {
    hub: Hub,
    generations: Arc<Generations>,
    relay: ssekit_relay::Relay,
    proxy: ssekit_relay::Proxy,
    model: String,
    mock_delay: Duration,
    keep_alive: Option<Duration>,
    cors: Vec<String>,
    publish_token: Option<String>,
    max_publish_bytes: usize,
}

pub(crate) type Body = BoxBody<Bytes, Infallible>;

pub(crate) fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut message = message.into();
    message.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(message)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn html(page: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(page.as_bytes())).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Reads a request body of at most `limit` bytes; a 413 or 400 response otherwise.
pub(crate) async fn read_body(body: RequestBody, limit: usize) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        )),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("reading the body failed: {e}"),
        )),
    }
}

/// The proxy's body with its error type erased: an upstream failure mid-stream ends the
/// response abruptly, as the upstream did.
pub(crate) struct ProxyStream(pub(crate) ssekit_relay::ProxyBody);

impl hyper::body::Body for ProxyStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        match std::pin::Pin::new(&mut self.0).poll_frame(cx) {
            std::task::Poll::Ready(Some(Ok(frame))) => std::task::Poll::Ready(Some(Ok(frame))),
            std::task::Poll::Ready(Some(Err(_)) | None) => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl App {
    /// The `Access-Control-Allow-Origin` value for this request's `Origin`, if allowed.
    fn allowed_origin(&self, request: &Request<RequestBody>) -> Option<HeaderValue> {
        let origin = request.headers().get(header::ORIGIN)?;
        if self.cors.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin_str = origin.to_str().ok()?;
        self.cors
            .iter()
            .any(|o| o == origin_str)
            .then(|| origin.clone())
    }

    async fn handle(&self, request: Request<RequestBody>) -> Response<Body> {
        let origin = self.allowed_origin(&request);
        let mut response = self.route(request).await;
        if let Some(origin) = origin {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Ssekit-Generation"),
            );
        }
        response
    }

    async fn route(&self, request: Request<RequestBody>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match (request.method(), path.as_str()) {
            (&Method::GET | &Method::HEAD, "/") => return html(CHAT_HTML),
            (&Method::GET | &Method::HEAD, "/hub") => return html(HUB_HTML),
            (_, "/" | "/hub") => return text(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            (&Method::POST, "/chat") => return self.chat(request).await,
            (&Method::POST, "/v1/chat/completions") => {
                return match read_body(request.into_body(), MAX_CHAT_BODY).await {
                    Ok(body) => crate::mock::respond(&body, self.mock_delay).map(BodyExt::boxed),
                    Err(response) => response,
                };
            }
            (_, "/chat" | "/v1/chat/completions") => {
                return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            }
            (method, p) if p.starts_with("/chat/") => {
                let id = p.trim_start_matches("/chat/").to_owned();
                return match *method {
                    Method::GET => self.resume(&id, &request),
                    Method::DELETE => self.stop(&id),
                    _ => text(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "use GET to resume or DELETE to stop",
                    ),
                };
            }
            (_, "/proxy") => return self.proxy(request).await,
            _ => {}
        }
        let Some(topic) = path.strip_prefix("/topics/") else {
            return text(StatusCode::NOT_FOUND, format!("no such endpoint: {path}"));
        };
        let topic = topic.to_owned();
        if !ssekit_server::is_valid_topic(&topic) {
            return text(
                StatusCode::NOT_FOUND,
                "no such topic: a topic name is 1 to 128 characters of A-Z a-z 0-9 - _ . ~",
            );
        }
        match *request.method() {
            Method::GET => self.subscribe(&topic, &request),
            Method::POST => self.publish(&topic, request).await,
            Method::OPTIONS => self.preflight(&request),
            _ => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET to subscribe or POST to publish",
            ),
        }
    }

    /// `POST /chat`: `{"messages": [...]}` relayed to the upstream as a streaming completion,
    /// through the pipeline.
    async fn chat(&self, request: Request<RequestBody>) -> Response<Body> {
        let headers = request.headers().clone();
        let body = match read_body(request.into_body(), MAX_CHAT_BODY).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return text(
                StatusCode::BAD_REQUEST,
                r#"the body must be JSON: {"messages":[{"role":"user","content":"..."}]}"#,
            );
        };
        let Some(messages) = json.get("messages").filter(|m| m.is_array()) else {
            return text(
                StatusCode::BAD_REQUEST,
                r#"the body needs "messages": [{"role":"user","content":"..."}]"#,
            );
        };
        let upstream =
            serde_json::json!({ "model": self.model, "messages": messages, "stream": true });
        let generations = &self.generations;
        let id = generations.new_id();
        let Some(topic) = Generations::topic(&id) else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not name the generation",
            );
        };
        // Subscribed before the generation starts, so this client misses nothing.
        let subscription = match generations.hub.subscribe(&topic, None) {
            Ok(s) => s,
            Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        };
        let generation = ssekit_relay::Generation::new(generations.hub.clone(), topic.clone())
            .max_duration(generations.timeout);
        lock(&generations.running).insert(id.clone(), generation.cancel_token());
        let task = self.relay.generate(
            Method::POST,
            &headers,
            Bytes::from(upstream.to_string()),
            generation,
        );
        let after = Arc::clone(generations);
        let finished_id = id.clone();
        tokio::spawn(async move {
            let _ = task.await;
            after.finished(finished_id, topic).await;
        });
        let mut body = subscription.into_body();
        if let Some(interval) = self.keep_alive {
            body = body.with_keep_alive(interval);
        }
        let mut response = sse_response(body).map(BodyExt::boxed);
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-ssekit-generation", value);
        }
        response
    }

    /// `GET /chat/{id}`: the rest of a generation after `Last-Event-ID`, then live.
    fn resume(&self, id: &str, request: &Request<RequestBody>) -> Response<Body> {
        let Some(topic) = Generations::topic(id).filter(|t| self.generations.hub.has_topic(t))
        else {
            return text(
                StatusCode::NOT_FOUND,
                "no such generation (unknown, or expired)",
            );
        };
        let last = last_event_id(request);
        match self.generations.hub.subscribe(&topic, last.as_deref()) {
            Ok(subscription) => {
                let mut body = subscription.into_body();
                if let Some(interval) = self.keep_alive {
                    body = body.with_keep_alive(interval);
                }
                sse_response(body).map(BodyExt::boxed)
            }
            Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    /// `DELETE /chat/{id}`: stops a running generation and its upstream request.
    fn stop(&self, id: &str) -> Response<Body> {
        // A stopped generation is no longer running, even before its task has wound up.
        let token = lock(&self.generations.running)
            .get(id)
            .filter(|token| !token.is_cancelled())
            .cloned();
        match token {
            Some(token) => {
                token.cancel();
                let mut response = Response::new(Full::new(Bytes::new()).boxed());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
            None => text(StatusCode::NOT_FOUND, "no such running generation"),
        }
    }

    /// `/proxy`: byte for byte to the upstream.
    async fn proxy(&self, request: Request<RequestBody>) -> Response<Body> {
        let (mut parts, body) = request.into_parts();
        // The route itself is not part of the upstream's path.
        parts.uri = match parts.uri.query() {
            Some(q) => format!("/?{q}")
                .parse()
                .unwrap_or_else(|_| http::Uri::from_static("/")),
            None => http::Uri::from_static("/"),
        };
        let response = self.proxy.forward(Request::from_parts(parts, body)).await;
        let (parts, body) = response.into_parts();
        // Errors of the upstream's body end the response; the client sees it cut off.
        Response::from_parts(parts, ProxyStream(body).boxed())
    }

    fn subscribe(&self, topic: &str, request: &Request<RequestBody>) -> Response<Body> {
        let last = last_event_id(request);
        match self.hub.subscribe(topic, last.as_deref()) {
            Ok(subscription) => {
                let mut body = subscription.into_body();
                if let Some(interval) = self.keep_alive {
                    body = body.with_keep_alive(interval);
                }
                sse_response(body).map(BodyExt::boxed)
            }
            Err(e) if e.kind() == HubErrorKind::InvalidLastEventId => {
                text(StatusCode::BAD_REQUEST, e.to_string())
            }
            Err(e) if e.kind() == HubErrorKind::Closed => {
                text(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    async fn publish(&self, topic: &str, request: Request<RequestBody>) -> Response<Body> {
        if let Some(token) = &self.publish_token {
            let expected = format!("Bearer {token}");
            let given = request.headers().get(header::AUTHORIZATION);
            if given.and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                let mut response = text(
                    StatusCode::UNAUTHORIZED,
                    "publishing needs Authorization: Bearer TOKEN",
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        }
        let event_type = match query_param(&request, "event") {
            None => None,
            Some(kind) => match EventType::new(kind) {
                Ok(t) => Some(t),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("?event: {e}")),
            },
        };
        let body = match Limited::new(request.into_body(), self.max_publish_bytes)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the body is larger than {} bytes (--max-publish-bytes)",
                        self.max_publish_bytes
                    ),
                );
            }
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("reading the body failed: {e}"),
                )
            }
        };
        let Ok(data) = std::str::from_utf8(&body) else {
            return text(StatusCode::BAD_REQUEST, "the body must be UTF-8 text");
        };
        match self.hub.publish(topic, event_type.as_ref(), data) {
            Ok(id) => {
                let json = format!("{}\n", serde_json::json!({ "id": id }));
                let mut response = Response::new(Full::new(Bytes::from(json)).boxed());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) if e.kind() == HubErrorKind::Closed => {
                text(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    fn preflight(&self, request: &Request<RequestBody>) -> Response<Body> {
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if self.allowed_origin(request).is_some() {
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type, Last-Event-ID"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    }
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    runtime()?.block_on(serve(args))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::Io)
}

/// Parses `Name: value` header flags.
pub(crate) fn parse_headers(
    flags: &[String],
    flag: &str,
) -> Result<Vec<(http::HeaderName, HeaderValue)>, Failure> {
    flags
        .iter()
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| Failure::Input(format!("{flag} {h:?}: use 'Name: value'")))?;
            let name = http::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Failure::Input(format!("{flag} {h:?}: invalid header name")))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| Failure::Input(format!("{flag} {h:?}: invalid header value")))?;
            Ok((name, value))
        })
        .collect()
}

/// The relay's pipeline for `--redact` words.
pub(crate) fn pipeline_factory(words: &[String]) -> ssekit_relay::PipelineFactory {
    let words = words.to_vec();
    Arc::new(move || ssekit_relay::Pipeline::new().redact(words.iter(), "[redacted]"))
}

async fn serve(args: &Args) -> Result<(), Failure> {
    let upstream_headers = parse_headers(&args.upstream_header, "--upstream-header")?;
    let listener = listen(args.addr)?;
    let local = listener.local_addr()?;
    let upstream = args.upstream.clone().unwrap_or_else(|| {
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            local.ip().to_string()
        };
        let host = if local.is_ipv6() && !local.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        format!("http://{host}:{}/v1/chat/completions", local.port())
    });
    let client = ssekit_client::Client::new().map_err(|e| Failure::Input(format!("serve: {e}")))?;
    let mut relay_config =
        ssekit_relay::RelayConfig::new(upstream.clone()).pipeline(pipeline_factory(&args.redact));
    for (name, value) in upstream_headers {
        relay_config = relay_config.upstream_header(name, value);
    }
    let proxy = ssekit_relay::Proxy::new(&upstream)
        .map_err(|e| Failure::Input(format!("serve: --upstream: {e}")));
    let proxy = match proxy {
        Ok(proxy) => proxy,
        // An https upstream: the pass-through proxy speaks plain HTTP only; /proxy then goes
        // to the embedded mock.
        Err(_) => ssekit_relay::Proxy::new(&format!(
            "http://127.0.0.1:{}/v1/chat/completions",
            local.port()
        ))
        .map_err(|e| Failure::Input(format!("serve: {e}")))?,
    };
    let generations = Arc::new(Generations {
        hub: Hub::new(
            HubConfig::default()
                .with_replay_events(100_000)
                .with_replay_bytes(16 * 1024 * 1024)
                .with_queue(4096),
        ),
        running: Lock::new(std::collections::HashMap::new()),
        finished: Lock::new(std::collections::VecDeque::new()),
        retention: Duration::from_secs(args.generation_retention),
        timeout: Duration::from_secs(args.generation_timeout.max(1)),
        counter: std::sync::atomic::AtomicU64::new(0),
    });
    let app = Arc::new(App {
        generations,
        hub: Hub::new(
            HubConfig::default()
                .with_replay_events(args.replay)
                .with_queue(args.queue),
        ),
        relay: ssekit_relay::Relay::new(client, relay_config),
        proxy,
        model: args.model.clone(),
        mock_delay: Duration::from_millis(args.mock_delay_ms),
        keep_alive: (args.keep_alive > 0).then(|| Duration::from_secs(args.keep_alive)),
        cors: args.cors_origin.clone(),
        publish_token: args.publish_token.clone(),
        max_publish_bytes: args.max_publish_bytes,
    });
    let handler_app = Arc::clone(&app);
    let stop_app = Arc::clone(&app);
    accept_loop(
        listener,
        move |request| {
            let app = Arc::clone(&handler_app);
            async move { app.handle(request).await }
        },
        move || {
            stop_app.hub.shutdown();
            stop_app.generations.hub.shutdown();
        },
    )
    .await;
    // Subscribers' streams end cleanly; connections finish what they are sending.
    app.hub.shutdown();
    Ok(())
}

/// Binds `addr` with a deep backlog, so that a burst of connections is not dropped into SYN
/// retries.
pub(crate) fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, Failure> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket.listen(1024)?)
}

/// Prints the `listening on` line, then serves HTTP/1.1 and HTTP/2 (h2c) connections with
/// `handle` until SIGINT or SIGTERM; then calls `on_stop` (which ends what streams forever) and
/// lets open connections finish (at most 10 s).
pub(crate) async fn accept_loop<F, Fut>(
    listener: tokio::net::TcpListener,
    handle: F,
    on_stop: impl FnOnce(),
) where
    F: Fn(Request<RequestBody>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    if let Ok(local) = listener.local_addr() {
        eprintln!("listening on http://{local}");
    }
    let stop = async move {
        shutdown_signal().await;
        eprintln!("ssekit: shutting down");
        on_stop();
    };
    ssekit_server::Server::new()
        .shutdown_grace(Duration::from_secs(10))
        .serve(listener, handle, stop)
        .await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
