//! `ssekit decode`: SSE bytes on stdin → Event JSON on stdout.

use std::io::{self, Read, Write};

use ssekit_codec::{DecodeError, DecodeErrorKind, Decoder, Frame, Limits};

use crate::{ndjson, Failure};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Also print comment lines as `{"comment": TEXT}`.
    #[arg(long)]
    comments: bool,
    /// The longest accepted line in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_LINE_LENGTH)]
    max_line_length: usize,
    /// The largest accepted event data in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

/// The message for a limit error. `line` is the number of the over-long line, `events` the
/// number of events written before the error.
fn describe(e: &DecodeError, line: Option<u64>, events: u64) -> String {
    match (e.kind(), line) {
        (DecodeErrorKind::LineTooLong, Some(line)) => format!(
            "decode: line {line} is longer than the limit of {} bytes (set it with --max-line-length)",
            e.limit()
        ),
        (DecodeErrorKind::LineTooLong, None) => format!(
            "decode: a line is longer than the limit of {} bytes (set it with --max-line-length)",
            e.limit()
        ),
        _ => format!(
            "decode: event {}: its data is larger than the limit of {} bytes (set it with --max-event-size)",
            events + 1,
            e.limit()
        ),
    }
}

/// Follows the stream's lines as the decoder splits them (at CRLF, LF or CR, one leading BOM
/// not counted), to name the first line longer than the limit: the one the decoder stops at.
#[derive(Debug)]
struct Lines {
    limit: usize,
    /// The number of the line in progress, from 1.
    line: u64,
    /// Its bytes so far, BOM included.
    len: usize,
    /// The last byte seen was a CR, so an LF next ends no line.
    after_cr: bool,
    /// The stream's first bytes, up to three, to tell whether it starts with a BOM.
    head: Vec<u8>,
    /// The stream has ended: a BOM begun can no longer be completed.
    ended: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Lines {
    fn new(limit: usize) -> Self {
        Lines {
            limit,
            line: 1,
            len: 0,
            after_cr: false,
            head: Vec::with_capacity(3),
            ended: false,
        }
    }

    /// Whether the line in progress is over the limit. A BOM does not count, nor do the
    /// first bytes of one while it may still be completed (the decoder waits for them).
    fn too_long(&self) -> bool {
        let bom = self.line == 1
            && BOM.starts_with(&self.head)
            && (self.head.len() == BOM.len() || !self.ended);
        let len = if bom {
            self.len - self.head.len()
        } else {
            self.len
        };
        len > self.limit
    }

    /// The end of the stream: returns the number of the last line if it is too long only now
    /// that the start of a BOM it began with can no longer become one.
    fn finish(&mut self) -> Option<u64> {
        self.ended = true;
        self.too_long().then_some(self.line)
    }

    /// Takes the next bytes of the stream. Returns the number of the first line longer than
    /// the limit, if these bytes reach one; the lines after it are not followed.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<u64> {
        let missing = 3 - self.head.len();
        self.head.extend(bytes.iter().take(missing));
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(end) = memchr::memchr2(b'\r', b'\n', bytes) {
            self.len += end;
            if self.too_long() {
                return Some(self.line);
            }
            self.line += 1;
            self.len = 0;
            let mut next = end + 1;
            if bytes[end] == b'\r' {
                match bytes.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            bytes = &bytes[next..];
        }
        self.len += bytes.len();
        self.too_long().then_some(self.line)
    }
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let limits = Limits::default()
        .with_max_line_length(args.max_line_length)
        .with_max_event_size(args.max_event_size);
    let mut decoder = Decoder::with_limits(limits).with_comments(args.comments);
    let mut stdin = io::stdin().lock();
    let mut stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut chunk = vec![0u8; 64 * 1024];
    let mut lines = Lines::new(args.max_line_length);
    let mut long_line = None;
    let mut events = 0;
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if long_line.is_none() {
            long_line = lines.feed(&chunk[..n]);
        }
        decoder.feed(&chunk[..n]);
        let drained = drain(&mut stdout, &mut events, || decoder.next_frame());
        // Everything decoded from this read is written before the next read may block.
        stdout.flush()?;
        drained.map_err(|stop| stop.failure(long_line, events))?;
    }
    if long_line.is_none() {
        long_line = lines.finish();
    }
    let drained = drain(&mut stdout, &mut events, || decoder.finish());
    stdout.flush()?;
    drained.map_err(|stop| stop.failure(long_line, events))
}

