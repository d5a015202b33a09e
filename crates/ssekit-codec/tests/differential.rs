//! A differential test of the whole decoder API against a reference that reads one byte at a
//! time: random streams (split BOMs, CR/LF/CRLF, invalid and split UTF-8, NUL, values around
//! the decoder's internal sizes), random chunkings, random limits, `feed` and `feed_bytes`,
//! text and raw frames alternated, feeding again before `Ok(None)`, and `finish` in the
//! middle of a stream. Every frame and error, and `last_event_id` after each, must agree.
//!
//! The reference follows the WHATWG rules plus the documented limit recovery: the event being
//! built is dropped with its `id:`, and lines are skipped up to the next blank line.
//! `SSEKIT_DIFF_CASES` sets the number of cases (default 4,000; run more in `--release`).

use std::collections::VecDeque;

use bytes::Bytes;
use ssekit_codec::{DecodeErrorKind, Decoder, Frame, Limits, RawFrame};

#[derive(Clone, Debug, PartialEq)]
enum Out {
    Event {
        kind: Vec<u8>,
        data: Vec<u8>,
        id: Vec<u8>,
    },
    Retry(u64),
    Comment(Vec<u8>),
    Error(DecodeErrorKind),
}

/// The reference decoder. Each output is queued with the last event ID at that point.
// The flags are the states of the spec's algorithm and of the limit recovery, as in the text.
#[allow(clippy::struct_excessive_bools)]
#[derive(Default)]
struct Reference {
    max_line: usize,
    max_event: usize,
    comments: bool,
    started: bool,
    bom: Vec<u8>,
    skip_lf: bool,
    line: Vec<u8>,
    line_len: usize,
    discarding_line: bool,
    discarding_event: bool,
    data: Option<Vec<u8>>,
    kind: Vec<u8>,
    id_buffer: Vec<u8>,
    last_id: Vec<u8>,
    out: VecDeque<(Out, Vec<u8>)>,
}

impl Reference {
    fn emit(&mut self, out: Out) {
        let id = self.last_id.clone();
        self.out.push_back((out, id));
    }

    fn fail(&mut self, kind: DecodeErrorKind) {
        self.data = None;
        self.kind.clear();
        self.id_buffer.clone_from(&self.last_id);
        self.discarding_event = true;
        self.emit(Out::Error(kind));
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if !self.started {
            self.bom.push(b);
            if b"\xEF\xBB\xBF".starts_with(&self.bom) {
                if self.bom.len() == 3 {
                    self.started = true;
                    self.bom.clear();
                }
                return;
            }
            self.started = true;
            let bytes = std::mem::take(&mut self.bom);
            return self.feed(&bytes);
        }
        if std::mem::take(&mut self.skip_lf) && b == b'\n' {
            return;
        }
        if b == b'\r' || b == b'\n' {
            self.skip_lf = b == b'\r';
            return self.line_end();
        }
        self.line_len += 1;
        if self.discarding_line || self.discarding_event {
            return;
        }
        self.line.push(b);
        if self.line.len() > self.max_line {
            self.line.clear();
            self.discarding_line = true;
            self.fail(DecodeErrorKind::LineTooLong);
        }
    }

    fn line_end(&mut self) {
        let len = std::mem::take(&mut self.line_len);
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.discarding_line) {
            return;
        }
        if self.discarding_event {
            if len == 0 {
                self.discarding_event = false;
            }
            return;
        }
        if line.is_empty() {
            self.last_id.clone_from(&self.id_buffer);
            match self.data.take() {
                None => self.kind.clear(),
                Some(mut data) => {
                    data.pop();
                    let kind = if self.kind.is_empty() {
                        b"message".to_vec()
                    } else {
                        std::mem::take(&mut self.kind)
                    };
                    let id = self.last_id.clone();
                    self.emit(Out::Event { kind, data, id });
                }
            }
            return;
        }
        let colon = line.iter().position(|&c| c == b':').unwrap_or(line.len());
        let mut value = line.get(colon + 1..).unwrap_or_default();
        if value.first() == Some(&b' ') {
            value = &value[1..];
        }
        match &line[..colon] {
            b"" if self.comments => self.emit(Out::Comment(value.to_vec())),
            b"data" => {
                if self.data.as_ref().map_or(0, Vec::len) + value.len() > self.max_event {
                    return self.fail(DecodeErrorKind::EventTooLarge);
                }
                let data = self.data.get_or_insert_with(Vec::new);
                data.extend_from_slice(value);
                data.push(b'\n');
            }
            b"event" => self.kind = value.to_vec(),
            b"id" if !value.contains(&0) => self.id_buffer = value.to_vec(),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = value.iter().fold(0u64, |acc, d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                self.emit(Out::Retry(ms));
            }
            _ => {}
        }
    }

    /// The end of a stream: a BOM prefix becomes bytes, the unterminated line and event are
    /// dropped, the last event ID stays.
    fn finish(&mut self) {
        if !self.started {
            self.started = true;
            let bytes = std::mem::take(&mut self.bom);
            self.feed(&bytes);
        }
        let last_id = self.last_id.clone();
        *self = Reference {
            max_line: self.max_line,
            max_event: self.max_event,
            comments: self.comments,
            id_buffer: last_id.clone(),
            last_id,
            out: std::mem::take(&mut self.out),
            ..Reference::default()
        };
    }
}

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

