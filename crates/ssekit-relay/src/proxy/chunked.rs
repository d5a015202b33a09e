//! An incremental decoder of HTTP/1.1 chunked transfer coding (RFC 9112 § 7.1), sans I/O.
//!
//! The decoder keeps no input bytes: its state is a few integers, so a chunk-size line, a CRLF
//! or a trailer may be split across reads at any byte. It decodes in place: the payload bytes of
//! a buffer are moved to its front, over the framing, so that the caller hands them on as one
//! slice without another copy. Chunk extensions and trailers are skipped; the lengths of the
//! size line and of the trailer section are bounded. Line ends must be CRLF (a bare LF or CR is
//! an error: accepting it is how request smuggling starts).
//!
//! This file depends on `std` only: the fuzz target `proxy_chunked` includes it with
//! `#[path]`, so keep it free of other crates and of `crate::` paths.

use core::fmt;

/// The longest chunk-size line accepted, extensions included, without its CRLF.
pub(crate) const MAX_SIZE_LINE: usize = 4096;
/// The most bytes accepted in the trailer section, CRLFs included.
pub(crate) const MAX_TRAILERS: usize = 64 * 1024;

/// Why a chunked body is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkedError {
    /// A chunk-size line does not start with a hex digit, or holds a byte that is neither a hex
    /// digit, whitespace before an extension, `;` nor CR.
    BadSize,
    /// The chunk size does not fit in 64 bits.
    SizeOverflow,
    /// A chunk-size line (with its extensions) is longer than [`MAX_SIZE_LINE`].
    SizeLineTooLong,
    /// The trailer section is longer than [`MAX_TRAILERS`].
    TrailersTooLong,
    /// A CR not followed by LF, a bare LF, or chunk data not followed by CRLF.
    BadLineEnd,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadSize => "invalid chunk size",
            ChunkedError::SizeOverflow => "chunk size too large",
            ChunkedError::SizeLineTooLong => "chunk-size line too long",
            ChunkedError::TrailersTooLong => "trailer section too long",
            ChunkedError::BadLineEnd => "missing CRLF in chunked framing",
        })
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the hex digits of a chunk size (`digits` of them so far).
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    /// In a chunk extension, up to CR.
    Extension,
    /// After the size line's CR.
    SizeLf,
    /// In chunk data, `remaining` bytes to go.
    Data,
    /// After chunk data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// In a trailer line, up to CR.
    Trailer,
    TrailerLf,
    /// After the final CR.
    EndLf,
    /// The last chunk and the trailer section have been read.
    Done,
}

/// What one call of [`ChunkedDecoder::decode_in_place`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// `buf[..payload]` now holds the payload decoded from this buffer.
    pub(crate) payload: usize,
    /// How many bytes of the buffer were read. Less than its length only when the body ended
    /// (the rest follows the body) or an error lies at `consumed` (call again to get it).
    pub(crate) consumed: usize,
}

