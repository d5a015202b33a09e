//! Over loopback HTTP/1.1 with hyper: headers, per-event flush, disconnect propagation.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use ssekit_codec::Decoder;

use ssekit_server::{channel, sse_response, Event, Sender};
use ssekit_test::next_event;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Serves every request with `handler`, which gets a `Sender` for the response's body.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Sender) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    ssekit_test::serve(move |_request| {
        let (sender, body) = channel(8);
        tokio::spawn(handler(sender));
        std::future::ready(sse_response(body))
    })
    .await
}

type Response = hyper::Response<hyper::body::Incoming>;

async fn get(addr: SocketAddr) -> (Response, tokio::task::JoinHandle<()>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = hyper::Request::get("/")
        .header("host", "test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    (send.send_request(request).await.unwrap(), conn)
}

#[tokio::test]
async fn headers_and_each_event_flushed_before_the_next_exists() {
    let (tx, rx) = mpsc::channel::<()>(1);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let addr = serve(move |sender: Sender| {
        let rx = rx.clone();
        async move {
            sender.send(&Event::new("first")).await.unwrap();
            // The second event is produced only after the client has seen the first: if the
            // server buffered the first, the test would time out.
            rx.lock().await.recv().await;
            sender.send(&Event::new("second")).await.unwrap();
        }
    })
    .await;
    let (response, _conn) = get(addr).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(headers.get("connection").is_none());
    assert!(headers.get("content-length").is_none());

    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    let first = next_event(&mut body, &mut decoder)
        .await
        .expect("the first event");
    assert_eq!(first.data(), "first");
    tx.send(()).await.unwrap();
    let second = next_event(&mut body, &mut decoder)
        .await
        .expect("the second event");
    assert_eq!(second.data(), "second");
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_producer() {
    let (cancelled_tx, mut cancelled_rx) = mpsc::channel::<usize>(1);
    let addr = serve(move |sender: Sender| {
        let cancelled_tx = cancelled_tx.clone();
        async move {
            let sent = crate::ticks_until_closed(sender).await;
            let _ = cancelled_tx.send(sent).await;
        }
    })
    .await;
    let (response, conn) = get(addr).await;
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    assert!(next_event(&mut body, &mut decoder).await.is_some());
    // The client goes away: drop the body and the connection.
    drop(body);
    conn.abort();
    let sent = tokio::time::timeout(Duration::from_secs(10), cancelled_rx.recv())
        .await
        .expect("the producer learns of the disconnect")
        .unwrap();
    assert!(sent >= 1);
}

/// With the `axum` feature (`cargo test -p ssekit-server --features axum`, run by
/// `cargo xtask ci`): an `SseBody` returned from an axum handler streams with the SSE headers.
#[cfg(feature = "axum")]
#[tokio::test]
async fn an_sse_body_is_an_axum_response() {
    let app = axum::Router::new().route(
        "/events",
        axum::routing::get(|| async {
            let (sender, body) = channel(4);
            tokio::spawn(async move {
                let _ = sender.send(&Event::new("from axum")).await;
            });
            body
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut send = ssekit_test::connect(addr).await;
    let request = hyper::Request::get("/events")
        .header("host", "t")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    assert_eq!(
        next_event(&mut body, &mut decoder).await.unwrap().data(),
        "from axum"
    );
}
