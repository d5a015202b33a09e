//! Deterministic benchmark inputs: four event streams that stand for the traffic ssekit meets.
//!
//! Every generator takes a target size and stops at the first event boundary past it, so the
//! same size always gives the same bytes. The only "randomness" is a fixed-seed `SplitMix64`.

use std::fmt::Write as _;

/// The size of the corpora the benchmarks use: 2 MiB each.
pub const BENCH_SIZE: usize = 2 * 1024 * 1024;

/// The text of a multiline event: 64 KiB, in lines of this many bytes.
pub const MULTILINE_LINE: usize = 80;
/// The number of text bytes (line breaks excluded) in each multiline event.
pub const MULTILINE_TEXT: usize = 64 * 1024;

/// One named input stream.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// A short name used in benchmark ids: `tokens`, `ticker`, `multiline` or `mixed`.
    pub name: &'static str,
    /// The encoded stream.
    pub bytes: Vec<u8>,
    /// How many message events (with non-empty data) a conforming decoder yields.
    pub events: usize,
}

/// The four corpora, each about `size` bytes.
pub fn all(size: usize) -> Vec<Corpus> {
    vec![tokens(size), ticker(size), multiline(size), mixed(size)]
}

/// The corpus called `name`, about `size` bytes.
pub fn named(name: &str, size: usize) -> Option<Corpus> {
    let make = match name {
        "tokens" => tokens,
        "ticker" => ticker,
        "multiline" => multiline,
        "mixed" => mixed,
        _ => return None,
    };
    Some(make(size))
}

/// A fixed-seed `SplitMix64` generator: enough variety for realistic inputs, and reproducible.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words a language model might stream, some of them outside ASCII so that UTF-8 sequences get
/// split between chunks. `\\n` is a JSON escape, as in real streams.
const WORDS: &[&str] = &[
    "The",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " the",
    " lazy",
    " dog",
    ".",
    ",",
    " Hello",
    " world",
    "!",
    " stream",
    "ing",
    " token",
    "s",
    " are",
    " short",
    " caf\u{e9}",
    " na\u{ef}ve",
    " \u{1f600}",
    "\\n",
    " \u{4f60}\u{597d}",
    " and",
    " then",
    " some",
    "?",
    " Server",
    "-Sent",
    " Events",
    " re",
    "connect",
    " quietly",
    " 42",
    " 3.14",
];

/// The `data` values of the `tokens` corpus, in order: OpenAI-style chat completion chunks,
/// ending with `[DONE]`.
pub fn token_payloads(size: usize) -> Vec<String> {
    let mut rng = Rng::new(1);
    let mut payloads = Vec::new();
    let mut total = 0;
    while total < size {
        let word = WORDS[rng.below(WORDS.len())];
        let payload = format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{{"content":"{word}"}}}}]}}"#
        );
        total += "data: \n\n".len() + payload.len();
        payloads.push(payload);
    }
    payloads.push("[DONE]".to_owned());
    payloads
}

/// `tokens`: one small JSON `data:` line per event, LF line endings, then `data: [DONE]`.
pub fn tokens(size: usize) -> Corpus {
    let payloads = token_payloads(size);
    let mut bytes = Vec::with_capacity(size + 256);
    for payload in &payloads {
        bytes.extend_from_slice(b"data: ");
        bytes.extend_from_slice(payload.as_bytes());
        bytes.extend_from_slice(b"\n\n");
    }
    Corpus {
        name: "tokens",
        bytes,
        events: payloads.len(),
    }
}

/// `ticker`: tiny events with an id and a type, as a price feed sends them.
pub fn ticker(size: usize) -> Corpus {
    let mut rng = Rng::new(2);
    let mut text = String::with_capacity(size + 256);
    let mut events = 0;
    while text.len() < size {
        let cents = 10_000 + rng.below(5_000);
        let _ = write!(
            text,
            "id: {events}\nevent: tick\ndata: {{\"p\":{}.{:02}}}\n\n",
            cents / 100,
            cents % 100
        );
        events += 1;
    }
    Corpus {
        name: "ticker",
        bytes: text.into_bytes(),
        events,
    }
}

/// The data of the multiline event number `n`: `MULTILINE_TEXT` bytes of printable ASCII in
/// lines of `MULTILINE_LINE` bytes, joined with `\n`.
pub fn multiline_payload(n: u64) -> String {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.;{}\"";
    let mut rng = Rng::new(1000 + n);
    let mut text = String::with_capacity(MULTILINE_TEXT + MULTILINE_TEXT / MULTILINE_LINE + 1);
    for i in 0..MULTILINE_TEXT {
        if i > 0 && i % MULTILINE_LINE == 0 {
            text.push('\n');
        }
        text.push(char::from(ALPHABET[rng.below(ALPHABET.len())]));
    }
    text
}

/// `multiline`: events whose 64 KiB of data is spread over 80-byte `data:` lines.
pub fn multiline(size: usize) -> Corpus {
    let mut bytes = Vec::with_capacity(size + 128 * 1024);
    let mut events = 0;
    while bytes.len() < size {
        bytes.extend_from_slice(format!("id: {events}\n").as_bytes());
        for line in multiline_payload(events as u64).split('\n') {
            bytes.extend_from_slice(b"data: ");
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        bytes.push(b'\n');
        events += 1;
    }
    Corpus {
        name: "multiline",
        bytes,
        events,
    }
}

/// `mixed`: CRLF, CR and LF line endings (one kind per event), `: keep-alive` comments between
/// events, optional `event:`, `id:` and `retry:` fields, and one to three data lines.
pub fn mixed(size: usize) -> Corpus {
    const ENDINGS: [&str; 3] = ["\n", "\r\n", "\r"];
    let mut rng = Rng::new(3);
    let mut text = String::with_capacity(size + 256);
    let mut events = 0;
    while text.len() < size {
        // A comment line is followed by a non-empty line, so its ending never merges with a
        // blank line into a different line break.
        if rng.below(2) == 0 {
            text.push_str(": keep-alive");
            text.push_str(ENDINGS[rng.below(3)]);
        }
        let eol = ENDINGS[rng.below(3)];
        if rng.below(3) == 0 {
            text.push_str("event: update");
            text.push_str(eol);
        }
        if rng.below(2) == 0 {
            let _ = write!(text, "id: {events}{eol}");
        }
        if rng.below(50) == 0 {
            text.push_str("retry: 3000");
            text.push_str(eol);
        }
        for line in 0..=rng.below(3) {
            let _ = write!(
                text,
                "data: {{\"seq\":{events},\"line\":{line},\"text\":\"{}\"}}{eol}",
                &"lorem ipsum dolor sit amet consectetur adipiscing elit"[..10 + rng.below(40)]
            );
        }
        text.push_str(eol);
        events += 1;
    }
    // End on a comment, not on a bare CR: eventsource-stream 0.2.3 never dispatches an event
    // whose blank line is a CR at the very end of the stream (it waits for a possible LF).
    text.push_str(": end\n");
    Corpus {
        name: "mixed",
        bytes: text.into_bytes(),
        events,
    }
}