/// The chunked decoder: feed it every byte of the body, in any pieces.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// The size being parsed, then the data bytes left in the current chunk.
    remaining: u64,
    digits: usize,
    /// Bytes of the current size line, or of the trailer section so far.
    line: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            digits: 0,
            line: 0,
        }
    }

    /// Whether the last chunk and the trailer section have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `buf`, moving its payload bytes to its front.
    ///
    /// An error is returned only when it lies at the first byte of `buf`; otherwise what
    /// precedes it is returned, with `consumed` at the offending byte, and the next call (with
    /// the rest of the buffer) returns the error. The decoder does not change state on an
    /// error, so it keeps returning it.
    pub(crate) fn decode_in_place(&mut self, buf: &mut [u8]) -> Result<Decoded, ChunkedError> {
        let mut read = 0;
        let mut written = 0;
        while read < buf.len() {
            if self.state == State::Data {
                let available = buf.len() - read;
                let n = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
                if written != read {
                    buf.copy_within(read..read + n, written);
                }
                read += n;
                written += n;
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            if self.state == State::Done {
                break;
            }
            if let Err(e) = self.step(buf[read]) {
                if read == 0 {
                    return Err(e);
                }
                break;
            }
            read += 1;
        }
        Ok(Decoded {
            payload: written,
            consumed: read,
        })
    }

    /// One framing byte. Leaves the state alone on an error.
    fn step(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match self.state {
            State::Size | State::SizeSpace | State::Extension => {
                if byte != b'\r' && self.line >= MAX_SIZE_LINE {
                    return Err(ChunkedError::SizeLineTooLong);
                }
                self.size_line(byte)?;
                self.line += 1;
            }
            State::SizeLf => {
                expect_lf(byte)?;
                self.line = 0;
                self.digits = 0;
                self.state = if self.remaining == 0 {
                    State::TrailerStart
                } else {
                    State::Data
                };
            }
            State::DataCr => {
                expect_cr(byte)?;
                self.state = State::DataLf;
            }
            State::DataLf => {
                expect_lf(byte)?;
                self.state = State::Size;
            }
            State::TrailerStart | State::Trailer | State::TrailerLf => {
                if self.line >= MAX_TRAILERS {
                    return Err(ChunkedError::TrailersTooLong);
                }
                self.trailer(byte)?;
                self.line += 1;
            }
            State::EndLf => {
                expect_lf(byte)?;
                self.state = State::Done;
            }
            State::Data | State::Done => unreachable!("handled by the caller"),
        }
        Ok(())
    }

    fn size_line(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match (self.state, byte) {
            (State::Size, _) if hex(byte).is_some() => {
                let digit = hex(byte).unwrap_or_default();
                if self.remaining > u64::MAX >> 4 {
                    return Err(ChunkedError::SizeOverflow);
                }
                self.remaining = (self.remaining << 4) | u64::from(digit);
                self.digits += 1;
            }
            (State::Size, _) if self.digits == 0 => return Err(ChunkedError::BadSize),
            (State::Size | State::SizeSpace, b' ' | b'\t') => self.state = State::SizeSpace,
            (State::Size | State::SizeSpace, b';') => self.state = State::Extension,
            (_, b'\r') => self.state = State::SizeLf,
            (_, b'\n') => return Err(ChunkedError::BadLineEnd),
            (State::Extension, _) => {}
            _ => return Err(ChunkedError::BadSize),
        }
        Ok(())
    }

    fn trailer(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match (self.state, byte) {
            (State::TrailerStart, b'\r') => self.state = State::EndLf,
            (State::Trailer, b'\r') => self.state = State::TrailerLf,
            (State::TrailerStart | State::Trailer, b'\n') => return Err(ChunkedError::BadLineEnd),
            (State::TrailerStart | State::Trailer, _) => self.state = State::Trailer,
            (_, b'\n') => self.state = State::TrailerStart,
            _ => return Err(ChunkedError::BadLineEnd),
        }
        Ok(())
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn expect_cr(byte: u8) -> Result<(), ChunkedError> {
    if byte == b'\r' {
        Ok(())
    } else {
        Err(ChunkedError::BadLineEnd)
    }
}

fn expect_lf(byte: u8) -> Result<(), ChunkedError> {
    if byte == b'\n' {
        Ok(())
    } else {
        Err(ChunkedError::BadLineEnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What decoding a body fed in `pieces` gives: the payload, then whether the body ended
    /// (`Ok(true)`), needs more input (`Ok(false)`) or failed; and how many bytes were consumed
    /// up to the end or the offending byte.
    fn decode(pieces: &[&[u8]]) -> (Vec<u8>, Result<bool, ChunkedError>, usize) {
        let mut decoder = ChunkedDecoder::new();
        let mut payload = Vec::new();
        let mut buf = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            buf.extend_from_slice(piece);
            while !buf.is_empty() && !decoder.is_done() {
                match decoder.decode_in_place(&mut buf) {
                    Ok(d) => {
                        assert!(d.consumed > 0, "no progress");
                        assert!(d.payload <= d.consumed);
                        payload.extend_from_slice(&buf[..d.payload]);
                        buf.drain(..d.consumed);
                        offset += d.consumed;
                    }
                    Err(e) => return (payload, Err(e), offset),
                }
            }
        }
        (payload, Ok(decoder.is_done()), offset)
    }

    fn decode_whole(input: &[u8]) -> (Vec<u8>, Result<bool, ChunkedError>) {
        let (payload, outcome, _) = decode(&[input]);
        (payload, outcome)
    }

    fn decode_whole_at(input: &[u8]) -> (Vec<u8>, Result<bool, ChunkedError>, usize) {
        decode(&[input])
    }

    #[test]
    fn a_valid_body_decodes_with_extensions_and_trailers() {
        let body = b"5\r\nhello\r\n1A; name=\"v\" ;x\r\nabcdefghijklmnopqrstuvwxyz\r\n0 ; end\r\nx-t: 1\r\ny: 2\r\n\r\nNEXT";
        let (payload, outcome, end) = decode(&[body]);
        assert_eq!(payload, b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(outcome, Ok(true));
        assert_eq!(&body[end..], b"NEXT", "bytes after the body are left alone");
    }

    #[test]
    fn an_empty_body_is_one_last_chunk() {
        assert_eq!(decode_whole(b"0\r\n\r\n"), (Vec::new(), Ok(true)));
        assert_eq!(decode_whole(b"000\r\n\r\n"), (Vec::new(), Ok(true)));
    }

    #[test]
    fn malformed_framing_is_an_error() {
        let long_ext = format!("1;{}\r\na\r\n", "e".repeat(MAX_SIZE_LINE));
        let long_zeros = format!("{}1\r\na\r\n", "0".repeat(MAX_SIZE_LINE + 1));
        let long_trailer = format!("0\r\nx: {}\r\n\r\n", "t".repeat(MAX_TRAILERS));
        let cases: [(&[u8], ChunkedError); 17] = [
            (b"g\r\n", ChunkedError::BadSize),
            (b"\r\n", ChunkedError::BadSize),
            (b";ext\r\n", ChunkedError::BadSize),
            (b"-1\r\n", ChunkedError::BadSize),
            (b"0x5\r\nhello\r\n", ChunkedError::BadSize),
            (b"5 5\r\n", ChunkedError::BadSize),
            (b"10000000000000000\r\n", ChunkedError::SizeOverflow),
            (long_ext.as_bytes(), ChunkedError::SizeLineTooLong),
            (long_zeros.as_bytes(), ChunkedError::SizeLineTooLong),
            (b"5\nhello\r\n", ChunkedError::BadLineEnd),
            (b"5\rhello\r\n", ChunkedError::BadLineEnd),
            (b"5;a\nhello\r\n", ChunkedError::BadLineEnd),
            (b"5\r\nhello\n0\r\n\r\n", ChunkedError::BadLineEnd),
            (b"5\r\nhellox0\r\n\r\n", ChunkedError::BadLineEnd),
            (b"0\r\nx: y\n\r\n", ChunkedError::BadLineEnd),
            (b"0\r\n\r\r", ChunkedError::BadLineEnd),
            (long_trailer.as_bytes(), ChunkedError::TrailersTooLong),
        ];
        for (input, expected) in cases {
            let (_, outcome) = decode_whole(input);
            assert_eq!(
                outcome,
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn the_payload_before_an_error_is_delivered_then_the_error_stays() {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabc\r\nzz";
        let d = decoder.decode_in_place(&mut buf).unwrap();
        assert_eq!((&buf[..d.payload], d.consumed), (&b"abc"[..], 8));
        assert_eq!(
            decoder.decode_in_place(&mut buf[8..]),
            Err(ChunkedError::BadSize)
        );
        assert_eq!(
            decoder.decode_in_place(&mut buf[8..]),
            Err(ChunkedError::BadSize)
        );
    }

    #[test]
    fn framing_before_an_error_is_consumed_then_the_error_stays() {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabc\r\n10000000000000000\r\n";
        let d = decoder.decode_in_place(&mut buf).unwrap();
        assert_eq!((&buf[..d.payload], d.consumed), (&b"abc"[..], 24));
        for _ in 0..2 {
            assert_eq!(
                decoder.decode_in_place(&mut buf[24..]),
                Err(ChunkedError::SizeOverflow)
            );
        }
    }

    #[test]
    fn a_body_cut_short_is_not_done() {
        for cut in [
            &b"5\r\nhel"[..],
            b"5\r\nhello",
            b"5\r\nhello\r\n",
            b"0\r\n",
            b"0\r\nx: 1\r\n",
            b"0\r\n\r",
        ] {
            let (_, outcome) = decode_whole(cut);
            assert_eq!(outcome, Ok(false), "{cut:?}");
        }
    }

    /// A valid chunked encoding of `chunks`, with the size spelled and extended as `style`
    /// says, and `trailers`.
    fn encode(
        chunks: &[Vec<u8>],
        style: &[(bool, usize, Option<String>)],
        trailers: &[String],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let styled = |out: &mut Vec<u8>, size: usize, i: usize| {
            let (upper, zeros, ext) = &style[i % style.len()];
            out.extend(std::iter::repeat_n(b'0', *zeros));
            let digits = if *upper {
                format!("{size:X}")
            } else {
                format!("{size:x}")
            };
            out.extend_from_slice(digits.as_bytes());
            if let Some(ext) = ext {
                out.extend_from_slice(ext.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        for (i, chunk) in chunks.iter().enumerate() {
            styled(&mut out, chunk.len(), i);
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        styled(&mut out, 0, chunks.len());
        for trailer in trailers {
            out.extend_from_slice(trailer.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// `input` cut at the (sorted, deduplicated) points.
    fn split<'a>(input: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = points.iter().map(|p| p % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts {
            pieces.push(&input[start..cut]);
            start = cut;
        }
        pieces.push(&input[start..]);
        pieces
    }

    proptest! {
        #[test]
        fn any_split_of_a_valid_body_decodes_to_its_payload(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..8),
            style in prop::collection::vec(
                (any::<bool>(), 0..3_usize, prop::option::of("[ \t]*;[ \t]*[a-z]{1,5}(=[a-z0-9\"]{0,6})?")),
                1..4,
            ),
            trailers in prop::collection::vec("[a-z-]{1,8}: [ -~]{0,20}", 0..3),
            points in prop::collection::vec(any::<usize>(), 0..40),
            after in prop::collection::vec(any::<u8>(), 0..10),
        ) {
            let mut body = encode(&chunks, &style, &trailers);
            body.extend_from_slice(&after);
            let (payload, outcome, end) = decode(&split(&body, &points));
            prop_assert_eq!(payload, chunks.concat());
            prop_assert_eq!(outcome, Ok(true));
            prop_assert_eq!(&body[end..], &after[..]);
        }

        #[test]
        fn any_split_of_any_bytes_decodes_as_the_whole(
            input in prop::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(b"0123456789abcdefABCDEF;= \t\r\n".to_vec()),
                    1 => any::<u8>(),
                ],
                0..200,
            ),
            points in prop::collection::vec(any::<usize>(), 0..40),
        ) {
            prop_assert_eq!(decode(&split(&input, &points)), decode_whole_at(&input));
        }
    }
}