/// Why [`drain`] stopped: a limit error, or a failure to write.
enum Stop {
    Limit(DecodeError),
    Write(io::Error),
}

impl Stop {
    fn failure(self, long_line: Option<u64>, events: u64) -> Failure {
        match self {
            Stop::Limit(e) => Failure::Input(describe(&e, long_line, events)),
            Stop::Write(e) => Failure::Io(e),
        }
    }
}

/// Writes frames from `next` until it needs more input, counting the events; a limit error
/// ends the command.
fn drain(
    out: &mut impl Write,
    events: &mut u64,
    mut next: impl FnMut() -> Result<Option<Frame>, DecodeError>,
) -> Result<(), Stop> {
    loop {
        match next() {
            Ok(Some(frame)) => {
                *events += u64::from(matches!(frame, Frame::Event(_)));
                ndjson::write_frame(out, &frame).map_err(Stop::Write)?;
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(Stop::Limit(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first line longer than `limit`, found the plain way: the whole stream split at
    /// CRLF, LF and CR, without its BOM; and the offset in `stream` where that line starts.
    fn first_long_line(stream: &[u8], limit: usize) -> Option<(u64, usize)> {
        let bom = if stream.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        let text = &stream[bom..];
        let (mut start, mut i, mut line) = (0, 0, 1);
        while i < text.len() {
            if text[i] == b'\r' || text[i] == b'\n' {
                if i - start > limit {
                    return Some((line, bom + start));
                }
                line += 1;
                i += if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            } else {
                i += 1;
            }
        }
        (text.len() - start > limit).then_some((line, bom + start))
    }

    /// The events of `stream` decoded in one piece, without limits.
    fn all_events(stream: &[u8]) -> Vec<ssekit_codec::Event> {
        let mut decoder = Decoder::with_limits(Limits::unlimited());
        decoder.feed(stream);
        let mut events = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            if let Frame::Event(e) = frame {
                events.push(e);
            }
        }
        assert_eq!(decoder.finish(), Ok(None));
        events
    }

    /// Random streams of short lines with every kind of line ending (a CR and an LF often in
    /// different reads), a BOM or part of one at the start, random reads and limits: `Lines`
    /// names the line the plain split names, and the decoder fails with `LineTooLong` in
    /// exactly the read where `Lines` finds it, having written the same events as a decoder
    /// of the stream cut before that line.
    #[test]
    fn lines_names_the_line_the_decoder_stops_at() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let alphabet: &[&[u8]] = &[b"data:", b"a", b" ", b"\r", b"\n", b"\r\n", b":", b"id:x"];
        for _ in 0..20_000 {
            let mut stream = Vec::new();
            match next(4) {
                0 => stream.extend_from_slice(b"\xEF\xBB\xBF"),
                1 => stream.extend_from_slice(b"\xEF\xBB"),
                _ => {}
            }
            for _ in 0..next(30) {
                stream.extend_from_slice(alphabet[next(alphabet.len())]);
            }
            let limit = next(12);
            let expected = first_long_line(&stream, limit);

            let mut lines = Lines::new(limit);
            let mut decoder = Decoder::with_limits(Limits::unlimited().with_max_line_length(limit));
            let mut events = Vec::new();
            let mut found = None;
            let mut failed = false;
            let mut rest = &stream[..];
            while !rest.is_empty() && !failed {
                let (read, after) = rest.split_at(1 + next(rest.len()));
                rest = after;
                found = found.or(lines.feed(read));
                decoder.feed(read);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(Frame::Event(e))) => events.push(e),
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            assert!(e.is_line_too_long());
                            failed = true;
                            break;
                        }
                    }
                }
                assert_eq!(failed, found.is_some(), "{stream:?} limit {limit}");
            }
            if !failed {
                found = found.or(lines.finish());
                failed = matches!(decoder.finish(), Err(e) if e.is_line_too_long());
                assert_eq!(failed, found.is_some(), "{stream:?} limit {limit}");
            }
            assert_eq!(
                found,
                expected.map(|(line, _)| line),
                "{stream:?} limit {limit}"
            );
            let before = expected.map_or(&stream[..], |(_, start)| &stream[..start]);
            assert_eq!(events, all_events(before), "{stream:?} limit {limit}");
        }
    }
}
