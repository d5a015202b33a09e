//! The main job: `ssekit serve`'s chat page, chat relay, mock LLM and proxy route; and the
//! standalone `ssekit relay` and `ssekit proxy`.

use ssekit_codec::Event;

use crate::serve::{body_text, events, request, start_command};

const PROMPT: &str = r#"{"messages":[{"role":"user","content":"tell me a secret"}]}"#;

/// The text of OpenAI-compatible chunks, and whether `[DONE]` ended them.
fn content(events: &[Event]) -> (String, bool) {
    let mut text = String::new();
    let mut done = false;
    for e in events {
        if e.data() == "[DONE]" {
            done = true;
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(e.data()).unwrap_or_else(|_| panic!("not JSON: {:?}", e.data()));
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(c);
        }
    }
    (text, done)
}

async fn all_events(mut body: hyper::body::Incoming) -> Vec<Event> {
    events(&mut body, usize::MAX).await
}

#[tokio::test]
async fn chat_relays_the_mock_answer_with_the_word_redacted() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--redact", "secret", "--mock-delay-ms", "2"],
    );
    let response = request(
        server.addr,
        "POST",
        "/chat",
        &[("content-type", "application/json")],
        PROMPT,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = all_events(response.into_body()).await;
    assert!(
        events.len() > 10,
        "streamed as many chunks, got {}",
        events.len()
    );
    for e in &events {
        assert!(
            !e.data().to_lowercase().contains("secret"),
            "leaked in {:?}",
            e.data()
        );
    }
    let (text, done) = content(&events);
    assert!(done, "[DONE] passes through");
    assert!(
        text.starts_with(r#"You said: "tell me a [redacted]". "#),
        "{text}"
    );
}

#[tokio::test]
async fn the_mock_llm_is_openai_compatible_and_deterministic() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--mock-delay-ms", "0"],
    );
    let mut texts = Vec::new();
    for _ in 0..2 {
        let response = request(server.addr, "POST", "/v1/chat/completions", &[], PROMPT).await;
        let events = all_events(response.into_body()).await;
        let first: serde_json::Value = serde_json::from_str(events[0].data()).unwrap();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        let (text, done) = content(&events);
        assert!(done);
        texts.push(text);
    }
    assert_eq!(texts[0], texts[1]);
    assert!(
        texts[0].contains("secret"),
        "without --redact the word is there"
    );
}

#[tokio::test]
async fn the_proxy_route_reaches_the_upstream_intact_and_streams_back() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--mock-delay-ms", "1"],
    );
    let body = r#"{"key1":"value1","key2":"value2"}"#;
    let response = request(
        server.addr,
        "POST",
        "/proxy",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    let (text, done) = content(&all_events(response.into_body()).await);
    assert!(done);
    assert_eq!(
        text,
        format!("You sent: {body}"),
        "the upstream got the body byte for byte"
    );
}

#[tokio::test]
async fn the_chat_page_is_served() {
    let server = start_command(&["serve", "--addr", "127.0.0.1:0"], &[]);
    let response = request(server.addr, "GET", "/", &[], "").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = body_text(response).await;
    assert!(
        page.contains("class SSEParser")
            && page.contains("\"/chat\"")
            && page.contains("AbortController")
    );
    let bad = request(server.addr, "POST", "/chat", &[], "not json").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn standalone_relay_and_proxy() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--mock-delay-ms", "1"],
    );
    let upstream = format!("http://{}/v1/chat/completions", server.addr);
    let relay = start_command(
        &["relay", "--listen", "127.0.0.1:0", "--upstream", &upstream],
        &["--redact", "SECRET"],
    );
    let response = request(
        relay.addr,
        "POST",
        "/",
        &[("content-type", "application/json")],
        PROMPT,
    )
    .await;
    let events = all_events(response.into_body()).await;
    let (text, done) = content(&events);
    assert!(done);
    assert!(
        text.contains("[redacted]") && !text.to_lowercase().contains("secret"),
        "{text}"
    );

    let proxy = start_command(
        &["proxy", "--listen", "127.0.0.1:0", "--upstream", &upstream],
        &[],
    );
    let response = request(
        proxy.addr,
        "POST",
        "/",
        &[("content-type", "application/json")],
        PROMPT,
    )
    .await;
    let (text, done) = content(&all_events(response.into_body()).await);
    assert!(done);
    assert!(
        text.contains("secret"),
        "the proxy does not process: {text}"
    );
}

#[tokio::test]
async fn a_dropped_answer_resumes_with_nothing_lost_or_repeated() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--mock-delay-ms", "15"],
    );
    // The whole answer, uninterrupted, for comparison (the mock is deterministic).
    let response = request(server.addr, "POST", "/chat", &[], PROMPT).await;
    let (whole, done) = content(&all_events(response.into_body()).await);
    assert!(done);

    let response = request(server.addr, "POST", "/chat", &[], PROMPT).await;
    let generation = response.headers()["x-ssekit-generation"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = response.into_body();
    let first = events(&mut body, 5).await;
    assert_eq!(first.len(), 5);
    let last_id = first
        .last()
        .unwrap()
        .id()
        .expect("relayed events carry ids")
        .to_owned();
    drop(body); // the connection drops mid-answer; the generation goes on

    let resumed = request(
        server.addr,
        "GET",
        &format!("/chat/{generation}"),
        &[("last-event-id", &last_id)],
        "",
    )
    .await;
    assert_eq!(resumed.status(), 200);
    let rest = all_events(resumed.into_body()).await;
    let mut joined = first.clone();
    joined.extend(rest);
    let ids: Vec<&str> = joined.iter().map(|e| e.id().unwrap()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "no event twice");
    let (text, done) = content(&joined);
    assert!(done);
    assert_eq!(text, whole, "nothing lost");
}

#[tokio::test]
async fn delete_stops_a_generation() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--mock-delay-ms", "30"],
    );
    let response = request(server.addr, "POST", "/chat", &[], PROMPT).await;
    let generation = response.headers()["x-ssekit-generation"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = response.into_body();
    assert_eq!(events(&mut body, 2).await.len(), 2);
    let stop = request(
        server.addr,
        "DELETE",
        &format!("/chat/{generation}"),
        &[],
        "",
    )
    .await;
    assert_eq!(stop.status(), 204);
    let rest = all_events(body).await;
    assert!(!content(&rest).1, "stopped before [DONE]");
    let again = request(
        server.addr,
        "DELETE",
        &format!("/chat/{generation}"),
        &[],
        "",
    )
    .await;
    assert_eq!(again.status(), 404, "no longer running");
    let unknown = request(server.addr, "GET", "/chat/nope", &[], "").await;
    assert_eq!(unknown.status(), 404);
}
