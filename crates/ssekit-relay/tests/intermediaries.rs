//! The relay and the proxy between a loopback client and a controllable upstream.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ssekit_client::Client;
use ssekit_codec::{Decoder, Frame};
use ssekit_relay::{Pipeline, Proxy, Relay, RelayConfig};

use ssekit_test::{next_event, request, WAIT};

use crate::proxy::Raw;
use crate::upstream::{start, Upstream};

async fn relay_front(upstream: &Upstream, pipeline: Pipeline) -> SocketAddr {
    relay_to(upstream.addr, pipeline).await
}

async fn relay_to(upstream: SocketAddr, pipeline: Pipeline) -> SocketAddr {
    let pipeline = Arc::new(std::sync::Mutex::new(Some(pipeline)));
    let config = RelayConfig::new(format!("http://{upstream}/v1/stream"))
        .upstream_header(
            http::HeaderName::from_static("x-api-key"),
            http::HeaderValue::from_static("upstream-key"),
        )
        .pipeline(Arc::new(move || {
            pipeline.lock().unwrap().take().unwrap_or_default()
        }));
    let relay = Arc::new(Relay::new(Client::new().unwrap(), config));
    ssekit_test::serve(move |req: hyper::Request<Incoming>| {
        let relay = Arc::clone(&relay);
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            relay.relay(parts.method, &parts.headers, body)
        }
    })
    .await
}

#[tokio::test]
async fn the_relay_streams_each_event_before_the_next_exists_and_filters_headers() {
    let mut upstream = start("text/event-stream", Some(("x-upstream-secret", "s3"))).await;
    let addr = relay_front(&upstream, Pipeline::new()).await;
    let response = request(
        addr,
        "POST",
        "/chat",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer client"),
            ("cookie", "session=1"),
            ("x-other", "1"),
        ],
        r#"{"q":1}"#,
    )
    .await;
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert!(
        response.headers().get("x-upstream-secret").is_none(),
        "no upstream header comes back"
    );
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    let upstream_tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    upstream_tx
        .send(Bytes::from_static(b"data: one\n\n"))
        .unwrap();
    assert_eq!(
        next_event(&mut body, &mut decoder).await.unwrap().data(),
        "one"
    );
    // Only now does the upstream produce the second event.
    upstream_tx
        .send(Bytes::from_static(b"data: two\n\n"))
        .unwrap();
    assert_eq!(
        next_event(&mut body, &mut decoder).await.unwrap().data(),
        "two"
    );
    drop(upstream_tx);
    assert!(
        next_event(&mut body, &mut decoder).await.is_none(),
        "the stream ends with the upstream"
    );

    let recorded = upstream.requests.lock().unwrap()[0].clone();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/stream");
    assert_eq!(recorded.body, Bytes::from_static(br#"{"q":1}"#));
    assert_eq!(recorded.headers["content-type"], "application/json");
    assert_eq!(recorded.headers["x-api-key"], "upstream-key");
    for absent in ["authorization", "cookie", "x-other"] {
        assert!(
            recorded.headers.get(absent).is_none(),
            "{absent} must not go upstream"
        );
    }
}

#[tokio::test]
async fn a_client_that_goes_away_closes_the_upstream_request() {
    let mut upstream = start("text/event-stream", None).await;
    let addr = relay_front(&upstream, Pipeline::new()).await;
    let response = request(addr, "GET", "/", &[], "").await;
    let mut body = response.into_body();
    let upstream_tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    upstream_tx
        .send(Bytes::from_static(b"data: one\n\n"))
        .unwrap();
    let mut decoder = Decoder::new();
    assert!(next_event(&mut body, &mut decoder).await.is_some());
    drop(body);
    tokio::time::timeout(WAIT, upstream.dropped.recv())
        .await
        .expect("the upstream sees the request dropped");
}

#[tokio::test]
async fn an_upstream_failure_becomes_an_error_event_and_a_clean_end() {
    let upstream = start("application/json", None).await;
    let addr = relay_front(&upstream, Pipeline::new()).await;
    let response = request(addr, "GET", "/", &[], "").await;
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    let event = next_event(&mut body, &mut decoder)
        .await
        .expect("an error event");
    assert_eq!(event.event_type(), "error");
    assert!(
        event.data().contains("application/json"),
        "{}",
        event.data()
    );
    assert!(next_event(&mut body, &mut decoder).await.is_none());
}

#[tokio::test]
async fn an_upstream_cut_off_mid_stream_gives_the_events_so_far_then_an_error_event() {
    let mut upstream = Raw::start().await;
    let addr = relay_to(upstream.addr, Pipeline::new()).await;
    let answer = tokio::spawn(async move {
        // Two whole events, the start of a third, and no last chunk: a cut connection.
        upstream
            .answer(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                  transfer-encoding: chunked\r\n\r\n\
                  1e\r\ndata: one\n\ndata: two\n\ndata: th\r\n",
            )
            .await
    });
    let mut body = request(addr, "GET", "/", &[], "").await.into_body();
    let mut decoder = Decoder::new();
    let mut got = Vec::new();
    while let Some(event) = next_event(&mut body, &mut decoder).await {
        got.push((event.event_type().to_owned(), event.data().to_owned()));
    }
    answer.await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], ("message".to_owned(), "one".to_owned()));
    assert_eq!(got[1], ("message".to_owned(), "two".to_owned()));
    assert_eq!(
        got[2].0, "error",
        "the cut is reported, not passed off as an end"
    );
}

