//! The proxy against a scripted raw-TCP upstream: framing, coalescing, malformed and cut-off
//! responses, and request bodies streamed up while the response streams down.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use ssekit_relay::{Proxy, ProxyBody};
use ssekit_test::{send, text, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// An upstream that hands each accepted connection to the test.
pub(crate) struct Raw {
    pub(crate) addr: SocketAddr,
    conns: mpsc::UnboundedReceiver<TcpStream>,
}

impl Raw {
    pub(crate) async fn start() -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if tx.send(stream).is_err() {
                    return;
                }
            }
        });
        Raw { addr, conns }
    }

    /// The next connection and the request head read from it (with any body bytes after it).
    async fn accept(&mut self) -> (TcpStream, String, Vec<u8>) {
        let mut stream = tokio::time::timeout(WAIT, self.conns.recv())
            .await
            .unwrap()
            .unwrap();
        let mut buf = Vec::new();
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(buf[..end + 4].to_vec()).unwrap();
                return (stream, head, buf[end + 4..].to_vec());
            }
            let mut piece = [0; 4096];
            let n = tokio::time::timeout(WAIT, stream.read(&mut piece))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "the proxy closed before its request head");
            buf.extend_from_slice(&piece[..n]);
        }
    }

    /// Accepts the next request and answers with `response`, written in one go, then closes.
    pub(crate) async fn answer(&mut self, response: &[u8]) -> String {
        let (mut stream, head, _) = self.accept().await;
        stream.write_all(response).await.unwrap();
        head
    }
}

/// Reads from `stream` until `buf` ends with `end`.
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, end: &[u8]) {
    while !buf.ends_with(end) {
        let mut piece = [0; 4096];
        let n = tokio::time::timeout(WAIT, stream.read(&mut piece))
            .await
            .expect("bounded wait")
            .unwrap();
        assert!(
            n > 0,
            "closed early; got {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&piece[..n]);
    }
}

/// How the front describes what it saw of the proxy's body: the frames, then how it ended.
fn describe(frames: &[Bytes], end: &str) -> String {
    let mut out: Vec<String> = frames
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    out.push(end.to_owned());
    out.join("|")
}

/// Serves the proxy on a loopback port. With `observe`, the front collects the proxy's body
/// and answers with [`describe`]'s account of its frames instead of streaming it.
async fn front(upstream: SocketAddr, observe: bool) -> SocketAddr {
    let proxy = Arc::new(Proxy::new(&format!("http://{upstream}/base")).unwrap());
    ssekit_test::serve(move |req: hyper::Request<Incoming>| {
        let proxy = Arc::clone(&proxy);
        async move {
            let response = proxy.forward(req).await;
            if !observe {
                return response;
            }
            let (mut parts, mut body) = response.into_parts();
            let mut frames = Vec::new();
            let mut end = "END";
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => frames.push(frame.into_data().unwrap()),
                    Err(e) => {
                        end = if e.is_malformed() {
                            "ERR malformed"
                        } else if e.is_incomplete() {
                            "ERR incomplete"
                        } else if e.is_io() {
                            "ERR io"
                        } else {
                            "ERR other"
                        };
                        break;
                    }
                }
            }
            parts.headers.remove("content-length");
            let text = describe(&frames, end);
            let body: ProxyBody = Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed();
            hyper::Response::from_parts(parts, body)
        }
    })
    .await
}

/// A request body the test feeds piece by piece; dropping the sender ends it.
struct Fed(mpsc::UnboundedReceiver<Bytes>);

