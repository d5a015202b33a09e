//! The load generator: opens N SSE connections over loopback, reads every event, and measures
//! delivery latency from the send time each event carries.
//!
//! Usage: `loadgen --url http://127.0.0.1:PORT/sub --connections N --seconds S
//!         [--connect-rate PER_SEC] [--server-pid PID] [--rate EVENTS_PER_SEC]`
//! It connects at `--connect-rate` connections a second; once all are connected it measures for
//! `--seconds`: the events *sent* in that window (by the send time they carry) that arrive
//! (within a grace period after it), their latency, and with `--rate` the share delivered.
//! A stream the server ends early (a hub cuts off a subscriber that fell behind) is resumed
//! with `Last-Event-ID`, as a browser would, and counted in `resumed`.
//! With `--bulk true` it instead reads one stream to its end as fast as it comes and reports
//! events and bytes per second.
//! Prints one JSON object; with `--server-pid` it includes the server's memory per connection
//! (RSS before connecting and once all are connected).

// Statistics over counts and durations far below 2^52: the float casts lose nothing.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use ssekit_codec::{Decoder, Frame};
use ssekit_loadtest::{cpu_seconds, now_micros, rss_kib, sent_micros};
use ssekit_relay::{Proxy, ProxyBody};

#[derive(Default)]
struct Stats {
    /// Events received at any time.
    events: AtomicU64,
    /// Events sent inside the measurement window and received (before the window's end plus
    /// the grace period).
    in_window: AtomicU64,
    errors: AtomicU64,
    connected: AtomicU64,
    /// Times a stream ended early (the server cut it off) and was resumed with Last-Event-ID.
    resumed: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

/// The measurement window, in microseconds since the Unix epoch (send times). It opens once
/// every connection is up; 0 until then.
#[derive(Default)]
struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Window {
    fn contains(&self, sent: u64) -> bool {
        let start = self.start.load(Ordering::Relaxed);
        start != 0 && sent >= start && sent < self.end.load(Ordering::Relaxed)
    }
}

struct Args {
    url: String,
    connections: u64,
    seconds: f64,
    connect_rate: u64,
    server_pid: Option<u32>,
    rate: Option<f64>,
    bulk: bool,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        connections: 100,
        seconds: 10.0,
        connect_rate: 2000,
        server_pid: None,
        rate: None,
        bulk: false,
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
            "--bulk" => a.bulk = v.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.url.is_empty(), "--url is needed");
    a
}

/// Opens one stream (resuming after `last_event_id` if given); `None` on failure. The stream is
/// read through ssekit-relay's direct HTTP/1.1 exchange: the body reads its socket itself (no
/// connection task and no hand-off per chunk), which keeps the load generator's own cost per
/// event low, so that more of the machine is left to the server under test.
async fn open(url: &hyper::Uri, last_event_id: &str) -> Option<ProxyBody> {
    let proxy = Proxy::new(&format!("http://{}", url.authority()?)).ok()?;
    let target = url.path_and_query().map_or("/", |p| p.as_str());
    let mut request = hyper::Request::get(target);
    if !last_event_id.is_empty() {
        request = request.header("last-event-id", last_event_id);
    }
    let response = proxy
        .forward(request.body(Empty::<Bytes>::new()).ok()?)
        .await;
    response.status().is_success().then(|| response.into_body())
}

