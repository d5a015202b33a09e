//! Shows that the decoder's memory does not grow with the length of the stream.
//!
//! A counting global allocator tracks the live heap bytes and their peak. The `multiline`
//! corpus (events of 64 KiB in 80-byte `data:` lines) is fed 1, 10 and 100 times over in
//! 16 KiB chunks with `Decoder::feed`; each event is dropped as soon as it is decoded. For each length the program
//! prints the peak heap above what was live before decoding began, and the number of
//! allocations. Run it with `cargo run --release -p ssekit-benches --bin decode_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use ssekit_benches::corpus::{self, BENCH_SIZE};
use ssekit_codec::{Decoder, Frame};

/// The system allocator, counting live bytes, their peak, and allocation calls.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Relaxed);
}

// An allocator is unsafe to implement by definition; this one only forwards to `System` and
// keeps counts, never touching the memory itself.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, which got them from `System`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the new size is the caller's, passed on unchanged.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one run measured.
struct Run {
    stream_bytes: usize,
    events: usize,
    peak_above_baseline: usize,
    allocations: usize,
}

/// Decodes `chunks` `repeats` times over as one stream, dropping each event once its data has
/// been read.
fn run(chunks: &[&[u8]], repeats: usize) -> Run {
    let baseline = LIVE.load(Relaxed);
    PEAK.store(baseline, Relaxed);
    let allocations = ALLOCATIONS.load(Relaxed);

    let mut decoder = Decoder::new();
    let mut events = 0;
    let mut stream_bytes = 0;
    let mut data_bytes = 0;
    for _ in 0..repeats {
        for chunk in chunks {
            stream_bytes += chunk.len();
            decoder.feed(chunk);
            while let Some(frame) = decoder.next_frame().expect("decode error") {
                if let Frame::Event(event) = frame {
                    events += 1;
                    data_bytes += event.data().len();
                }
            }
        }
    }
    while decoder.finish().expect("decode error").is_some() {}
    drop(decoder);
    assert!(data_bytes > 0);

    Run {
        stream_bytes,
        events,
        peak_above_baseline: PEAK.load(Relaxed) - baseline,
        allocations: ALLOCATIONS.load(Relaxed) - allocations,
    }
}

fn main() {
    let corpus = corpus::multiline(BENCH_SIZE);
    let chunks: Vec<&[u8]> = corpus.bytes.chunks(16 * 1024).collect();
    println!(
        "decode_memory: the multiline corpus ({} bytes, {} events of {} KiB in {}-byte lines), \
         fed in 16 KiB chunks",
        corpus.bytes.len(),
        corpus.events,
        corpus::MULTILINE_TEXT / 1024,
        corpus::MULTILINE_LINE,
    );
    println!();
    println!("| repeats | stream bytes | events | peak heap above baseline | allocations |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for repeats in [1, 10, 100] {
        let run = run(&chunks, repeats);
        assert_eq!(run.events, corpus.events * repeats);
        println!(
            "| {repeats}x | {} | {} | {} bytes ({} KiB) | {} |",
            run.stream_bytes,
            run.events,
            run.peak_above_baseline,
            run.peak_above_baseline / 1024,
            run.allocations,
        );
    }
}
