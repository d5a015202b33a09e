//! The load generator: opens N SSE connections over loopback, reads every event, and measures
//! delivery latency from the send time each event carries.
//!
//! Usage: `loadgen --url http://127.0.0.1:PORT/sub --connections N --seconds S
//!         [--connect-rate PER_SEC] [--server-pid PID] [--rate EVENTS_PER_SEC]`
//! Prints one JSON object: connections, events, the expected events (when `--rate` is given),
//! latency percentiles in ms, errors, and with `--server-pid` the server's memory per idle
//! connection (RSS before connecting and once all are connected, before any event).

// Statistics over counts and durations far below 2^52: the float casts lose nothing.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use ssekit_codec::{Decoder, Frame};
use ssekit_loadtest::{now_micros, rss_kib, sent_micros};

#[derive(Default)]
struct Stats {
    events: AtomicU64,
    errors: AtomicU64,
    connected: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

struct Args {
    url: String,
    connections: u64,
    seconds: f64,
    connect_rate: u64,
    server_pid: Option<u32>,
    rate: Option<f64>,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        connections: 100,
        seconds: 10.0,
        connect_rate: 2000,
        server_pid: None,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = v,
            "--connections" => a.connections = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--connect-rate" => a.connect_rate = v.parse().unwrap(),
            "--server-pid" => a.server_pid = Some(v.parse().unwrap()),
            "--rate" => a.rate = Some(v.parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.url.is_empty(), "--url is needed");
    a
}

async fn subscriber(url: hyper::Uri, stats: Arc<Stats>, until: Instant) {
    let authority = url.authority().unwrap().as_str().to_owned();
    let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Ok((mut send, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    tokio::spawn(conn);
    let request = hyper::Request::get(url.path())
        .header("host", authority)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let Ok(response) = send.send_request(request).await else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let mut body = response.into_body();
    let mut decoder = Decoder::new();
    let mut local = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until.into(), body.frame()).await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        decoder.feed_bytes(data);
        let now = now_micros();
        while let Ok(Some(frame)) = decoder.next_frame() {
            if let Frame::Event(e) = frame {
                stats.events.fetch_add(1, Ordering::Relaxed);
                if let Some(sent) = sent_micros(e.data()) {
                    local.push(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
                }
            }
        }
    }
    stats.latencies_us.lock().unwrap().extend(local);
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let url: hyper::Uri = args.url.parse().unwrap();
        let stats = Arc::new(Stats::default());
        let before = args.server_pid.and_then(rss_kib);
        let connect_time = Duration::from_secs_f64(args.connections as f64 / args.connect_rate as f64);
        let until = Instant::now() + connect_time + Duration::from_secs_f64(args.seconds) + Duration::from_secs(2);
        let mut tasks = Vec::new();
        let pause = Duration::from_secs_f64(1.0 / args.connect_rate as f64);
        for _ in 0..args.connections {
            tasks.push(tokio::spawn(subscriber(url.clone(), Arc::clone(&stats), until)));
            tokio::time::sleep(pause).await;
        }
        // Everyone connected (or failed): the server's memory per connection, while idle.
        let settle = Instant::now() + Duration::from_secs(10);
        while stats.connected.load(Ordering::Relaxed) + stats.errors.load(Ordering::Relaxed) < args.connections
            && Instant::now() < settle
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = args.server_pid.and_then(rss_kib);
        let measured_from = Instant::now();
        let events_at_start = stats.events.load(Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        let elapsed = measured_from.elapsed().as_secs_f64();
        let mut lat = std::mem::take(&mut *stats.latencies_us.lock().unwrap());
        lat.sort_unstable();
        let connected = stats.connected.load(Ordering::Relaxed);
        let events = stats.events.load(Ordering::Relaxed);
        let report = serde_json::json!({
            "connections": args.connections,
            "connected": connected,
            "errors": stats.errors.load(Ordering::Relaxed),
            "events": events,
            "events_after_connect": events - events_at_start,
            "seconds_after_connect": elapsed,
            "expected_after_connect": args.rate.map(|r| (r * elapsed * connected as f64).round()),
            "latency_ms": {
                "p50": percentile(&lat, 0.50), "p90": percentile(&lat, 0.90),
                "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0),
            },
            "server_rss_kib": { "before": before, "connected": after },
            "server_kib_per_connection": match (before, after) {
                (Some(b), Some(a)) if connected > 0 => Some((a.saturating_sub(b)) as f64 / connected as f64),
                _ => None,
            },
        });
        println!("{report}");
    });
}