/// One subscriber: reads events until told to stop, resuming with Last-Event-ID when the server
/// ends the stream early.
async fn subscriber(
    url: hyper::Uri,
    stats: Arc<Stats>,
    window: Arc<Window>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut decoder = Decoder::new();
    let mut local = Vec::new();
    let mut first = true;
    while !*stop.borrow() {
        let last_id = decoder.last_event_id().into_owned();
        let Some(mut body) = open(&url, &last_id).await else {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            if first {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if first {
            stats.connected.fetch_add(1, Ordering::Relaxed);
            first = false;
        } else {
            stats.resumed.fetch_add(1, Ordering::Relaxed);
        }
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                _ = stop.changed() => break,
            };
            let Some(Ok(frame)) = frame else {
                break;
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            decoder.feed_bytes(data);
            let now = now_micros();
            let mut received = 0;
            while let Ok(Some(frame)) = decoder.next_frame() {
                if let Frame::Event(e) = frame {
                    received += 1;
                    if let Some(sent) = sent_micros(e.data()) {
                        if window.contains(sent) {
                            stats.in_window.fetch_add(1, Ordering::Relaxed);
                            local.push(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
                        }
                    }
                }
            }
            stats.events.fetch_add(received, Ordering::Relaxed);
        }
        while let Ok(Some(_)) = decoder.finish() {}
    }
    stats.latencies_us.lock().unwrap().extend(local);
}

/// How long after the window closes events sent inside it may still arrive.
const GRACE: Duration = Duration::from_secs(3);

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// `--bulk true`: reads one stream (such as bench-server's `/bulk?events=N&size=BYTES`) to
/// its end as fast as it comes, and reports the events and bytes per second.
async fn bulk(url: &hyper::Uri) -> serde_json::Value {
    let start = Instant::now();
    let Some(mut body) = open(url, "").await else {
        return serde_json::json!({ "error": "could not open the stream" });
    };
    let mut decoder = Decoder::new();
    let (mut events, mut bytes) = (0u64, 0u64);
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        bytes += data.len() as u64;
        decoder.feed_bytes(data);
        while let Ok(Some(frame)) = decoder.next_frame() {
            if matches!(frame, Frame::Event(_)) {
                events += 1;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    serde_json::json!({
        "events": events,
        "bytes": bytes,
        "seconds": seconds,
        "events_per_second": (events as f64 / seconds).round(),
        "mib_per_second": (bytes as f64 / seconds / 1_048_576.0 * 10.0).round() / 10.0,
    })
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.bulk {
        let url: hyper::Uri = args.url.parse().unwrap();
        println!("{}", runtime.block_on(bulk(&url)));
        return;
    }
    runtime.block_on(async move {
        let url: hyper::Uri = args.url.parse().unwrap();
        let stats = Arc::new(Stats::default());
        let window = Arc::new(Window::default());
        let before = args.server_pid.and_then(rss_kib);
        // Connecting may take a while; the window opens once all are connected, and every
        // stream then reads until the window has closed plus a grace period for late events.
        let connect_deadline = Instant::now()
            + Duration::from_secs_f64(args.connections as f64 / args.connect_rate as f64)
            + Duration::from_secs(30);
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let pause = Duration::from_secs_f64(1.0 / args.connect_rate as f64);
        let mut next = Instant::now();
        for _ in 0..args.connections {
            tasks.push(tokio::spawn(subscriber(
                url.clone(),
                Arc::clone(&stats),
                Arc::clone(&window),
                stop_rx.clone(),
            )));
            next += pause;
            tokio::time::sleep_until(next.into()).await;
        }
        while stats.connected.load(Ordering::Relaxed) + stats.errors.load(Ordering::Relaxed)
            < args.connections
            && Instant::now() < connect_deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let connect_seconds = started.elapsed().as_secs_f64();
        // Everyone is connected (or failed): the server's memory per connection, idle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = args.server_pid.and_then(rss_kib);
        let cpu_before = (args.server_pid.and_then(cpu_seconds), cpu_seconds(std::process::id()));
        let start = now_micros();
        window.end.store(start + (args.seconds * 1e6) as u64, Ordering::Relaxed);
        window.start.store(start, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
        let cpu_after = (args.server_pid.and_then(cpu_seconds), cpu_seconds(std::process::id()));
        tokio::time::sleep(GRACE).await;
        // CPU used during the window, as a share of one core.
        let cores = |before: Option<f64>, after: Option<f64>| match (before, after) {
            (Some(b), Some(a)) => Some(((a - b) / args.seconds * 100.0).round() / 100.0),
            _ => None,
        };
        stop.send_replace(true);
        for t in tasks {
            let _ = t.await;
        }
        let mut lat = std::mem::take(&mut *stats.latencies_us.lock().unwrap());
        lat.sort_unstable();
        let connected = stats.connected.load(Ordering::Relaxed);
        let in_window = stats.in_window.load(Ordering::Relaxed);
        let expected = args.rate.map(|r| (r * args.seconds * connected as f64).round());
        let report = serde_json::json!({
            "connections": args.connections,
            "connected": connected,
            "errors": stats.errors.load(Ordering::Relaxed),
            "resumed": stats.resumed.load(Ordering::Relaxed),
            "events": stats.events.load(Ordering::Relaxed),
            "connect_seconds": connect_seconds,
            "window_seconds": args.seconds,
            "in_window": in_window,
            "expected_in_window": expected,
            "delivered": expected.map(|e| in_window as f64 / e),
            "latency_ms": {
                "p50": percentile(&lat, 0.50), "p90": percentile(&lat, 0.90),
                "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0),
            },
            "cpu_cores": {
                "server": cores(cpu_before.0, cpu_after.0),
                "loadgen": cores(cpu_before.1, cpu_after.1),
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
