//! Encoder throughput, in events and output bytes per second: ssekit's `Encoder` beside two
//! baselines that split data on `\n` only (so they do less than the encoder, which also splits
//! on `\r` and `\r\n`): one copying slices, one going through `std::fmt`.
//!
//! Groups: `encode/tokens` (the `tokens` corpus's events) and `encode/multiline` (events of
//! 64 KiB in 80-byte lines, with an id).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_codec::{Encoder, Event, EventId};

/// Writes `events` with ssekit's encoder into `out`.
fn ssekit(events: &[Event], out: &mut BytesMut) {
    out.clear();
    let encoder = Encoder::new();
    for event in events {
        encoder.encode_event(event, out);
    }
}

/// The least a writer can do: `id:` if set, one `data:` line per `\n`-separated piece, a blank
/// line; no reservation up front.
fn naive_split(events: &[Event], out: &mut Vec<u8>) {
    out.clear();
    for event in events {
        if let Some(id) = event.id() {
            out.extend_from_slice(b"id: ");
            out.extend_from_slice(id.as_bytes());
            out.push(b'\n');
        }
        for line in event.data().split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
}

/// The same output through `std::fmt`, as several SSE crates write it.
fn fmt_write(events: &[Event], out: &mut String) {
    out.clear();
    for event in events {
        if let Some(id) = event.id() {
            let _ = writeln!(out, "id: {id}");
        }
        for line in event.data().split('\n') {
            let _ = writeln!(out, "data: {line}");
        }
        out.push('\n');
    }
}

fn bench_events(c: &mut Criterion, name: &str, events: &[Event]) {
    let mut encoded = BytesMut::new();
    ssekit(events, &mut encoded);
    let mut naive = Vec::new();
    naive_split(events, &mut naive);
    let mut formatted = String::new();
    fmt_write(events, &mut formatted);
    assert_eq!(&encoded[..], &naive[..], "{name}: naive_split differs");
    assert_eq!(
        &encoded[..],
        formatted.as_bytes(),
        "{name}: fmt_write differs"
    );

    let mut group = c.benchmark_group(format!("encode/{name}"));
    group.throughput(Throughput::ElementsAndBytes {
        elements: events.len() as u64,
        bytes: encoded.len() as u64,
    });
    group.bench_function("ssekit", |b| {
        b.iter(|| ssekit(black_box(events), &mut encoded));
    });
    group.bench_function("naive_split", |b| {
        b.iter(|| naive_split(black_box(events), &mut naive));
    });
    group.bench_function("fmt_write", |b| {
        b.iter(|| fmt_write(black_box(events), &mut formatted));
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let tokens: Vec<Event> = corpus::token_payloads(BENCH_SIZE)
        .into_iter()
        .map(Event::new)
        .collect();
    let mut wire = BytesMut::new();
    ssekit(&tokens, &mut wire);
    assert_eq!(&wire[..], &corpus::tokens(BENCH_SIZE).bytes[..]);
    bench_events(c, "tokens", &tokens);

    let multiline: Vec<Event> = (0..32)
        .map(|n| {
            let id = EventId::new(n.to_string()).expect("digits are a valid id");
            Event::new(corpus::multiline_payload(n)).with_id(id)
        })
        .collect();
    bench_events(c, "multiline", &multiline);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = encode
}
criterion_main!(benches);
