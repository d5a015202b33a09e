//! The contestants: ssekit's decoder, three decoders from crates.io, and a line-break scan that
//! sets the floor.
//!
//! Each decoder takes the same chunks, built once as separate [`Bytes`] buffers as network reads
//! arrive, and reads every event's data, so the work cannot be skipped; the [`Tally`] it returns
//! lets the benchmarks check that all of them saw the same events. Every contestant that takes
//! ownership of a chunk gets a clone of the `Bytes` (a reference count, not a copy). The peers
//! are stream adapters: each is polled inside one `futures::executor::block_on` over an
//! in-memory stream of the chunks, which never returns `Pending`.

use std::convert::Infallible;

use bytes::Bytes;
use futures::executor::block_on;
use futures::StreamExt as _;
use futures_codec::Decoder as _;

/// What a decoder saw: the number of message events and the total length of their data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Message events with non-empty data.
    pub events: usize,
    /// The sum of their data lengths in bytes.
    pub data_bytes: usize,
}

impl Tally {
    /// Counts one event's data; empty data is not an event (no decoder dispatches it).
    pub fn add(&mut self, data: &str) {
        if !data.is_empty() {
            self.events += 1;
            self.data_bytes += data.len();
        }
    }
}

/// A decoder under test.
pub type DecodeFn = fn(&[Bytes]) -> Tally;

/// The decoders from crates.io, by the name used in benchmark ids.
pub const PEERS: [(&str, DecodeFn); 3] = [
    ("sse-stream", sse_stream),
    ("eventsource-stream", eventsource_stream),
    ("sse-codec", sse_codec),
];

/// Splits `bytes` into chunks of `size` bytes (the last may be shorter), each in a buffer of
/// its own.
pub fn chunks(bytes: &[u8], size: usize) -> Vec<Bytes> {
    bytes.chunks(size).map(Bytes::copy_from_slice).collect()
}

/// The floor: counts CR and LF bytes with `memchr2`, the search every decoder must do at least.
pub fn memchr2_scan(chunks: &[Bytes]) -> usize {
    chunks
        .iter()
        .map(|chunk| memchr::memchr2_iter(b'\r', b'\n', chunk).count())
        .sum()
}

/// ssekit: `Decoder::feed_bytes` each chunk (no copy), then `next_frame` until it needs more
/// input. This is the path of `Decoder::decode` and so of the tokio codec.
pub fn ssekit(chunks: &[Bytes]) -> Tally {
    ssekit_with(chunks, |decoder, chunk| decoder.feed_bytes(chunk.clone()))
}

/// ssekit fed by `Decoder::feed(&[u8])`, which copies each chunk.
pub fn ssekit_copy(chunks: &[Bytes]) -> Tally {
    ssekit_with(chunks, |decoder, chunk| decoder.feed(chunk))
}

fn ssekit_with(chunks: &[Bytes], feed: impl Fn(&mut ssekit_codec::Decoder, &Bytes)) -> Tally {
    use ssekit_codec::{Decoder, Frame};

    let mut decoder = Decoder::new();
    let mut tally = Tally::default();
    let mut take = |frame: Frame| {
        if let Frame::Event(event) = frame {
            tally.add(event.data());
        }
    };
    for chunk in chunks {
        feed(&mut decoder, chunk);
        while let Some(frame) = decoder.next_frame().expect("ssekit: decode error") {
            take(frame);
        }
    }
    while let Some(frame) = decoder.finish().expect("ssekit: decode error") {
        take(frame);
    }
    tally
}

/// `sse-stream`: `SseByteStream` over a stream of the chunks.
pub fn sse_stream(chunks: &[Bytes]) -> Tally {
    let input = futures::stream::iter(
        chunks
            .iter()
            .map(|chunk| Ok::<_, Infallible>(chunk.clone())),
    );
    let mut blocks = sse_stream::SseByteStream::new(input);
    let mut tally = Tally::default();
    block_on(async {
        while let Some(item) = blocks.next().await {
            let block = item.expect("sse-stream: decode error");
            // Blocks without data (only `retry:`, say) are not events.
            if let Some(data) = &block.data {
                tally.add(data);
            }
        }
    });
    tally
}

/// `eventsource-stream`: the `Eventsource::eventsource` adapter over a stream of the chunks.
pub fn eventsource_stream(chunks: &[Bytes]) -> Tally {
    use eventsource_stream::Eventsource as _;

    let input = futures::stream::iter(
        chunks
            .iter()
            .map(|chunk| Ok::<_, Infallible>(chunk.clone())),
    );
    let mut events = input.eventsource();
    let mut tally = Tally::default();
    block_on(async {
        while let Some(item) = events.next().await {
            tally.add(&item.expect("eventsource-stream: decode error").data);
        }
    });
    tally
}

/// `sse-codec`: its `futures_codec::Decoder` driven directly over a `BytesMut`, as a
/// `FramedRead` would drive it but without the `AsyncRead` plumbing around it.
pub fn sse_codec(chunks: &[Bytes]) -> Tally {
    let mut codec = sse_codec::SSECodec::default();
    let mut buf = bytes::BytesMut::new();
    let mut tally = Tally::default();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(event) = codec.decode(&mut buf).expect("sse-codec: decode error") {
            if let sse_codec::Event::Message { data, .. } = event {
                tally.add(&data);
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus;

    /// Small corpora keep the debug-mode test quick; `multiline` still gets two events.
    const TEST_SIZE: usize = 96 * 1024;

    #[test]
    fn every_decoder_sees_every_event() {
        for corpus in corpus::all(TEST_SIZE) {
            let whole = ssekit(&[Bytes::copy_from_slice(&corpus.bytes)]);
            assert_eq!(whole.events, corpus.events, "ssekit on {}", corpus.name);
            for size in [1, 7, 64, 16 * 1024] {
                let chunks = chunks(&corpus.bytes, size);
                assert_eq!(ssekit(&chunks), whole, "ssekit on {} / {size}", corpus.name);
                let copied = ssekit_copy(&chunks);
                assert_eq!(copied, whole, "ssekit_copy on {} / {size}", corpus.name);
                for (name, decode) in PEERS {
                    assert_eq!(decode(&chunks), whole, "{name} on {} / {size}", corpus.name);
                }
            }
        }
    }

    #[test]
    fn memchr2_scan_counts_line_breaks() {
        let chunks = [Bytes::from_static(b"a\r\nb"), Bytes::from_static(b"\rc\n")];
        assert_eq!(memchr2_scan(&chunks), 4);
    }
}
