//! Streaming redaction: words never pass, even when the stream splits them across events.

/// Redacts configured words from a text that arrives in pieces.
///
/// Matching is ASCII case-insensitive. Each piece is released at once except for its end when
/// that end could be the start of a word (at most the longest word's length minus one byte),
/// which is held until the next piece or [`finish`](Self::finish) decides it.
///
/// ```
/// use ssekit_relay::Redactor;
///
/// let mut r = Redactor::new(["secret"], "[redacted]");
/// assert_eq!(r.push("the sec"), "the ");      // "sec" could start "secret": held
/// assert_eq!(r.push("ret is out"), "[redacted] is out");
/// assert_eq!(r.finish(), "");
/// ```
#[derive(Clone, Debug)]
pub struct Redactor {
    words: Vec<String>,
    replacement: String,
    held: String,
}

impl Redactor {
    /// Redacts each of `words` (empty words are ignored), writing `replacement` in its place.
    pub fn new<I, S>(words: I, replacement: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut words: Vec<String> = words
            .into_iter()
            .map(|w| w.as_ref().to_ascii_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        // Longest first, so that the longest word wins where two start at the same place.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        Redactor {
            words,
            replacement: replacement.to_owned(),
            held: String::new(),
        }
    }

    /// Whether there are words to redact.
    pub fn is_active(&self) -> bool {
        !self.words.is_empty()
    }

    /// Takes the next piece; returns what can be released now.
    pub fn push(&mut self, piece: &str) -> String {
        if self.words.is_empty() {
            return piece.to_owned();
        }
        self.held.push_str(piece);
        let (out, rest) = self.scan(false);
        self.held = rest;
        out
    }

    /// The end of the text: releases what was held.
    pub fn finish(&mut self) -> String {
        let (out, _) = self.scan(true);
        self.held.clear();
        out
    }

    /// Replaces the words in `held`; unless `at_end`, keeps back the longest tail that could
    /// still grow into a word.
    fn scan(&self, at_end: bool) -> (String, String) {
        let text = &self.held;
        let lower = text.to_ascii_lowercase();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut copied = 0;
        while i < text.len() {
            if !text.is_char_boundary(i) {
                i += 1;
                continue;
            }
            if let Some(word) = self
                .words
                .iter()
                .find(|w| lower[i..].starts_with(w.as_str()))
            {
                out.push_str(&text[copied..i]);
                out.push_str(&self.replacement);
                i += word.len();
                copied = i;
                continue;
            }
            if !at_end
                && self
                    .words
                    .iter()
                    .any(|w| w.len() > lower.len() - i && w.starts_with(&lower[i..]))
            {
                // From here to the end could be the start of a word: hold it.
                out.push_str(&text[copied..i]);
                return (out, text[i..].to_owned());
            }
            i += 1;
        }
        out.push_str(&text[copied..]);
        (out, String::new())
    }
}
