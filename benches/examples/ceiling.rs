//! A ceiling for decoding speed: a deliberately minimal SSE decoder, timed beside ssekit and
//! the peers of the decode benchmark on the same chunks.
//!
//! Usage: `ceiling CORPUS CHUNK_BYTES [PASSES] [ROUNDS]`, for example `ceiling mixed 16384`.
//! Each round times `PASSES` passes of every contestant in turn; the best round counts.
//!
//! **The minimal decoder is not a decoder to use.** It does what the bench corpora need and
//! no more: lines end at LF, CR or CRLF (also split between chunks), `data`, `event`, `id` and
//! `retry` are read, comments and unknown fields skipped, and events are dispatched at blank
//! lines with data as a slice of the chunk (one line) or a copy (several). It has no limits,
//! no BOM handling, no UTF-8 handling of values (each chunk is only scanned, at about what a
//! check costs), no comments as frames, and event types and ids longer than 23 bytes are
//! dropped. It exists to answer one question: how fast could a decoder go that reads the
//! same lines and hands over the same owned events, without the rest of the spec and without
//! ssekit's shortcuts? It is driven two ways:
//! - `minimal-push`: every event of a chunk goes to a closure inside the decoding loop;
//! - `minimal-pull`: `next()` returns one event at a time, as `ssekit::Decoder::next_frame`
//!   and the tokio codec do.
//!
//! The peers are those of the decode benchmark but eventsource-stream, which is never the
//! fastest and the slowest to run. Before timing, every contestant is checked to see the events
//! ssekit sees.

use std::env;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_benches::decoders::{self, DecodeFn, Tally, PEERS};

/// A short value, copied.
#[allow(dead_code)] // built and moved, not read (see `Event`)
#[derive(Clone, Copy, Debug, Default)]
struct Small {
    len: u8,
    buf: [u8; 23],
}

impl Small {
    fn new(value: &[u8]) -> Option<Small> {
        let mut small = Small {
            len: u8::try_from(value.len()).ok()?,
            buf: [0; 23],
        };
        small.buf.get_mut(..value.len())?.copy_from_slice(value);
        Some(small)
    }
}

/// An event as the minimal decoder hands it over: owned, like ssekit's. Only `data` is read,
/// as the benchmark reads only ssekit's data; the rest is built and moved all the same.
#[allow(dead_code)]
#[derive(Debug)]
struct Event {
    data: Bytes,
    event_type: Option<Small>,
    id: Small,
    retry: Option<u64>,
}

/// The data of the event being built.
enum Data {
    Empty,
    /// One line: `chunk[start..end]`.
    One(usize, usize),
    /// Several lines, joined with LF.
    Many(BytesMut),
}

struct Minimal {
    chunk: Bytes,
    pos: usize,
    data: Data,
    event_type: Option<Small>,
    id: Small,
    retry: Option<u64>,
    /// The start of a line that the last chunk ended inside.
    carry: BytesMut,
    /// Where the data of several lines is joined; events' data is split off it.
    arena: BytesMut,
    /// The last chunk ended with a CR: an LF at the start of the next is part of that line end.
    skip_lf: bool,
}

impl Minimal {
    fn new() -> Self {
        Minimal {
            chunk: Bytes::new(),
            pos: 0,
            data: Data::Empty,
            event_type: None,
            id: Small::default(),
            retry: None,
            carry: BytesMut::new(),
            arena: BytesMut::new(),
            skip_lf: false,
        }
    }

    #[inline(never)]
    fn feed(&mut self, chunk: Bytes) {
        // A line of data still in the old chunk is copied before the chunk is replaced.
        if let Data::One(start, end) = self.data {
            self.join_first(start, end);
        }
        // Stands in for a UTF-8 check of the chunk.
        black_box(chunk.is_ascii() || std::str::from_utf8(&chunk).is_ok());
        let mut from = 0;
        if std::mem::take(&mut self.skip_lf) && chunk.first() == Some(&b'\n') {
            from = 1;
        }
        if self.carry.is_empty() {
            self.chunk = chunk;
            self.pos = from;
        } else {
            if self.carry.capacity() - self.carry.len() < chunk.len() {
                self.carry.reserve(4096);
            }
            self.carry.extend_from_slice(&chunk[from..]);
            if memchr::memchr2(b'\r', b'\n', &chunk[from..]).is_some() {
                self.chunk = self.carry.split().freeze();
            } else {
                self.chunk = Bytes::new();
            }
            self.pos = 0;
        }
    }

    /// Moves one line of data, `chunk[start..end]`, into the arena, so that more can be added.
    fn join_first(&mut self, start: usize, end: usize) {
        let mut joined = std::mem::take(&mut self.arena);
        if joined.capacity() < 1024 {
            joined.reserve(4096);
        }
        joined.extend_from_slice(&self.chunk[start..end]);
        self.data = Data::Many(joined);
    }

