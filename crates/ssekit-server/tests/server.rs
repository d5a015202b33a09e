//! `Server` over loopback: the direct HTTP/1.1 path and the hand-off to hyper (request bodies,
//! h2c, bad requests), keep-alive and pipelining, disconnects, timeouts and shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use ssekit_codec::Decoder;

use ssekit_server::{channel, sse_response, Event, RequestBody, Server};
use ssekit_test::{next_event, text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

type Body = BoxBody<Bytes, Infallible>;

/// What the test handler reports about the requests it gets.
#[derive(Clone)]
struct Probe {
    /// Sends the number of events a stream sent once its producer learns the client left.
    cancelled: mpsc::Sender<usize>,
}

/// `GET /events`: "first", then "second" once `/go` was requested; a producer that reports
/// when the client goes away. `/ticks`: an endless stream. `/echo`: method, path and the
/// Last-Event-ID header (and the body's length) as text.
async fn handle(
    request: http::Request<RequestBody>,
    probe: Probe,
    go: std::sync::Arc<tokio::sync::Notify>,
) -> http::Response<Body> {
    match request.uri().path() {
        "/events" => {
            let (sender, body) = channel(8);
            tokio::spawn(async move {
                sender.send(&Event::new("first")).await.unwrap();
                go.notified().await;
                let _ = sender.send(&Event::new("second")).await;
            });
            sse_response(body).map(BodyExt::boxed)
        }
        "/go" => {
            go.notify_one();
            http::Response::new(Full::new(Bytes::from_static(b"ok")).boxed())
        }
        "/ticks" => {
            let (sender, body) = channel(8);
            tokio::spawn(async move {
                let sent = crate::ticks_until_closed(sender).await;
                let _ = probe.cancelled.send(sent).await;
            });
            sse_response(body).map(BodyExt::boxed)
        }
        _ => {
            let method = request.method().clone();
            let path = request.uri().to_string();
            let id = ssekit_server::last_event_id(&request).unwrap_or_default();
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let text = format!("{method} {path} id={id} body={}", body.len());
            http::Response::new(Full::new(Bytes::from(text)).boxed())
        }
    }
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    cancelled: mpsc::Receiver<usize>,
}

async fn start(server: Server) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cancelled_tx, cancelled) = mpsc::channel(4);
    let probe = Probe {
        cancelled: cancelled_tx,
    };
    let go = std::sync::Arc::new(tokio::sync::Notify::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(
        listener,
        move |request| handle(request, probe.clone(), go.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        done,
        cancelled,
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn http1(addr: SocketAddr) -> Sender {
    ssekit_test::connect(addr).await
}

fn get(path: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(path)
        .header("host", "test")
        .body(Empty::new())
        .unwrap()
}

/// Writes raw bytes and reads until the server closes the connection (bounded).
/// Every caller expects the server to close the connection: one that stays open past the
/// bound fails the test rather than passing with what arrived so far.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut got = Vec::new();
    // A reset after the answer (unread bytes on the server's side) also counts as closed.
    let _ = tokio::time::timeout(ssekit_test::WAIT, stream.read_to_end(&mut got))
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn each_event_is_flushed_before_the_next_exists_on_both_paths() {
    for direct in [true, false] {
        let server = start(Server::new().direct_http1(direct)).await;
        let mut send = http1(server.addr).await;
        let response = send.send_request(get("/events")).await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/event-stream; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["transfer-encoding"], "chunked");
        assert!(headers.get("content-length").is_none());
        assert!(headers.get("date").is_some());
        let mut body = response.into_body();
        let mut decoder = Decoder::new();
        let first = next_event(&mut body, &mut decoder).await.expect("first");
        assert_eq!(first.data(), "first");
        // "second" is produced only once /go was requested, after the client saw "first".
        let mut other = http1(server.addr).await;
        assert_eq!(
            text(other.send_request(get("/go")).await.unwrap()).await,
            "ok"
        );
        let second = next_event(&mut body, &mut decoder).await.expect("second");
        assert_eq!(second.data(), "second", "direct path: {direct}");
    }
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_producer_on_both_paths() {
    for direct in [true, false] {
        let mut server = start(Server::new().direct_http1(direct)).await;
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let response = send.send_request(get("/ticks")).await.unwrap();
        let mut body = response.into_body();
        let mut decoder = Decoder::new();
        assert!(next_event(&mut body, &mut decoder).await.is_some());
        drop(body);
        drop(send);
        conn.abort();
        let ticks = tokio::time::timeout(Duration::from_secs(10), server.cancelled.recv())
            .await
            .expect("the producer learns of the disconnect")
            .unwrap();
        assert!(ticks >= 1, "direct path: {direct}");
    }
}

#[tokio::test]
async fn the_handler_sees_the_request_and_finite_bodies_keep_the_connection() {
    let server = start(Server::new()).await;
    let mut send = http1(server.addr).await;
    for i in 0..3 {
        let request = http::Request::get(format!("/echo?n={i}"))
            .header("host", "test")
            .header("last-event-id", "topic:7")
            .body(Empty::new())
            .unwrap();
        let response = send.send_request(request).await.unwrap();
        let length = response.headers()["content-length"].clone();
        let body = text(response).await;
        assert_eq!(body, format!("GET /echo?n={i} id=topic:7 body=0"));
        assert_eq!(length, body.len().to_string().as_str());
    }
}

#[tokio::test]
async fn a_request_with_a_body_is_served_by_hyper() {
    let server = start(Server::new()).await;
    let request = http::Request::post("/echo")
        .header("host", "test")
        .body(Full::new(Bytes::from_static(b"{\"key1\":\"value1\"}")))
        .unwrap();
    let response = ssekit_test::send(server.addr, request).await;
    assert_eq!(text(response).await, "POST /echo id= body=17");
}

#[tokio::test]
async fn h2c_with_prior_knowledge_is_served_by_hyper() {
    let server = start(Server::new()).await;
    let mut send = ssekit_test::connect_h2c(server.addr).await;
    let request = http::Request::get(format!("http://{}/events", server.addr))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    assert_eq!(
        next_event(&mut body, &mut decoder).await.unwrap().data(),
        "first"
    );
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_close_is_honoured() {
    let server = start(Server::new()).await;
    let got = raw(
        server.addr,
        b"GET /echo?a HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let a = got.find("GET /echo?a id= body=0").expect("first answer");
    let b = got.find("GET /echo?b id= body=0").expect("second answer");
    assert!(a < b);
    assert_eq!(got.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{got}");
    assert!(got.contains("connection: close\r\n"), "{got}");
}

#[tokio::test]
async fn bad_and_oversized_heads_get_hyper_s_errors() {
    let server = start(Server::new()).await;
    let got = raw(server.addr, b"GET /\x01bad HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    let mut big = b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let got = raw(server.addr, &big).await;
    assert!(got.starts_with("HTTP/1.1 431"), "{got}");
}

#[tokio::test]
async fn a_client_that_sends_no_head_in_time_is_closed() {
    let server = start(Server::new().header_read_timeout(Duration::from_millis(200))).await;
    let got = raw(server.addr, b"GET /echo HTTP/1.1\r\nHost").await;
    assert!(got.is_empty(), "{got}");
}

#[tokio::test]
async fn shutdown_stops_accepting_closes_idle_connections_and_returns() {
    let mut server = start(Server::new().shutdown_grace(Duration::from_millis(300))).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    // Make sure the idle connection was accepted before shutting down.
    let mut send = http1(server.addr).await;
    assert!(text(send.send_request(get("/echo")).await.unwrap())
        .await
        .starts_with("GET"));
    let mut streaming = http1(server.addr).await;
    let response = streaming.send_request(get("/ticks")).await.unwrap();
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), &mut server.done)
        .await
        .expect("serve returns after the grace period")
        .unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut byte))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the idle connection is closed"
    );
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer accepting"
    );
    drop(response);
}
