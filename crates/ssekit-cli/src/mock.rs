//! The embedded mock LLM: OpenAI-compatible streaming chunks, deterministic for a prompt.

use std::time::Duration;

use ssekit_server::{channel, sse_response, Event, SseBody};

const ANSWERS: [&str; 3] = [
    "Server-Sent Events stream text over one long HTTP response, so every token can reach \
     the browser the moment it exists. A relay can inspect each event on the way, redact a \
     password or a secret, and pass the rest on without buffering.",
    "A client that loses its connection reconnects with the last event id it saw, and a \
     server with a replay buffer sends exactly what it missed: nothing lost, nothing twice. \
     Keep-alive comments keep idle connections open through proxies.",
    "Encoding is careful work: a line break inside the data becomes several data lines, \
     never a corrupted stream, and a decoder must accept CR, LF and CRLF, even when a chunk \
     ends between the CR and the LF.",
];

/// The answer to a request body: to the last user message if there is one, else an echo of
/// the body (so a pass-through test can see that the body arrived intact).
pub(crate) fn answer(body: &[u8]) -> String {
    let prompt = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("messages")?
                .as_array()?
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))?
                .get("content")?
                .as_str()
                .map(str::to_owned)
        });
    match prompt {
        Some(prompt) => {
            let hash = prompt
                .bytes()
                .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
            format!(
                "You said: \"{prompt}\". {}",
                ANSWERS[hash as usize % ANSWERS.len()]
            )
        }
        None => format!("You sent: {}", String::from_utf8_lossy(body)),
    }
}

/// Splits `text` into pieces of 1 to 5 characters (a deterministic pattern), so that words are
/// often split across chunks, as real tokenizers do.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut n = 0usize;
    while i < chars.len() {
        let len = [3, 5, 2, 4, 1, 4][n % 6].min(chars.len() - i);
        out.push(chars[i..i + len].iter().collect());
        i += len;
        n += 1;
    }
    out
}

fn chunk(delta: &serde_json::Value, finish: Option<&str>) -> Event {
    Event::new(
        serde_json::json!({
            "id": "chatcmpl-ssekit-mock",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "ssekit-mock",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string(),
    )
}

/// Streams the answer to `body`, one token every `delay`; stops when the client goes away.
pub(crate) fn respond(body: &[u8], delay: Duration) -> http::Response<SseBody> {
    let text = answer(body);
    let (sender, response_body) = channel(16);
    tokio::spawn(async move {
        let mut events = vec![chunk(
            &serde_json::json!({"role": "assistant", "content": ""}),
            None,
        )];
        events.extend(
            tokens(&text)
                .iter()
                .map(|t| chunk(&serde_json::json!({ "content": t }), None)),
        );
        events.push(chunk(&serde_json::json!({}), Some("stop")));
        events.push(Event::new("[DONE]"));
        for event in events {
            tokio::select! {
                () = sender.closed() => return,
                sent = sender.send(&event) => if sent.is_err() { return },
            }
            if !delay.is_zero() {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    });
    sse_response(response_body)
}