impl Body for Fed {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

async fn get(addr: SocketAddr, method: &str) -> hyper::Response<Incoming> {
    let request = hyper::Request::builder()
        .method(method)
        .uri("/sub?x=1")
        .header("host", "front")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(addr, request).await
}

/// The front's account of the proxy's body for `response` from the upstream.
async fn observed(response: &'static [u8]) -> String {
    let mut upstream = Raw::start().await;
    let addr = front(upstream.addr, true).await;
    let answer = tokio::spawn(async move { upstream.answer(response).await });
    let text = text(get(addr, "GET").await).await;
    answer.await.unwrap();
    text
}

#[tokio::test]
async fn chunks_that_arrive_together_are_one_frame() {
    let seen = observed(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n\
          9\r\ndata: a\n\n\r\n9;ext=1\r\ndata: b\n\n\r\n0\r\nx-trailer: t\r\n\r\n",
    )
    .await;
    assert_eq!(seen, "data: a\n\ndata: b\n\n|END");
}

#[tokio::test]
async fn the_request_head_is_rewritten_for_the_upstream() {
    let mut upstream = Raw::start().await;
    let addr = front(upstream.addr, false).await;
    let answer = tokio::spawn(async move {
        upstream
            .answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
    });
    let request = hyper::Request::builder()
        .method("GET")
        .uri("/sub?x=1")
        .header("host", "front")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .header("te", "trailers")
        .header("x-end", "2")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send(addr, request).await;
    assert_eq!(response.headers()["content-length"], "2");
    assert_eq!(text(response).await, "ok");
    let head = answer.await.unwrap().to_ascii_lowercase();
    let upstream = head.lines().next().unwrap().to_owned();
    assert_eq!(upstream, "get /base/sub?x=1 http/1.1");
    for present in ["x-end: 2", "connection: close"] {
        assert!(head.contains(present), "{present} missing in {head:?}");
    }
    for absent in [
        "x-hop",
        "keep-alive",
        "te:",
        "transfer-encoding",
        "content-length",
        "front",
    ] {
        assert!(!head.contains(absent), "{absent} forwarded in {head:?}");
    }
}

#[tokio::test]
async fn content_length_bodies_end_at_their_length() {
    let seen = observed(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789EXTRA").await;
    assert_eq!(seen, "0123456789|END");
}

#[tokio::test]
async fn a_body_without_length_ends_with_the_connection() {
    let seen =
        observed(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: x\n\n").await;
    assert_eq!(seen, "data: x\n\n|END");
}

#[tokio::test]
async fn a_body_cut_off_is_an_error_not_a_clean_end() {
    let chunked =
        observed(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab")
            .await;
    assert_eq!(chunked, "helloab|ERR incomplete");
    let length = observed(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234").await;
    assert_eq!(length, "01234|ERR incomplete");
}

#[tokio::test]
async fn malformed_chunked_framing_ends_the_body_with_an_error() {
    for response in [
        &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"[..],
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n10000000000000000\r\n",
    ] {
        let seen = observed(response).await;
        assert_eq!(seen, "hello|ERR malformed", "{response:?}");
    }
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let mut upstream = Raw::start().await;
    let addr = front(upstream.addr, false).await;
    tokio::spawn(async move {
        upstream
            .answer(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
                  HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-final: 1\r\n\r\nok",
            )
            .await
    });
    let response = get(addr, "GET").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-final"], "1");
    assert!(response.headers().get("link").is_none());
    assert_eq!(text(response).await, "ok");
}

#[tokio::test]
async fn bad_or_missing_heads_are_502() {
    let mut huge = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    huge.resize(70 * 1024, b'a');
    let huge: &'static [u8] = Vec::leak(huge);
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let many: &'static [u8] = Vec::leak(many);
    for response in [
        &b"HTTP/1.1 200 OK\r\n"[..],
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\nab",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        huge,
        many,
    ] {
        let mut upstream = Raw::start().await;
        let addr = front(upstream.addr, false).await;
        tokio::spawn(async move { upstream.answer(response).await });
        let response = get(addr, "GET").await;
        assert_eq!(response.status(), 502, "{response:?}");
    }
}

#[tokio::test]
async fn head_requests_and_204_have_no_body() {
    for (method, response) in [
        ("HEAD", &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"[..]),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ] {
        let mut upstream = Raw::start().await;
        let addr = front(upstream.addr, false).await;
        // The upstream keeps the connection open: the body must end without waiting for it.
        let (keep_tx, mut keep_rx) = mpsc::unbounded_channel::<TcpStream>();
        tokio::spawn(async move {
            let (mut stream, _, _) = upstream.accept().await;
            stream.write_all(response).await.unwrap();
            let _ = keep_tx.send(stream);
        });
        let response = get(addr, method).await;
        assert!(response.status().is_success());
        assert_eq!(text(response).await, "");
        drop(keep_rx.recv().await);
    }
}

#[tokio::test]
async fn a_streamed_request_body_goes_up_chunked_while_the_response_streams_down() {
    let mut upstream = Raw::start().await;
    let addr = front(upstream.addr, false).await;
    let (body_tx, body_rx) = mpsc::unbounded_channel();
    let request = hyper::Request::builder()
        .method("POST")
        .uri("/up")
        .header("host", "front")
        .body(Fed(body_rx))
        .unwrap();
    body_tx.send(Bytes::from_static(b"first")).unwrap();
    let client = tokio::spawn(async move { send(addr, request).await });
    let (mut stream, head, mut up) = upstream.accept().await;
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked\r\n"),
        "{head:?}"
    );
    read_until(&mut stream, &mut up, b"5\r\nfirst\r\n").await;
    // The upstream answers before the request body has ended.
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nevent1\r\n")
        .await
        .unwrap();
    let response = tokio::time::timeout(WAIT, client).await.unwrap().unwrap();
    let mut body = response.into_body();
    let first = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "event1");
    // The rest of the request body still goes up, then its end.
    body_tx.send(Bytes::from_static(b"second!")).unwrap();
    drop(body_tx);
    read_until(&mut stream, &mut up, b"7\r\nsecond!\r\n0\r\n\r\n").await;
    assert_eq!(up, b"5\r\nfirst\r\n7\r\nsecond!\r\n0\r\n\r\n");
    stream.write_all(b"6\r\nevent2\r\n0\r\n\r\n").await.unwrap();
    let rest = tokio::time::timeout(WAIT, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, "event2");
}

#[tokio::test]
async fn a_client_that_goes_away_closes_the_upstream_connection() {
    let mut upstream = Raw::start().await;
    let addr = front(upstream.addr, false).await;
    let client = tokio::spawn(async move { get(addr, "GET").await });
    let (mut stream, _, _) = upstream.accept().await;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        .await
        .unwrap();
    let response = tokio::time::timeout(WAIT, client).await.unwrap().unwrap();
    let mut body = response.into_body();
    let first = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "hello");
    drop(body);
    let mut rest = [0; 64];
    let n = tokio::time::timeout(WAIT, stream.read(&mut rest))
        .await
        .expect("the upstream sees the connection closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
}
