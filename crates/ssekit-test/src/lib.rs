//! Loopback helpers shared by the workspace's tests (not published): a hyper server on a free
//! port, client connections and requests, and readers of event streams. Every wait is bounded
//! by [`WAIT`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ssekit_codec::{Decoder, Event, Frame};
use tokio::net::{TcpListener, TcpStream};

/// The bound on every wait in these helpers.
pub const WAIT: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `handle` over HTTP/1.1 (hyper, one task per connection) on a free loopback port,
/// until the test's runtime ends.
///
/// # Panics
/// When no loopback port can be bound.
pub async fn serve<F, Fut, B>(handle: F) -> SocketAddr
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = http::Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let response = handle(request);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// An HTTP/1.1 client connection to `addr`; the connection runs on a task of its own.
///
/// # Panics
/// When the connection or the handshake fails.
pub async fn connect<B>(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

/// An HTTP/2 client connection to `addr` without TLS (h2c, prior knowledge).
///
/// # Panics
/// When the connection or the handshake fails.
pub async fn connect_h2c<B>(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<B>
where
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

/// Sends `request` on a new HTTP/1.1 connection and returns the response head.
///
/// # Panics
/// When the exchange fails or takes longer than [`WAIT`].
pub async fn send<B>(addr: SocketAddr, request: http::Request<B>) -> http::Response<Incoming>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut sender = connect(addr).await;
    tokio::time::timeout(WAIT, sender.send_request(request))
        .await
        .unwrap()
        .unwrap()
}

/// Sends `method path` with `headers` (and `Host: test`) and `body` on a new connection.
///
/// # Panics
/// As [`send`].
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> http::Response<Incoming> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "test");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    send(addr, request).await
}

/// A response's whole body as text.
///
/// # Panics
/// When the body fails, is not UTF-8, or does not end within [`WAIT`].
pub async fn text(response: http::Response<Incoming>) -> String {
    let body = tokio::time::timeout(WAIT, response.into_body().collect())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(body.to_bytes().to_vec()).unwrap()
}

/// The next event of a streaming body; `None` when the body ends or fails.
///
/// # Panics
/// When the stream does not decode, or nothing arrives for [`WAIT`]: a test that expects the
/// end must not pass on silence.
pub async fn next_event(body: &mut Incoming, decoder: &mut Decoder) -> Option<Event> {
    within(body, decoder)
        .await
        .expect("the stream stayed silent for the bounded wait")
}

/// Up to `n` events of a streaming body: fewer when it ends, fails or stays silent for
/// [`WAIT`].
///
/// # Panics
/// When the stream does not decode.
pub async fn events(body: &mut Incoming, n: usize) -> Vec<Event> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    while out.len() < n {
        match within(body, &mut decoder).await {
            Ok(Some(event)) => out.push(event),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// The next event, `Ok(None)` at the end of the body, `Err` after [`WAIT`] of silence.
async fn within(
    body: &mut Incoming,
    decoder: &mut Decoder,
) -> Result<Option<Event>, tokio::time::error::Elapsed> {
    loop {
        while let Some(frame) = decoder.next_frame().unwrap() {
            if let Frame::Event(event) = frame {
                return Ok(Some(event));
            }
        }
        match tokio::time::timeout(WAIT, body.frame()).await? {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    decoder.feed(&data);
                }
            }
            Some(Err(_)) | None => return Ok(None),
        }
    }
}
