//! Client throughput over loopback, in events per second: ssekit-client beside two SSE clients
//! from crates.io, each reading one whole response from the same local server.
//!
//! The server is a hyper HTTP/1.1 server on `127.0.0.1`, started once before anything is timed.
//! It answers every request with `text/event-stream` and a body of [`COPIES`] copies of the
//! `tokens` corpus, pre-cut into 64 KiB `Bytes` frames that it writes as fast as the socket
//! takes them, then ends the response. Each frame is a clone of a prepared `Bytes`, so the
//! server does no encoding while a client is being timed.
//!
//! One iteration is one request: send it, read every event of the response, stop at its end
//! (no reconnection). Every contestant counts the events and adds up their data lengths, and
//! before anything is timed each one is checked to see exactly the events of the corpus.
//! All client futures run with `block_on` on the one multi-threaded tokio runtime that also
//! runs the server; each client is built once, outside the timing.
//!
//! `hyper-body` is not a contestant but the floor: a bare hyper client that reads the same
//! response and only counts its bytes, with no SSE parsing at all. The three clients here are
//! built on hyper, so none of them can be faster than it.
//!
//! Group: `client/tokens`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eventsource_client as ld;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Empty, StreamBody};
use hyper::body::Frame;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest_eventsource::{retry, Event as ReqwestEvent, EventSource};
use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_benches::decoders::{self, Tally};
use ssekit_client::{Item, ReconnectPolicy, Request};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// How many copies of the 2 MiB `tokens` corpus one response carries (about 10.5 MB).
const COPIES: usize = 5;

/// The size of the body frames the server writes.
const FRAME: usize = 64 * 1024;

/// Starts the server on the runtime and returns its URL. It serves until the process exits.
fn start_server(runtime: &Runtime, frames: Arc<[Bytes]>) -> String {
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    runtime.spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let frames = Arc::clone(&frames);
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let frames = Arc::clone(&frames);
                    let body = (0..frames.len())
                        .map(move |i| Ok::<_, Infallible>(Frame::data(frames[i].clone())));
                    let response = Response::builder()
                        .header(CONTENT_TYPE, "text/event-stream")
                        .body(StreamBody::new(futures::stream::iter(body)));
                    async move { response }
                });
                // A client that hangs up early ends its connection with an error; the bench
                // checks what the clients read, not how the server fared.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    format!("http://{address}/")
}

/// ssekit-client: one stream that never reconnects, so it ends with the response.
async fn ssekit(client: &ssekit_client::Client, url: &str) -> Tally {
    let request = Request::get(url).expect("the server's URL is valid");
    let mut stream = client.stream(request, ReconnectPolicy::never());
    let mut tally = Tally::default();
    while let Some(item) = stream.next().await {
        if let Item::Event(event) = item.expect("ssekit-client failed") {
            tally.add(event.data());
        }
    }
    tally
}

/// reqwest-eventsource: it reports the end of the response as `Error::StreamEnded`, and would
/// then retry; the stream is closed there instead.
async fn reqwest_eventsource(client: &reqwest::Client, url: &str) -> Tally {
    let mut source = EventSource::new(client.get(url)).expect("a GET without a body clones");
    source.set_retry_policy(Box::new(retry::Never));
    let mut tally = Tally::default();
    while let Some(item) = source.next().await {
        match item {
            Ok(ReqwestEvent::Open) => {}
            Ok(ReqwestEvent::Message(message)) => tally.add(&message.data),
            Err(reqwest_eventsource::Error::StreamEnded) => break,
            Err(error) => panic!("reqwest-eventsource failed: {error}"),
        }
    }
    source.close();
    tally
}

/// eventsource-client: built with reconnection off, it reports the end of the response as
/// `Error::Eof` and then ends the stream; the loop stops at the `Eof`.
async fn eventsource_client(client: &impl ld::Client) -> Tally {
    let mut stream = client.stream();
    let mut tally = Tally::default();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ld::SSE::Event(event)) => tally.add(&event.data),
            Ok(ld::SSE::Connected(_) | ld::SSE::Comment(_)) => {}
            Err(ld::Error::Eof) => break,
            Err(error) => panic!("eventsource-client failed: {error}"),
        }
    }
    tally
}

/// A hyper client that sends empty GETs over plain HTTP/1.1.
type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// The floor: the response body read frame by frame through hyper, its bytes counted.
async fn hyper_body(client: &HyperClient, url: &hyper::Uri) -> usize {
    let response = client.get(url.clone()).await.expect("hyper GET failed");
    let mut body = response.into_body();
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("hyper body failed").into_data() {
            bytes += data.len();
        }
    }
    bytes
}

fn client(c: &mut Criterion) {
    let corpus = corpus::tokens(BENCH_SIZE);
    let wire = corpus.bytes.repeat(COPIES);
    let frames: Arc<[Bytes]> = decoders::chunks(&wire, FRAME).into();
    let expected = Tally {
        events: corpus.events * COPIES,
        data_bytes: corpus::token_payloads(BENCH_SIZE)
            .iter()
            .map(String::len)
            .sum::<usize>()
            * COPIES,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let url = start_server(&runtime, frames);

    // Each client is built once, and none goes through a proxy.
    let ssekit_client = ssekit_client::Client::new().expect("an ssekit client");
    let reqwest_client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let transport = launchdarkly_sdk_transport::HyperTransport::builder()
        .disable_proxy()
        .build_http()
        .expect("a hyper transport");
    let hyper_client: HyperClient =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = url.parse().expect("the server's URL is valid");
    let ld_client = ld::ClientBuilder::for_url(&url)
        .expect("the server's URL is valid")
        .reconnect(ld::ReconnectOptions::reconnect(false).build())
        .build_with_transport(transport);

    assert_eq!(
        runtime.block_on(hyper_body(&hyper_client, &uri)),
        wire.len()
    );
    assert_eq!(runtime.block_on(ssekit(&ssekit_client, &url)), expected);
    assert_eq!(
        runtime.block_on(reqwest_eventsource(&reqwest_client, &url)),
        expected,
        "reqwest-eventsource"
    );
    assert_eq!(
        runtime.block_on(eventsource_client(&ld_client)),
        expected,
        "eventsource-client"
    );

    let mut group = c.benchmark_group("client/tokens");
    group.throughput(Throughput::Elements(expected.events as u64));
    group.bench_function("ssekit", |b| {
        b.iter(|| runtime.block_on(ssekit(&ssekit_client, &url)));
    });
    group.bench_function("reqwest-eventsource", |b| {
        b.iter(|| runtime.block_on(reqwest_eventsource(&reqwest_client, &url)));
    });
    group.bench_function("eventsource-client", |b| {
        b.iter(|| runtime.block_on(eventsource_client(&ld_client)));
    });
    group.bench_function("hyper-body", |b| {
        b.iter(|| runtime.block_on(hyper_body(&hyper_client, &uri)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
        .sample_size(10);
    targets = client
}
criterion_main!(benches);