#[tokio::test]
async fn words_split_across_events_are_redacted_on_the_way() {
    let mut upstream = start("text/event-stream", None).await;
    let addr = relay_front(&upstream, Pipeline::new().redact(["secret"], "#")).await;
    let response = request(addr, "GET", "/", &[], "").await;
    let mut body = response.into_body();
    let upstream_tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    for piece in ["data: top s\n\n", "data: ecr\n\n", "data: et!\n\n"] {
        upstream_tx.send(Bytes::from(piece)).unwrap();
    }
    drop(upstream_tx);
    let mut decoder = Decoder::new();
    let mut text = String::new();
    while let Some(e) = next_event(&mut body, &mut decoder).await {
        assert!(
            !e.data().contains("sec"),
            "a piece of the word leaked: {:?}",
            e.data()
        );
        text.push_str(e.data());
    }
    assert_eq!(text, "top #!");
}

#[tokio::test]
async fn the_proxy_streams_bytes_as_they_come_and_forwards_the_body() {
    let mut upstream = start("text/event-stream", None).await;
    let proxy = Arc::new(Proxy::new(&format!("http://{}/base", upstream.addr)).unwrap());
    let addr = ssekit_test::serve(move |req| {
        let proxy = Arc::clone(&proxy);
        async move { proxy.forward(req).await }
    })
    .await;
    let response = request(
        addr,
        "POST",
        "/v1/x?y=1",
        &[
            ("content-type", "application/json"),
            ("connection", "keep-alive"),
        ],
        r#"{"key1":"value1","key2":"value2"}"#,
    )
    .await;
    assert!(
        response.headers().get("x-upstream-hop").is_none(),
        "a header the upstream named in Connection is hop-by-hop"
    );
    let mut body = response.into_body();
    let upstream_tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    upstream_tx
        .send(Bytes::from_static(b"data: one\n\n"))
        .unwrap();
    let first = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(
        first,
        Bytes::from_static(b"data: one\n\n"),
        "byte for byte, before the next exists"
    );
    upstream_tx
        .send(Bytes::from_static(b"data: two\n\n"))
        .unwrap();
    let second = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(second, Bytes::from_static(b"data: two\n\n"));
    let recorded = upstream.requests.lock().unwrap()[0].clone();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/base/v1/x?y=1");
    assert_eq!(
        recorded.body,
        Bytes::from_static(br#"{"key1":"value1","key2":"value2"}"#)
    );
    assert_eq!(recorded.headers["host"], upstream.addr.to_string());
    // The client goes away: the upstream connection is closed.
    drop(body);
    tokio::time::timeout(WAIT, upstream.dropped.recv())
        .await
        .expect("the upstream sees the client leave");
}

#[tokio::test]
async fn the_proxy_answers_502_when_the_upstream_is_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let proxy = Arc::new(Proxy::new(&format!("http://{dead}/")).unwrap());
    let addr = ssekit_test::serve(move |req| {
        let proxy = Arc::clone(&proxy);
        async move { proxy.forward(req).await }
    })
    .await;
    let response = request(addr, "GET", "/", &[], "").await;
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn a_generation_runs_without_clients_and_can_be_followed_and_cancelled() {
    use ssekit_relay::Generation;
    use ssekit_server::{Hub, HubConfig};

    let mut upstream = start("text/event-stream", None).await;
    let relay = Relay::new(
        Client::new().unwrap(),
        RelayConfig::new(format!("http://{}/", upstream.addr)),
    );
    let hub = Hub::new(HubConfig::default());

    // Nobody follows the first generation while it runs; it completes all the same.
    let task = relay.generate(
        http::Method::POST,
        &http::HeaderMap::new(),
        Bytes::from_static(b"{}"),
        Generation::new(hub.clone(), "gen-a"),
    );
    let tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    tx.send(Bytes::from_static(b"data: one\n\ndata: two\n\n"))
        .unwrap();
    drop(tx);
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    let mut late = hub
        .subscribe(
            "gen-a",
            Some(&format!(
                "{}-0",
                hub.publish("probe-epoch", None, "x")
                    .unwrap()
                    .split_once('-')
                    .unwrap()
                    .0
            )),
        )
        .unwrap();
    // (An id from another topic's epoch: the history-lost signal, then everything retained.)
    let mut decoder = Decoder::new();
    let mut data = Vec::new();
    while let Some(bytes) = tokio::time::timeout(WAIT, late.recv()).await.unwrap() {
        decoder.feed(&bytes);
        while let Some(Frame::Event(e)) = decoder.next_frame().unwrap() {
            data.push(e.data().to_owned());
        }
    }
    assert_eq!(
        &data[1..],
        ["one", "two"],
        "then the closed topic's stream ends"
    );

    // A cancelled generation drops its upstream request at once.
    let generation = Generation::new(hub.clone(), "gen-b");
    let cancel = generation.cancel_token();
    let task = relay.generate(
        http::Method::POST,
        &http::HeaderMap::new(),
        Bytes::new(),
        generation,
    );
    let tx = tokio::time::timeout(WAIT, upstream.streams.recv())
        .await
        .unwrap()
        .unwrap();
    tx.send(Bytes::from_static(b"data: partial\n\n")).unwrap();
    cancel.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, upstream.dropped.recv())
        .await
        .expect("the upstream request is dropped");
}