fn lossy(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes).into_owned().into_bytes()
}

fn text(frame: Frame) -> Out {
    match frame {
        Frame::Event(e) => Out::Event {
            kind: e.event_type().into(),
            data: e.data().into(),
            id: e.id().unwrap_or("").into(),
        },
        Frame::Retry(ms) => Out::Retry(ms),
        Frame::Comment(c) => Out::Comment(c.text().into()),
        other => panic!("unexpected frame {other:?}"),
    }
}

fn raw(frame: RawFrame) -> Out {
    match frame {
        RawFrame::Event(e) => Out::Event {
            kind: e.event_type().into(),
            data: e.data().into(),
            id: e.id().into(),
        },
        RawFrame::Retry(ms) => Out::Retry(ms),
        RawFrame::Comment(c) => Out::Comment(c.to_vec()),
        other => panic!("unexpected frame {other:?}"),
    }
}

/// A random stream: lines of every field, values of lengths around the decoder's internal
/// sizes (32, 256, 512, 1024), runs of `data:` lines, odd bytes, and a cut tail.
fn stream(rng: &mut Rng) -> Vec<u8> {
    const STARTS: [&[u8]; 5] = [
        b"",
        b"\xEF\xBB\xBF",
        b"\xEF",
        b"\xEF\xBB",
        b"\xEF\xBB\xBF\xEF\xBB\xBF",
    ];
    const FIELDS: [&[u8]; 11] = [
        b"data: ",
        b"data:",
        b"data",
        b"event: ",
        b"id: ",
        b"id:",
        b"retry: ",
        b":",
        b"foo: ",
        b"",
        b"data: x\n\n",
    ];
    const ODD: [&[u8]; 10] = [
        b"\xc3\xa9",
        b"\xe2\x82",
        b"\xff",
        b"\0",
        b":",
        b" ",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"\r",
        b"1",
    ];
    const ENDINGS: [&[u8]; 7] = [b"\n", b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r", b"\r\n\r\n"];
    let mut out = STARTS[rng.below(8).min(4)].to_vec();
    let target = [200, 2000, 8000, 30000][rng.below(4)];
    let target = rng.below(target);
    while out.len() < target {
        let field = FIELDS[rng.below(FIELDS.len())];
        let lines = if field.starts_with(b"data") && rng.percent(40) {
            rng.range(2, 40)
        } else {
            1
        };
        for _ in 0..lines {
            out.extend_from_slice(field);
            let len = match rng.below(6) {
                0 => rng.below(30),
                1 => rng.range(20, 26),
                2 => rng.range(240, 270),
                3 => rng.range(490, 530),
                4 => rng.range(1000, 1050),
                _ => rng.below(3000),
            };
            let odd = rng.percent(30);
            for _ in 0..len {
                if odd && rng.percent(8) {
                    out.extend_from_slice(ODD[rng.below(ODD.len())]);
                } else {
                    out.push(b'a' + u8::try_from(rng.below(26)).unwrap());
                }
            }
            out.extend_from_slice(ENDINGS[rng.below(ENDINGS.len())]);
        }
    }
    if rng.percent(20) {
        out.truncate(rng.below(out.len() + 1));
    }
    out
}

fn chunk_size(rng: &mut Rng) -> usize {
    match rng.below(7) {
        0 => rng.range(1, 3),
        1 => rng.range(60, 70),
        2 => rng.range(500, 530),
        3 => rng.range(1000, 1050),
        4 => rng.range(1, 4000),
        5 => rng.range(20, 40),
        _ => rng.range(250, 270),
    }
}

fn limit(rng: &mut Rng) -> usize {
    match rng.below(4) {
        0 => rng.range(0, 10),
        1 => rng.range(8, 2000),
        2 => rng.range(240, 1100),
        _ => usize::MAX,
    }
}

/// One decoder call (text or raw, `next` or `finish`), checked against the reference's next
/// output and the last event ID at that point. `Ok(false)` for the decoder's `Ok(None)`.
fn call(
    decoder: &mut Decoder,
    reference: &mut Reference,
    rng: &mut Rng,
    end: bool,
) -> Result<bool, String> {
    let as_text = rng.percent(60);
    let result = match (end, as_text) {
        (false, true) => decoder.next_frame().map(|f| f.map(text)),
        (false, false) => decoder.next_raw_frame().map(|f| f.map(raw)),
        (true, true) => decoder.finish().map(|f| f.map(text)),
        (true, false) => decoder.finish_raw().map(|f| f.map(raw)),
    };
    let got = match result {
        Ok(None) => return Ok(false),
        Ok(Some(out)) => out,
        Err(e) => Out::Error(e.kind()),
    };
    let (want, id) = reference.out.pop_front().ok_or(format!("extra {got:?}"))?;
    let want = match want {
        Out::Event { kind, data, id } if as_text => Out::Event {
            kind: lossy(&kind),
            data: lossy(&data),
            id: lossy(&id),
        },
        Out::Comment(c) if as_text => Out::Comment(lossy(&c)),
        other => other,
    };
    if got != want {
        return Err(format!("got {got:?}, want {want:?}"));
    }
    if decoder.last_event_id().as_bytes() != lossy(&id) {
        return Err(format!(
            "after {got:?}: last_event_id {:?}",
            decoder.last_event_id()
        ));
    }
    Ok(true)
}

fn run_case(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let input = stream(&mut rng);
    let (max_line, max_event) = (limit(&mut rng), limit(&mut rng));
    let comments = rng.percent(50);
    let start_id = ["", "start", "\u{e9}"][rng.below(3)];
    let limits = Limits::default()
        .with_max_line_length(max_line)
        .with_max_event_size(max_event);
    let mut decoder = Decoder::with_limits(limits)
        .with_comments(comments)
        .with_last_event_id(start_id);
    let mut reference = Reference {
        max_line,
        max_event,
        comments,
        id_buffer: start_id.into(),
        last_id: start_id.into(),
        ..Reference::default()
    };
    let fixed = chunk_size(&mut rng);
    let mut pos = 0;
    while pos < input.len() {
        let size = if rng.percent(85) {
            fixed
        } else {
            chunk_size(&mut rng)
        };
        let chunk = &input[pos..pos + size.min(input.len() - pos)];
        pos += chunk.len();
        reference.feed(chunk);
        if rng.percent(50) {
            decoder.feed(chunk);
        } else {
            decoder.feed_bytes(Bytes::copy_from_slice(chunk));
        }
        // Sometimes feed again before the decoder has said `Ok(None)`.
        let calls = if rng.percent(80) {
            usize::MAX
        } else {
            rng.below(3)
        };
        for _ in 0..calls {
            if !call(&mut decoder, &mut reference, &mut rng, false)? {
                if !reference.out.is_empty() {
                    return Err(format!("Ok(None) at {pos}, want {:?}", reference.out));
                }
                if decoder.last_event_id().as_bytes() != lossy(&reference.last_id) {
                    return Err(format!("last_event_id at {pos}"));
                }
                break;
            }
        }
        if rng.percent(2) {
            // The end of a stream in the middle of the input; the rest is a new stream.
            reference.finish();
            while call(&mut decoder, &mut reference, &mut rng, true)? {}
        }
    }
    reference.finish();
    while call(&mut decoder, &mut reference, &mut rng, true)? {}
    if reference.out.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {:?}", reference.out))
    }
}

#[test]
fn the_decoder_agrees_with_a_byte_by_byte_reference() {
    let cases: u64 = std::env::var("SSEKIT_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_000);
    let failures: Vec<String> = (1..=cases)
        .filter_map(|seed| run_case(seed).err().map(|e| format!("seed {seed}: {e}")))
        .take(10)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
