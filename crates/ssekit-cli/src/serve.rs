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
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ssekit_server::{last_event_id, sse_response, EventType, Hub, HubConfig, HubErrorKind};
use tokio::net::TcpSocket;

use crate::Failure;

const INDEX_HTML: &str = include_str!("serve_index.html");

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
}

struct App {
    hub: Hub,
    keep_alive: Option<Duration>,
    cors: Vec<String>,
    publish_token: Option<String>,
    max_publish_bytes: usize,
}

type Body = BoxBody<Bytes, Infallible>;

fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
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

fn query_param(request: &Request<Incoming>, name: &str) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value)).flatten()
    })
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl App {
    /// The `Access-Control-Allow-Origin` value for this request's `Origin`, if allowed.
    fn allowed_origin(&self, request: &Request<Incoming>) -> Option<HeaderValue> {
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

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let origin = self.allowed_origin(&request);
        let mut response = self.route(request).await;
        if let Some(origin) = origin {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        response
    }

    async fn route(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        if path == "/" {
            return match *request.method() {
                Method::GET | Method::HEAD => {
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(INDEX_HTML.as_bytes())).boxed());
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    response
                }
                _ => text(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            };
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

    fn subscribe(&self, topic: &str, request: &Request<Incoming>) -> Response<Body> {
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

    async fn publish(&self, topic: &str, request: Request<Incoming>) -> Response<Body> {
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

    fn preflight(&self, request: &Request<Incoming>) -> Response<Body> {
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if self.allowed_origin(request).is_some() {
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::Io)?;
    runtime.block_on(serve(args))
}

async fn serve(args: &Args) -> Result<(), Failure> {
    let app = Arc::new(App {
        hub: Hub::new(
            HubConfig::default()
                .with_replay_events(args.replay)
                .with_queue(args.queue),
        ),
        keep_alive: (args.keep_alive > 0).then(|| Duration::from_secs(args.keep_alive)),
        cors: args.cors_origin.clone(),
        publish_token: args.publish_token.clone(),
        max_publish_bytes: args.max_publish_bytes,
    });
    let socket = if args.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket.bind(args.addr)?;
    // A deep backlog, so that a burst of connections is not dropped into SYN retries.
    let listener = socket.listen(1024)?;
    let local = listener.local_addr()?;
    eprintln!("listening on http://{local}");

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(64 * 1024)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        eprintln!("ssekit serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let service = service_fn(move |request| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(app.handle(request).await) }
                });
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    eprintln!("ssekit serve: shutting down");
    // Subscribers' streams end cleanly; connections finish what they are sending.
    app.hub.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
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
