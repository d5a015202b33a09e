//! The proxy's chunked-transfer decoder (`crates/ssekit-relay/src/proxy/chunked.rs`, included
//! as source: it depends on `std` only). Byte 0 chooses the mode; then comes a chunk plan
//! (`split_chunk_plan`) and the rest.
//!
//! - Even byte 0: the rest is an arbitrary body. Fed in the planned pieces, it must decode
//!   exactly as when fed whole: the same payload, the same end (done, needs more, or the same
//!   error) at the same offset. Each call consumes input or fails, and
//!   never yields more payload than it consumed.
//! - Odd byte 0: the rest is a list of chunk payloads separated by `0xFF`, encoded here with
//!   lower- or upper-case sizes, leading zeros and extensions chosen by byte 0; decoding the
//!   encoding, fed in the planned pieces, must give back the payloads and end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit_fuzz::{chunks, split_chunk_plan};

#[allow(dead_code)]
#[path = "../../crates/ssekit-relay/src/proxy/chunked.rs"]
mod chunked;

use chunked::{ChunkedDecoder, ChunkedError};

/// The payload, the end (`Ok(true)` done, `Ok(false)` needs more) and where it is: the number
/// of bytes consumed up to the end of the body or the offending byte.
type Decoded = (Vec<u8>, Result<bool, ChunkedError>, usize);

fn decode(pieces: &[&[u8]]) -> Decoded {
    let mut decoder = ChunkedDecoder::new();
    let mut payload = Vec::new();
    let mut buf = Vec::new();
    let mut offset = 0;
    for piece in pieces {
        buf.extend_from_slice(piece);
        while !buf.is_empty() && !decoder.is_done() {
            match decoder.decode_in_place(&mut buf) {
                Ok(d) => {
                    assert!(d.consumed > 0, "no progress on {buf:?}");
                    assert!(d.consumed <= buf.len());
                    assert!(d.payload <= d.consumed, "more payload than input");
                    payload.extend_from_slice(&buf[..d.payload]);
                    buf.drain(..d.consumed);
                    offset += d.consumed;
                }
                Err(e) => {
                    // The error stays.
                    assert_eq!(decoder.decode_in_place(&mut buf), Err(e));
                    return (payload, Err(e), offset);
                }
            }
        }
    }
    (payload, Ok(decoder.is_done()), offset)
}

fn encode(payloads: &[&[u8]], style: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let size_line = |out: &mut Vec<u8>, size: usize| {
        out.extend(std::iter::repeat_n(b'0', usize::from(style >> 1 & 3)));
        let digits = if style & 8 == 0 {
            format!("{size:x}")
        } else {
            format!("{size:X}")
        };
        out.extend_from_slice(digits.as_bytes());
        if style & 16 != 0 {
            out.extend_from_slice(b" ;a=\"b\"");
        }
        out.extend_from_slice(b"\r\n");
    };
    for payload in payloads.iter().filter(|p| !p.is_empty()) {
        size_line(&mut out, payload.len());
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
    }
    size_line(&mut out, 0);
    if style & 32 != 0 {
        out.extend_from_slice(b"x-trailer: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let Some((lengths, stream)) = split_chunk_plan(rest) else {
        return;
    };
    if mode & 1 == 0 {
        let pieces = chunks(stream, lengths);
        let whole = decode(&[stream]);
        let fed = decode(&pieces);
        assert_eq!(whole, fed, "pieces: {pieces:?}");
    } else {
        let payloads: Vec<&[u8]> = stream.split(|&b| b == 0xFF).collect();
        let body = encode(&payloads, mode);
        let (payload, end, offset) = decode(&chunks(&body, lengths));
        assert_eq!(payload, payloads.concat());
        assert_eq!(end, Ok(true));
        assert_eq!(offset, body.len());
    }
});