    /// Decodes lines until the chunk is used up or `out` returns `false`. Inlined into each
    /// way of driving it, so that `out` is inlined too.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn run(&mut self, mut out: impl FnMut(Event) -> bool) {
        let len = self.chunk.len();
        let mut pos = self.pos;
        while pos < len {
            let buf = &self.chunk[..];
            let Some(found) = memchr::memchr2(b'\r', b'\n', &buf[pos..]) else {
                self.carry.extend_from_slice(&buf[pos..]);
                pos = len;
                break;
            };
            let end = pos + found;
            let mut next = end + 1;
            if buf[end] == b'\r' {
                match buf.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let line = &buf[pos..end];
            if line.is_empty() {
                let data = match std::mem::replace(&mut self.data, Data::Empty) {
                    Data::Empty => {
                        self.event_type = None;
                        pos = next;
                        continue;
                    }
                    Data::One(start, end) => self.chunk.slice(start..end),
                    Data::Many(mut joined) => {
                        let data = joined.split().freeze();
                        self.arena = joined;
                        data
                    }
                };
                let event = Event {
                    data,
                    event_type: self.event_type.take(),
                    id: self.id,
                    retry: self.retry,
                };
                pos = next;
                if !out(event) {
                    break;
                }
                continue;
            }
            if let Some(value) = line.strip_prefix(b"data:") {
                let start = end - value.strip_prefix(b" ").unwrap_or(value).len();
                match &mut self.data {
                    Data::Empty => self.data = Data::One(start, end),
                    Data::One(first_start, first_end) => {
                        let (first_start, first_end) = (*first_start, *first_end);
                        self.join_first(first_start, first_end);
                        if let Data::Many(joined) = &mut self.data {
                            joined.put_u8(b'\n');
                            joined.extend_from_slice(&self.chunk[start..end]);
                        }
                    }
                    Data::Many(joined) => {
                        joined.put_u8(b'\n');
                        joined.extend_from_slice(&buf[start..end]);
                    }
                }
            } else if line[0] != b':' {
                let (name, value) = match memchr::memchr(b':', line) {
                    Some(colon) => {
                        let value = &line[colon + 1..];
                        (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                    }
                    None => (line, &b""[..]),
                };
                match name {
                    b"event" => self.event_type = Small::new(value),
                    b"id" if !value.contains(&0) => self.id = Small::new(value).unwrap_or_default(),
                    b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                        self.retry = Some(value.iter().fold(0u64, |n, d| {
                            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
                        }));
                    }
                    _ => {}
                }
            }
            pos = next;
        }
        self.pos = pos;
    }

    /// The next event, or `None` when the chunk is used up. (Inlined into the caller's loop it
    /// was no faster: measured.)
    #[inline(never)]
    fn next(&mut self) -> Option<Event> {
        let mut slot = None;
        self.run(|event| {
            slot = Some(event);
            false
        });
        slot
    }

    /// Hands every event of the chunk to `each`.
    #[inline(never)]
    fn drain(&mut self, mut each: impl FnMut(Event)) {
        self.run(|event| {
            each(event);
            true
        });
    }
}

fn count(tally: &mut Tally, event: &Event) {
    if !event.data.is_empty() {
        tally.events += 1;
        tally.data_bytes += event.data.len();
    }
    black_box(event);
}

fn minimal_push(chunks: &[Bytes]) -> Tally {
    let mut decoder = Minimal::new();
    let mut tally = Tally::default();
    for chunk in chunks {
        decoder.feed(chunk.clone());
        decoder.drain(|event| count(&mut tally, &event));
    }
    tally
}

fn minimal_pull(chunks: &[Bytes]) -> Tally {
    let mut decoder = Minimal::new();
    let mut tally = Tally::default();
    for chunk in chunks {
        decoder.feed(chunk.clone());
        while let Some(event) = decoder.next() {
            count(&mut tally, &event);
        }
    }
    tally
}

fn minimal_batch(chunks: &[Bytes]) -> Tally {
    let mut decoder = Minimal::new();
    let mut queue = std::collections::VecDeque::with_capacity(64);
    let mut tally = Tally::default();
    for chunk in chunks {
        decoder.feed(chunk.clone());
        decoder.drain(|event| queue.push_back(event));
        while let Some(event) = queue.pop_front() {
            count(&mut tally, &event);
        }
    }
    tally
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let usage = "usage: ceiling CORPUS CHUNK_BYTES [PASSES] [ROUNDS]";
    let [name, size, rest @ ..] = &args[..] else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let corpus = corpus::named(name, BENCH_SIZE).unwrap_or_else(|| panic!("no corpus {name}"));
    let size: usize = size.parse().expect(usage);
    let passes: u32 = rest.first().map_or(10, |n| n.parse().expect(usage));
    let rounds: u32 = rest.get(1).map_or(5, |n| n.parse().expect(usage));
    let chunks = decoders::chunks(&corpus.bytes, size);

    let mut contestants: Vec<(&str, DecodeFn)> = vec![
        ("minimal-push", minimal_push),
        ("minimal-pull", minimal_pull),
        ("minimal-batch", minimal_batch),
        ("ssekit", decoders::ssekit),
    ];
    let first_peer = contestants.len();
    contestants.extend(
        PEERS
            .iter()
            .copied()
            .filter(|(n, _)| *n != "eventsource-stream"),
    );
    let expected = decoders::ssekit(&chunks);
    for (who, decode) in &contestants {
        assert_eq!(decode(&chunks), expected, "{who} on {name} / {size}");
    }

    let mut best = vec![Duration::MAX; contestants.len()];
    for _ in 0..rounds {
        for ((_, decode), best) in contestants.iter().zip(&mut best) {
            let start = Instant::now();
            for _ in 0..passes {
                black_box(decode(black_box(&chunks)));
            }
            *best = (*best).min(start.elapsed() / passes);
        }
    }
    let peer = best[first_peer..]
        .iter()
        .min()
        .copied()
        .unwrap_or(Duration::MAX);
    print!("{name} {size}:");
    for ((who, _), time) in contestants.iter().zip(&best) {
        let ratio = peer.as_secs_f64() / time.as_secs_f64();
        print!("  {who} {} us ({ratio:.2})", time.as_micros());
    }
    println!();
}
