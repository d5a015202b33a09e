//! [`Server`]: an accept loop that serves plain `GET`s over HTTP/1.1 itself and hands every
//! other connection to hyper.
//!
//! An event stream is a `GET` with no body whose response never ends. hyper keeps a read
//! buffer and a buffer for response heads (8 KiB each) for as long as a connection lives, which
//! makes up most of an idle subscriber's memory. The direct path reads a request head into a
//! small buffer, frees it once the head is parsed, writes the response head once, and then
//! writes each body frame straight to the socket (chunked), while watching the socket for the
//! client going away. Anything else — a request with a body, `HEAD`, `OPTIONS`, HTTP/1.0, an
//! upgrade, the HTTP/2 preface (h2c), a head that does not parse — goes to hyper with the bytes
//! already read, and hyper answers it (including its 400 and 431 errors).

use std::convert::Infallible;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request's body as [`Server`] hands it to the handler: empty for a request served on the
/// direct path, hyper's body otherwise.
pub struct RequestBody(Inner);

enum Inner {
    Empty,
    Hyper(hyper::body::Incoming),
}

impl RequestBody {
    /// A body with nothing in it.
    #[must_use]
    pub fn empty() -> Self {
        RequestBody(Inner::Empty)
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Empty => f.write_str("RequestBody(empty)"),
            Inner::Hyper(body) => f.debug_tuple("RequestBody").field(body).finish(),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().0 {
            Inner::Empty => Poll::Ready(None),
            Inner::Hyper(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Empty => true,
            Inner::Hyper(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Hyper(body) => body.size_hint(),
        }
    }
}

/// Serves HTTP/1.1 and HTTP/2 (h2c, prior knowledge) on one listener with a handler function,
/// until a shutdown future completes.
///
/// Plain `GET`s over HTTP/1.1 are served on a direct path that keeps far less memory per
/// connection than hyper does (see the module docs); everything else is served by hyper. The
/// handler sees the same [`Request`] either way.
///
/// ```
/// use ssekit_server::{sse_response, Hub, HubConfig, RequestBody, Server};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let hub = Hub::new(HubConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let handler = move |request: http::Request<RequestBody>| {
///     // `GET /topics/news`, resuming after the client's Last-Event-ID if it sent one.
///     let last_event_id = ssekit_server::last_event_id(&request);
///     let subscription = hub.subscribe("news", last_event_id.as_deref());
///     async move { sse_response(subscription.expect("a valid topic").into_body()) }
/// };
/// // In a real server: `async { let _ = tokio::signal::ctrl_c().await; }`.
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(Server::new().serve(listener, handler, async {
///     let _ = stopped.await;
/// }));
/// stop.send(()).unwrap();
/// server.await.unwrap(); // stopped accepting; open connections had the grace to finish
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Server {
    max_head_bytes: usize,
    header_read_timeout: Duration,
    shutdown_grace: Duration,
    direct: bool,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

/// hyper's least read buffer bound.
const HYPER_MIN_BUF: usize = 8 * 1024;

impl Server {
    /// Request heads up to 8 KiB, 30 s to send one, 10 s for connections to finish at shutdown.
    #[must_use]
    pub fn new() -> Self {
        Server {
            max_head_bytes: HYPER_MIN_BUF,
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            direct: true,
        }
    }

    /// The largest request head accepted, in bytes (hyper's bound too, at least 8 KiB there);
    /// a larger one is answered with 431.
    #[must_use]
    pub fn max_head_bytes(mut self, bytes: usize) -> Self {
        self.max_head_bytes = bytes.max(256);
        self
    }

    /// How long a client may take to send a request head (also between requests on a
    /// kept-alive connection) before the connection is closed.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long [`Server::serve`] waits, after the shutdown future completes, for open
    /// connections to finish their responses.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Whether plain `GET`s over HTTP/1.1 take the direct path (the default) or go to hyper
    /// like everything else.
    #[must_use]
    pub fn direct_http1(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }

    /// Accepts connections from `listener` and serves each with `handler` until `shutdown`
    /// completes; then stops accepting, lets open connections finish their responses for at
    /// most the shutdown grace, and returns.
    ///
    /// Accept errors (such as running out of file descriptors) are logged with `tracing` and
    /// retried after 50 ms.
    pub async fn serve<H, Fut, B>(
        self,
        listener: TcpListener,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) where
        H: Fn(Request<RequestBody>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A bound on the read buffer also keeps hyper from doubling every connection's read
        // buffer to 16 KiB after the HTTP/2 detection's first short read.
        builder
            .http1()
            .max_buf_size(self.max_head_bytes.max(HYPER_MIN_BUF))
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let grace = self.shutdown_grace;
        let shared = Arc::new(Shared {
            builder,
            config: self,
            stop: CancellationToken::new(),
        });
        let tracker = TaskTracker::new();
        let mut shutdown = pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tracker.spawn(connection(stream, Arc::clone(&shared), handler.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        shared.stop.cancel();
        tracker.close();
        let _ = tokio::time::timeout(grace, tracker.wait()).await;
    }
}

struct Shared {
    builder: auto::Builder<TokioExecutor>,
    config: Server,
    stop: CancellationToken,
}

/// Serves one connection: requests on the direct path for as long as they qualify, then the
/// rest of the connection (if any) through hyper.
async fn connection<H, Fut, B>(stream: TcpStream, shared: Arc<Shared>, handler: H)
where
    H: Fn(Request<RequestBody>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut buf = Vec::new();
    if shared.config.direct {
        let max = shared.config.max_head_bytes;
        loop {
            // The blocks below end the scopes of the request, the response's parts and the
            // like before the next wait, so that the task keeps only what a streaming
            // response needs: the pinned body and the writing state.
            let (handling, close) = {
                let head = tokio::select! {
                    biased;
                    () = shared.stop.cancelled() => return,
                    head = tokio::time::timeout(
                        shared.config.header_read_timeout,
                        read_head(&stream, &mut buf, max),
                    ) => head,
                };
                let (request, len) = match head {
                    Ok(Ok(Some(Parsed::Direct(request, len)))) => (request, len),
                    Ok(Ok(Some(Parsed::Hyper | Parsed::Partial))) => break,
                    // Timed out, closed, or failed: close.
                    Err(_) | Ok(Ok(None) | Err(_)) => return,
                };
                buf.drain(..len);
                if buf.is_empty() {
                    // Free the head's buffer: an event stream may stay open for hours.
                    buf = Vec::new();
                }
                let close = wants_close(request.headers());
                // Boxed so that the handler's future does not make every task larger.
                (Box::pin(handler(request)), close)
            };
            let response = handling.await;
            let (body, head, framing) = {
                let (parts, body) = response.into_parts();
                let (head, framing) = response_head(&parts, body.size_hint().exact(), close);
                (body, head, framing)
            };
            let body = pin!(body);
            match write_response(&stream, head, body, framing, &mut buf, max).await {
                Ok(true) if !shared.stop.is_cancelled() => {}
                _ => return,
            }
        }
    }
    // Boxed for the same reason: hyper's connection state is large.
    Box::pin(hand_off(stream, buf, &shared, handler)).await;
}

/// Serves the rest of a connection with hyper, `prefix` being what was read from it already.
async fn hand_off<H, Fut, B>(stream: TcpStream, prefix: Vec<u8>, shared: &Shared, handler: H)
where
    H: Fn(Request<RequestBody>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let io = TokioIo::new(Prefixed {
        prefix,
        at: 0,
        stream,
    });
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let response = handler(request.map(|body| RequestBody(Inner::Hyper(body))));
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = shared.builder.serve_connection_with_upgrades(io, service);
    let mut connection = pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = shared.stop.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// How much the head buffer grows by at a time.
const READ_STEP: usize = 1024;

/// Reads until `buf` holds a complete request head (never [`Parsed::Partial`]: a head that
/// does not fit in `max` bytes goes to hyper, which answers 431); `None` when the client
/// closed first.
async fn read_head(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<Parsed>> {
    loop {
        if !buf.is_empty() {
            match parse_head(buf) {
                Parsed::Partial if buf.len() < max => {}
                Parsed::Partial => return Ok(Some(Parsed::Hyper)),
                parsed => return Ok(Some(parsed)),
            }
        }
        if buf.len() == buf.capacity() {
            buf.reserve(READ_STEP.min(max - buf.len()).max(1));
        }
        stream.readable().await?;
        match stream.try_read_buf(buf) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

// Moved once per request, never stored.
#[allow(clippy::large_enum_variant)]
enum Parsed {
    /// More bytes are needed.
    Partial,
    /// Something for hyper.
    Hyper,
    /// A request for the direct path and the length of its head.
    Direct(Request<RequestBody>, usize),
}

/// The most header lines a direct request may have; more go to hyper (which allows 100).
const MAX_HEADERS: usize = 64;

/// Parses a request head and decides whether the direct path can serve it: a `GET` over
/// HTTP/1.1 without a body, an upgrade or an `Expect`.
fn parse_head(buf: &[u8]) -> Parsed {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut lines);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Hyper,
    };
    if parsed.method != Some("GET") || parsed.version != Some(1) {
        return Parsed::Hyper;
    }
    let Some(Ok(uri)) = parsed.path.map(Uri::try_from) else {
        return Parsed::Hyper;
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for line in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line.name.as_bytes()),
            HeaderValue::from_bytes(line.value),
        ) else {
            return Parsed::Hyper;
        };
        let body_or_upgrade = name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
            || name == header::EXPECT
            || (name == header::CONTENT_LENGTH && value.as_bytes() != b"0");
        if body_or_upgrade {
            return Parsed::Hyper;
        }
        headers.append(name, value);
    }
    let mut request = Request::new(RequestBody::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Parsed::Direct(request, len)
}

/// Whether a `Connection` header asks for the connection to close after this exchange.
fn wants_close(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// How a response's body is framed on the direct path.
#[derive(Clone, Copy)]
// Each flag is its own fact about the response.
#[allow(clippy::struct_excessive_bools)]
struct Framing {
    /// A status that has no body (1xx, 204, 304).
    bodyless: bool,
    chunked: bool,
    /// The length the head announced, if it did.
    declared: Option<u64>,
    /// The connection closes after this response.
    close: bool,
}

/// The response head for the direct path, and how its body goes out: the handler's headers,
/// `content-length` (when the body's size is known) or `transfer-encoding: chunked`, `date`,
/// and `connection: close` when the connection ends after this response.
fn response_head(
    parts: &http::response::Parts,
    exact: Option<u64>,
    request_close: bool,
) -> (Vec<u8>, Framing) {
    let status = parts.status;
    let bodyless = status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED;
    let handler_close = wants_close(&parts.headers);
    let close = request_close || handler_close;
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    let mut declared = None;
    let mut has_date = false;
    for (name, value) in &parts.headers {
        if name == header::TRANSFER_ENCODING || (bodyless && name == header::CONTENT_LENGTH) {
            continue; // the framing is ours to choose
        }
        if name == header::CONTENT_LENGTH {
            match value.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
                Some(n) => declared = Some(n),
                None => continue,
            }
        }
        has_date |= name == header::DATE;
        put_header(&mut head, name.as_str().as_bytes(), value.as_bytes());
    }
    let mut chunked = false;
    if !bodyless && declared.is_none() {
        if let Some(n) = exact {
            declared = Some(n);
            put_header(&mut head, b"content-length", n.to_string().as_bytes());
        } else {
            chunked = true;
            put_header(&mut head, b"transfer-encoding", b"chunked");
        }
    }
    if !has_date {
        let date = httpdate::fmt_http_date(SystemTime::now());
        put_header(&mut head, b"date", date.as_bytes());
    }
    if close && !handler_close {
        put_header(&mut head, b"connection", b"close");
    }
    head.extend_from_slice(b"\r\n");
    let framing = Framing {
        bodyless,
        chunked,
        declared,
        close,
    };
    (head, framing)
}

/// Writes a response on the direct path: `head`, then the body as `framing` says; `Ok(true)`
/// when the connection can take another request. `incoming` collects what the client sends
/// meanwhile (the next request's start).
async fn write_response<B>(
    stream: &TcpStream,
    head: Vec<u8>,
    mut body: Pin<&mut B>,
    framing: Framing,
    incoming: &mut Vec<u8>,
    max: usize,
) -> io::Result<bool>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut out = Out::plain(Bytes::from(head));
    let mut ended = framing.bodyless;
    let mut sent: u64 = 0;
    poll_fn(|cx| -> Poll<io::Result<()>> {
        watch_client(stream, cx, incoming, max)?;
        loop {
            if !out.is_empty() {
                ready!(write_out(stream, cx, &mut out))?;
                continue;
            }
            if ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            sent += data.len() as u64;
                            out = if framing.chunked {
                                Out::chunk(data)
                            } else {
                                Out::plain(data)
                            };
                        }
                    }
                }
                Some(Err(e)) => {
                    let e: BoxError = e.into();
                    return Poll::Ready(Err(io::Error::other(e)));
                }
                None => {
                    ended = true;
                    if framing.chunked {
                        out = Out::plain(Bytes::from_static(b"0\r\n\r\n"));
                    }
                }
            }
        }
    })
    .await?;
    let complete = framing.chunked || framing.bodyless || framing.declared == Some(sent);
    Ok(!framing.close && complete)
}

fn put_header(head: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    head.extend_from_slice(name);
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// Reads whatever the client sent while a response is going out, so that a client that goes
/// away is noticed at once (the body is then dropped, which tells its producer). Keeps the
/// bytes (a pipelined request), up to `max`; a client that sends more is cut off.
fn watch_client(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    incoming: &mut Vec<u8>,
    max: usize,
) -> io::Result<()> {
    while stream.poll_read_ready(cx)?.is_ready() {
        if incoming.len() >= max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the client sent too much while a response was streaming",
            ));
        }
        incoming.reserve(READ_STEP.min(max - incoming.len()));
        match stream.try_read_buf(incoming) {
            Ok(0) => return Err(io::ErrorKind::ConnectionAborted.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes as much of `out` as the socket takes; ready when it has taken some.
fn write_out(stream: &TcpStream, cx: &mut Context<'_>, out: &mut Out) -> Poll<io::Result<()>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let empty: &[u8] = &[];
        let mut slices = [IoSlice::new(empty); 3];
        let count = out.slices(&mut slices);
        match stream.try_write_vectored(&slices[..count]) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                out.advance(n);
                return Poll::Ready(Ok(()));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Bytes on their way out: a short prefix (a chunk's size line), the data, a static suffix.
struct Out {
    prefix: [u8; 18],
    prefix_at: u8,
    prefix_end: u8,
    data: Bytes,
    suffix: &'static [u8],
}

impl Out {
    fn plain(data: Bytes) -> Out {
        Out {
            prefix: [0; 18],
            prefix_at: 0,
            prefix_end: 0,
            data,
            suffix: b"",
        }
    }

    /// `data` as one chunk of a chunked body.
    fn chunk(data: Bytes) -> Out {
        let mut out = Out::plain(Bytes::new());
        let mut len = data.len();
        let mut digits = [0u8; 16];
        let mut count = 0;
        loop {
            digits[count] = b"0123456789abcdef"[len & 0xf];
            count += 1;
            len >>= 4;
            if len == 0 {
                break;
            }
        }
        for (i, digit) in digits[..count].iter().rev().enumerate() {
            out.prefix[i] = *digit;
        }
        out.prefix[count] = b'\r';
        out.prefix[count + 1] = b'\n';
        // At most 16 digits and CRLF: fits in the 18-byte prefix and in a u8.
        out.prefix_end = u8::try_from(count + 2).unwrap_or(u8::MAX);
        out.data = data;
        out.suffix = b"\r\n";
        out
    }

    fn is_empty(&self) -> bool {
        self.prefix_at == self.prefix_end && self.data.is_empty() && self.suffix.is_empty()
    }

    fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>; 3]) -> usize {
        let mut count = 0;
        let prefix = &self.prefix[usize::from(self.prefix_at)..usize::from(self.prefix_end)];
        for part in [prefix, &self.data[..], self.suffix] {
            if !part.is_empty() {
                slices[count] = IoSlice::new(part);
                count += 1;
            }
        }
        count
    }

    fn advance(&mut self, mut n: usize) {
        let prefix_left = usize::from(self.prefix_end - self.prefix_at);
        let from_prefix = n.min(prefix_left);
        // Bounded by prefix_end, a u8.
        self.prefix_at += u8::try_from(from_prefix).unwrap_or(0);
        n -= from_prefix;
        let from_data = n.min(self.data.len());
        self.data.advance(from_data);
        n -= from_data;
        self.suffix = &self.suffix[n.min(self.suffix.len())..];
    }
}

/// A connection handed to hyper: first the bytes the direct path read already, then the
/// socket.
struct Prefixed {
    prefix: Vec<u8>,
    at: usize,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.at);
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_framed_with_its_size_in_hex() {
        let out = Out::chunk(Bytes::from(vec![b'x'; 300]));
        let mut slices = [IoSlice::new(&[]); 3];
        let count = out.slices(&mut slices);
        let bytes: Vec<u8> = slices[..count]
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect();
        assert!(bytes.starts_with(b"12c\r\nxxx"));
        assert!(bytes.ends_with(b"xx\r\n"));
        assert_eq!(bytes.len(), 5 + 300 + 2);
    }

    #[test]
    fn advancing_across_parts_leaves_exactly_the_rest() {
        let full = {
            let out = Out::chunk(Bytes::from_static(b"hello"));
            let mut slices = [IoSlice::new(&[]); 3];
            let count = out.slices(&mut slices);
            slices[..count]
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect::<Vec<u8>>()
        };
        for cut in 0..=full.len() {
            let mut out = Out::chunk(Bytes::from_static(b"hello"));
            out.advance(cut);
            let mut slices = [IoSlice::new(&[]); 3];
            let count = out.slices(&mut slices);
            let rest: Vec<u8> = slices[..count]
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            assert_eq!(rest, full[cut..], "cut at {cut}");
            assert_eq!(out.is_empty(), cut == full.len());
        }
    }

    #[test]
    fn only_bodyless_http11_gets_take_the_direct_path() {
        let direct = |head: &str| matches!(parse_head(head.as_bytes()), Parsed::Direct(..));
        assert!(direct(
            "GET /topics/a?lastEventId=3 HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(direct("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        assert!(!direct("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"));
        assert!(!direct("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"));
        assert!(!direct(
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!direct(
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
        ));
        assert!(!direct("GET / HTTP/1.0\r\n\r\n"));
        assert!(!direct("HEAD / HTTP/1.1\r\n\r\n"));
        assert!(!direct("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost"),
            Parsed::Partial
        ));
        assert!(matches!(
            parse_head(b"GET /\x01 HTTP/1.1\r\n\r\n"),
            Parsed::Hyper
        ));
    }

    #[test]
    fn connection_close_is_found_among_other_tokens() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Close"),
        );
        assert!(wants_close(&headers));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!wants_close(&headers));
    }
}
