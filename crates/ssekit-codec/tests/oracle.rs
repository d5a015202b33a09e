//! A slow decoder written line by line from the WHATWG HTML standard, "Server-sent events"
//! (§ 9.2.5 parsing an event stream, § 9.2.6 interpreting an event stream). It decodes the
//! whole stream as UTF-8 first, as the standard does, then splits lines; no limits, no chunks.

use serde_json::{json, Value};

pub(crate) fn decode(input: &[u8], comments: bool) -> Vec<Value> {
    // "Streams must be decoded using the UTF-8 decode algorithm" (which strips one BOM and
    // replaces invalid sequences with U+FFFD).
    let text = String::from_utf8_lossy(input);
    let mut rest: &str = text.strip_prefix('\u{feff}').unwrap_or(&text);

    let mut out = Vec::new();
    let mut data = String::new();
    let mut event_type = String::new();
    let mut last_event_id = String::new();

    // "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
    // character pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE
    // RETURN (CR) character." A line without an ending at the end of the stream is not a line.
    while let Some(pos) = rest.find(['\r', '\n']) {
        let line = &rest[..pos];
        rest = if rest[pos..].starts_with("\r\n") {
            &rest[pos + 2..]
        } else {
            &rest[pos + 1..]
        };

        if line.is_empty() {
            // Dispatch the event.
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let kind = if event_type.is_empty() {
                "message"
            } else {
                event_type.as_str()
            };
            out.push(json!({"event": kind, "data": data, "id": last_event_id}));
            data.clear();
            event_type.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            if comments {
                let comment = comment.strip_prefix(' ').unwrap_or(comment);
                out.push(json!({ "comment": comment }));
            }
            continue;
        }
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut event_type),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut last_event_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = value.bytes().fold(0u64, |acc, d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                out.push(json!({ "retry": ms }));
            }
            _ => {}
        }
    }
    // "Once the end of the file is reached, any pending data must be discarded."
    out
}
