//! The client against the scripted server.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use ssekit_client::{Client, Error, ErrorKind, Item, Outcome, ReconnectPolicy, Request};

use crate::scripted::{start, End, Scenario};

/// Collects items until `stop` says so, the stream ends, or 20 s pass.
async fn collect(
    stream: ssekit_client::EventStream,
    mut stop: impl FnMut(&[Item]) -> bool,
) -> (Vec<Item>, Option<Error>) {
    let mut stream = stream;
    let mut items = Vec::new();
    let run = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(item) => {
                    items.push(item);
                    if stop(&items) {
                        return None;
                    }
                }
                Err(e) => return Some(e),
            }
        }
        None
    };
    let error = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("bounded in time");
    (items, error)
}

fn data(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e.data().to_owned()),
            _ => None,
        })
        .collect()
}

fn fast() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .with_retry(Duration::from_millis(10))
        .with_jitter_seed(9)
}

#[tokio::test]
async fn reconnects_with_last_event_id_and_sends_method_headers_and_body_again() {
    let server = start(vec![
        Scenario::events(
            "retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n",
            End::Close,
        ),
        Scenario::events("id: 3\ndata: c\n\n", End::Close),
    ])
    .await;
    let request = Request::post(&server.url("/chat"))
        .unwrap()
        .header("authorization", "Bearer t")
        .unwrap()
        .json_body(r#"{"q":1}"#);
    let stream = Client::new().unwrap().stream(request, fast());
    let (items, error) = collect(stream, |items| data(items).len() == 3).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data(&items), ["a", "b", "c"]);
    assert!(matches!(items[0], Item::Open { .. }));
    assert!(items
        .iter()
        .any(|i| matches!(i, Item::Retry(d) if *d == Duration::from_millis(10))));
    assert!(items.iter().any(|i| matches!(
        i,
        Item::Reconnecting {
            cause: Outcome::Ended,
            ..
        }
    )));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/chat");
        assert_eq!(r.headers["authorization"], "Bearer t");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["accept"], "text/event-stream");
        assert_eq!(r.body, Bytes::from_static(br#"{"q":1}"#));
    }
    assert!(requests[0].headers.get("last-event-id").is_none());
    assert_eq!(requests[1].headers["last-event-id"], "2");
}

#[tokio::test]
async fn a_mid_stream_drop_loses_nothing_and_repeats_nothing() {
    let server = start(vec![
        // The pause lets the chunk reach the client before the connection is reset.
        Scenario::Stream {
            chunks: vec![Bytes::from_static(b"id: 1\ndata: a\n\nid: 2\ndata: par")],
            delay: Duration::from_millis(100),
            end: End::Drop,
        },
        Scenario::events("id: 2\ndata: b\n\nid: 3\ndata: c\n\n", End::Close),
    ])
    .await;
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let (items, _) = collect(stream, |items| data(items).len() == 3).await;
    assert_eq!(
        data(&items),
        ["a", "b", "c"],
        "the unterminated event is dropped, not delivered"
    );
    assert!(items.iter().any(|i| matches!(
        i,
        Item::Reconnecting {
            cause: Outcome::NetworkError,
            ..
        }
    )));
    assert_eq!(server.requests()[1].headers["last-event-id"], "1");
}

