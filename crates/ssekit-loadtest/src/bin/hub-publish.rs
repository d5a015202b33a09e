//! Publish throughput into one topic with many subscribers, in one process (no network): the
//! publisher publishes `--events` events as fast as it can while `--subscribers` tasks read
//! them; it reports how fast events were published and how fast every subscriber had them all.
//!
//! Usage: `hub-publish --impl ssekit|broadcast --subscribers 1000 --events 100000 [--pad 100]
//!         [--queue 1000000]`
//! - `ssekit`: `Hub::publish` (encodes once, appends to the topic's log) and `Subscription`s.
//! - `broadcast`: the idiomatic axum peer of the bench server: a `tokio::sync::broadcast`
//!   channel of `String`s, and per subscriber an axum `Sse` body that formats each event.
//!
//! Each subscriber task reads its response body (`SseBody` or axum's) as a server would, and
//! counts the events in the bytes.
//!
//! `--queue` is the hub's per-subscriber allowance and the broadcast channel's capacity; the
//! default is large enough that nobody is cut off or skipped, so the figure is the fan-out
//! throughput; a smaller one shows how many subscribers a flat-out publisher leaves behind.
//! Prints one JSON object.

// Rates over counts far below 2^52: the float casts lose nothing.
#![allow(clippy::cast_precision_loss)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ssekit_loadtest::payload;
use ssekit_server::{Hub, HubConfig};

struct Args {
    implementation: String,
    subscribers: usize,
    events: u64,
    pad: usize,
    queue: usize,
}

fn args() -> Args {
    let mut a = Args {
        implementation: "ssekit".into(),
        subscribers: 1000,
        events: 100_000,
        pad: 100,
        queue: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--impl" => a.implementation = v,
            "--subscribers" => a.subscribers = v.parse().expect("--subscribers N"),
            "--events" => a.events = v.parse().expect("--events N"),
            "--pad" => a.pad = v.parse().expect("--pad BYTES"),
            "--queue" => a.queue = v.parse().expect("--queue N"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Counts the events in encoded bytes (each ends with a blank line).
fn count_events(bytes: &[u8]) -> u64 {
    memchr::memmem::find_iter(bytes, b"\n\n").count() as u64
}

#[derive(Default)]
struct Tally {
    /// Events received, over all subscribers.
    received: AtomicU64,
    /// Subscribers whose stream ended early (cut off) or that skipped events (lagged).
    left_behind: AtomicU64,
}

/// A subscriber: reads its response body to the end, counting events.
fn drain<B>(mut body: B, tally: Arc<Tally>, events: u64) -> tokio::task::JoinHandle<()>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
{
    tokio::spawn(async move {
        let mut got = 0;
        while let Some(Ok(frame)) = http_body_util::BodyExt::frame(&mut body).await {
            if let Ok(data) = frame.into_data() {
                got += count_events(&data);
            }
        }
        if got < events {
            tally.left_behind.fetch_add(1, Ordering::Relaxed);
        }
        tally.received.fetch_add(got, Ordering::Relaxed);
    })
}

async fn ssekit(a: &Args, tally: &Arc<Tally>) -> (f64, Vec<tokio::task::JoinHandle<()>>) {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_events(16)
            .with_queue(a.queue),
    );
    let tasks = (0..a.subscribers)
        .map(|_| {
            let body = hub.subscribe("t", None).expect("a valid topic").into_body();
            drain(body, Arc::clone(tally), a.events)
        })
        .collect();
    let data = payload(a.pad);
    let start = Instant::now();
    for i in 0..a.events {
        hub.publish("t", None, &data).expect("publish");
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    hub.close_topic("t"); // the streams end after their last event
    (seconds, tasks)
}

async fn broadcast(a: &Args, tally: &Arc<Tally>) -> (f64, Vec<tokio::task::JoinHandle<()>>) {
    use axum::response::sse::{Event, Sse};
    use axum::response::IntoResponse as _;
    let (tx, _) = tokio::sync::broadcast::channel::<String>(a.queue);
    let tasks = (0..a.subscribers)
        .map(|_| {
            // The same stream as the bench server's axum peer.
            let stream = futures_util::stream::unfold(tx.subscribe(), |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(data) => {
                            return Some((
                                Ok::<_, std::convert::Infallible>(Event::default().data(data)),
                                rx,
                            ))
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            let body = Sse::new(stream).into_response().into_body();
            drain(body, Arc::clone(tally), a.events)
        })
        .collect();
    let data = payload(a.pad);
    let start = Instant::now();
    for i in 0..a.events {
        let _ = tx.send(data.clone());
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(tx); // the streams end after their last event
    (seconds, tasks)
}

fn main() {
    let a = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let tally = Arc::new(Tally::default());
        let start = Instant::now();
        let (publish_seconds, tasks) = match a.implementation.as_str() {
            "ssekit" => ssekit(&a, &tally).await,
            "broadcast" => broadcast(&a, &tally).await,
            other => panic!("--impl ssekit|broadcast, not {other}"),
        };
        for t in tasks {
            t.await.expect("a subscriber task");
        }
        let all_seconds = start.elapsed().as_secs_f64();
        let received = tally.received.load(Ordering::Relaxed);
        let report = serde_json::json!({
            "impl": a.implementation,
            "subscribers": a.subscribers,
            "events": a.events,
            "publish_seconds": publish_seconds,
            "published_per_second": (a.events as f64 / publish_seconds).round(),
            "all_delivered_seconds": all_seconds,
            "deliveries_per_second": (received as f64 / all_seconds).round(),
            "received": received,
            "expected": a.events * a.subscribers as u64,
            "subscribers_left_behind": tally.left_behind.load(Ordering::Relaxed),
        });
        println!("{report}");
    });
}
