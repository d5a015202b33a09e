//! A small driver for profilers (`valgrind --tool=callgrind`, `perf record`): decodes one corpus
//! with one contestant, in chunks of one size, a number of times.
//!
//! Usage: `profile_decode CORPUS CHUNK_BYTES REPEATS [CONTESTANT]`, for example
//! `profile_decode tokens 16384 20 ssekit`. Contestants: `ssekit` (the default), `ssekit-copy`,
//! `memchr2_scan`, and the peers of the decode benchmark.

use std::env;
use std::hint::black_box;

use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_benches::decoders::{self, DecodeFn, PEERS};

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let usage = "usage: profile_decode CORPUS CHUNK_BYTES REPEATS [CONTESTANT]";
    let [name, size, repeats, rest @ ..] = &args[..] else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let corpus =
        corpus::named(name, BENCH_SIZE).unwrap_or_else(|| panic!("no corpus named {name}"));
    let size: usize = size.parse().expect(usage);
    let repeats: usize = repeats.parse().expect(usage);
    let contestant = rest.first().map_or("ssekit", String::as_str);
    let chunks = decoders::chunks(&corpus.bytes, size);
    let decode: DecodeFn = match contestant {
        "ssekit" => decoders::ssekit,
        "ssekit-copy" => decoders::ssekit_copy,
        "memchr2_scan" => |chunks| decoders::Tally {
            events: decoders::memchr2_scan(chunks),
            data_bytes: 0,
        },
        other => {
            PEERS
                .iter()
                .find(|(peer, _)| *peer == other)
                .unwrap_or_else(|| panic!("no contestant named {other}"))
                .1
        }
    };
    let mut last = decoders::Tally::default();
    for _ in 0..repeats {
        last = decode(black_box(&chunks));
    }
    println!("{contestant} on {name} in {size}-byte chunks, {repeats} times: {last:?}");
}