#[tokio::test]
async fn a_204_stops_the_stream_without_error() {
    let server = start(vec![
        Scenario::events("data: a\n\n", End::Close),
        Scenario::status(204, ""),
    ])
    .await;
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let (items, error) = collect(stream, |_| false).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data(&items), ["a"]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_fatal_status_fails_with_the_status_and_the_body() {
    let server = start(vec![Scenario::status(401, "token expired")]).await;
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let (_, error) = collect(stream, |_| false).await;
    let error = error.expect("an error");
    assert_eq!(error.kind(), ErrorKind::Status);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(error.body(), Some("token expired"));
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_503_is_retried_after_its_retry_after() {
    let server = start(vec![
        Scenario::Status {
            status: 503,
            headers: vec![("retry-after", "1")],
            body: "busy",
        },
        Scenario::events("data: ok\n\n", End::Close),
    ])
    .await;
    let started = std::time::Instant::now();
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let (items, error) = collect(stream, |items| !data(items).is_empty()).await;
    assert!(error.is_none(), "{error:?}");
    assert!(items.iter().any(
        |i| matches!(i, Item::Reconnecting { delay, .. } if *delay >= Duration::from_secs(1))
    ));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(data(&items), ["ok"]);
}

#[tokio::test]
async fn a_wrong_content_type_is_fatal() {
    let server = start(vec![Scenario::Status {
        status: 200,
        headers: vec![("content-type", "application/json")],
        body: "{}",
    }])
    .await;
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let (_, error) = collect(stream, |_| false).await;
    let error = error.expect("an error");
    assert_eq!(error.kind(), ErrorKind::ContentType);
    assert_eq!(error.body(), Some("{}"));
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = start(vec![
        Scenario::Status {
            status: 307,
            headers: vec![("location", "/moved")],
            body: "",
        },
        Scenario::events("data: here\n\n", End::Close),
    ])
    .await;
    let stream = Client::new().unwrap().stream(
        Request::post(&server.url("/start")).unwrap().body("b"),
        fast(),
    );
    let (items, _) = collect(stream, |items| !data(items).is_empty()).await;
    assert_eq!(data(&items), ["here"]);
    let requests = server.requests();
    assert_eq!(requests[1].path, "/moved");
    assert_eq!(requests[1].method, "POST", "307 keeps the method and body");
    assert_eq!(requests[1].body, Bytes::from_static(b"b"));
}

#[tokio::test]
async fn byte_by_byte_writes_and_split_line_endings() {
    let text = "id: 1\r\ndata: one\r\n\r\ndata: t\rdata: wo\r\r";
    let chunks = text.bytes().map(|b| Bytes::from(vec![b])).collect();
    let server = start(vec![Scenario::Stream {
        chunks,
        delay: Duration::from_millis(2),
        end: End::Close,
    }])
    .await;
    let stream = Client::new().unwrap().stream(
        Request::get(&server.url("/")).unwrap(),
        ReconnectPolicy::never(),
    );
    let (items, error) = collect(stream, |_| false).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data(&items), ["one", "t\nwo"]);
}

#[tokio::test]
async fn a_silent_connection_times_out_and_reconnects() {
    let server = start(vec![
        Scenario::events("data: a\n\n", End::Hang),
        Scenario::events("data: b\n\n", End::Close),
    ])
    .await;
    let client = Client::builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let stream = client.stream(Request::get(&server.url("/")).unwrap(), fast());
    let (items, _) = collect(stream, |items| data(items).len() == 2).await;
    assert_eq!(data(&items), ["a", "b"]);
    assert!(items.iter().any(|i| matches!(
        i,
        Item::Reconnecting {
            cause: Outcome::IdleTimeout,
            ..
        }
    )));
}

#[tokio::test]
async fn reconnect_on_end_off_does_not_send_a_post_again() {
    let server = start(vec![Scenario::events("data: answer\n\n", End::Close)]).await;
    let policy = ReconnectPolicy::default().reconnect_on_end(false);
    let stream = Client::new().unwrap().stream(
        Request::post(&server.url("/")).unwrap().body("prompt"),
        policy,
    );
    let (items, error) = collect(stream, |_| false).await;
    assert!(error.is_none());
    assert_eq!(data(&items), ["answer"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn the_reconnect_budget_ends_in_an_error_when_the_server_is_gone() {
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let policy = fast().with_max_reconnects(2);
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&url).unwrap(), policy);
    let (items, error) = collect(stream, |_| false).await;
    assert_eq!(error.expect("an error").kind(), ErrorKind::Network);
    let attempts = items
        .iter()
        .filter(|i| matches!(i, Item::Reconnecting { .. }))
        .count();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let server = start(vec![Scenario::events("data: a\n\n", End::Hang)]).await;
    let mut closed = server.closed.lock().unwrap().take().unwrap();
    let mut stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), fast());
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Ok(Item::Event(e))) = stream.next().await {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(first.data(), "a");
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), closed.recv())
        .await
        .expect("the server sees the response dropped");
}

#[tokio::test]
async fn headers_are_recomputed_on_each_connection() {
    let server = start(vec![
        Scenario::events("data: a\n\n", End::Close),
        Scenario::events("data: b\n\n", End::Close),
    ])
    .await;
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook_counter = Arc::clone(&counter);
    let request = Request::get(&server.url("/"))
        .unwrap()
        .on_connect(Arc::new(move |headers| {
            let n = hook_counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            headers.insert(
                "authorization",
                format!("Bearer token-{n}").parse().unwrap(),
            );
        }));
    let stream = Client::new().unwrap().stream(request, fast());
    let (items, _) = collect(stream, |items| data(items).len() == 2).await;
    assert_eq!(data(&items), ["a", "b"]);
    let requests = server.requests();
    assert_eq!(requests[0].headers["authorization"], "Bearer token-0");
    assert_eq!(requests[1].headers["authorization"], "Bearer token-1");
}

#[tokio::test]
async fn the_response_check_can_reject_an_opened_stream() {
    let server = start(vec![Scenario::events("data: a\n\n", End::Close)]).await;
    let policy = fast().with_response_check(Arc::new(|_, headers| {
        if headers.contains_key("x-api-version") {
            Ok(())
        } else {
            Err("no X-Api-Version".into())
        }
    }));
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), policy);
    let (items, error) = collect(stream, |_| false).await;
    let error = error.expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert!(error.to_string().contains("no X-Api-Version"));
    assert!(
        data(&items).is_empty(),
        "no event of a rejected response is read"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn the_servers_retry_sets_the_reconnection_delay() {
    let server = start(vec![
        Scenario::events("retry: 123\ndata: a\n\n", End::Close),
        Scenario::events("data: b\n\n", End::Close),
    ])
    .await;
    let policy = ReconnectPolicy::default().with_jitter_seed(1); // 3 s unless the server's retry wins
    let stream = Client::new()
        .unwrap()
        .stream(Request::get(&server.url("/")).unwrap(), policy);
    let (items, _) = collect(stream, |items| data(items).len() == 2).await;
    let delay = items.iter().find_map(|i| match i {
        Item::Reconnecting { delay, .. } => Some(*delay),
        _ => None,
    });
    assert_eq!(delay, Some(Duration::from_millis(123)));
}

#[tokio::test]
async fn http2_prior_knowledge() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use std::convert::Infallible;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let service =
            hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let version = format!("{:?}", req.version());
                let mut response = hyper::Response::new(http_body_util::Full::new(Bytes::from(
                    format!("data: {version}\n\n"),
                )));
                response.headers_mut().insert(
                    "content-type",
                    http::HeaderValue::from_static("text/event-stream"),
                );
                Ok::<_, Infallible>(response)
            });
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
    let client = Client::builder()
        .http2_prior_knowledge(true)
        .build()
        .unwrap();
    let stream = client.stream(
        Request::get(&format!("http://{addr}/")).unwrap(),
        ReconnectPolicy::never(),
    );
    let (items, error) = collect(stream, |_| false).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data(&items), ["HTTP/2.0"]);
}
