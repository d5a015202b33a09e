//! Decoder throughput: ssekit beside three decoders from crates.io and a `memchr2` scan, one
//! criterion group per corpus and chunk size (`decode/<corpus>/<chunk>`), in input bytes per
//! second.
//!
//! Before anything is timed, every decoder is checked to see the same events as ssekit.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_benches::decoders::{self, PEERS};

/// The chunk sizes, with their labels: a full network read, and a trickle.
const CHUNK_SIZES: [(usize, &str); 2] = [(16 * 1024, "16KiB"), (64, "64B")];

fn decode(c: &mut Criterion) {
    for corpus in corpus::all(BENCH_SIZE) {
        for (size, label) in CHUNK_SIZES {
            let chunks = decoders::chunks(&corpus.bytes, size);
            let expected = decoders::ssekit(&chunks);
            assert_eq!(expected.events, corpus.events, "ssekit on {}", corpus.name);
            assert_eq!(decoders::ssekit_copy(&chunks), expected, "ssekit-copy");
            for (name, decode) in PEERS {
                assert_eq!(decode(&chunks), expected, "{name} on {}", corpus.name);
            }

            let mut group = c.benchmark_group(format!("decode/{}/{label}", corpus.name));
            group.throughput(Throughput::Bytes(corpus.bytes.len() as u64));
            group.bench_function("ssekit", |b| {
                b.iter(|| decoders::ssekit(black_box(&chunks)));
            });
            group.bench_function("ssekit-copy", |b| {
                b.iter(|| decoders::ssekit_copy(black_box(&chunks)));
            });
            group.bench_function("memchr2_scan", |b| {
                b.iter(|| decoders::memchr2_scan(black_box(&chunks)));
            });
            for (name, decode) in PEERS {
                group.bench_function(name, |b| b.iter(|| decode(black_box(&chunks))));
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = decode
}
criterion_main!(benches);
