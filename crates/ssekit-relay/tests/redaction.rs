//! Redaction across pieces: the word never passes, whatever the split.

use proptest::prelude::*;
use ssekit_codec::Event;
use ssekit_relay::{Pipeline, Redactor};

fn run(words: &[&str], pieces: &[&str]) -> Vec<String> {
    let mut r = Redactor::new(words.iter().copied(), "#");
    let mut out: Vec<String> = pieces.iter().map(|p| r.push(p)).collect();
    out.push(r.finish());
    out
}

#[test]
fn a_word_split_across_two_and_three_pieces() {
    assert_eq!(
        run(&["secret"], &["top sec", "ret here"]).concat(),
        "top # here"
    );
    assert_eq!(
        run(&["secret"], &["top s", "ecr", "et here"]).concat(),
        "top # here"
    );
    // Nothing of the word is released before it is decided.
    let pieces = run(&["secret"], &["top s", "ecr", "et here"]);
    assert_eq!(pieces[0], "top ");
    assert_eq!(pieces[1], "");
}

#[test]
fn only_what_could_start_a_word_is_held() {
    assert_eq!(run(&["secret"], &["a se", "x"]), ["a ", "sex", ""]);
    assert_eq!(run(&["secret"], &["plain text"]), ["plain text", ""]);
    assert_eq!(
        run(&["secret"], &["ends with sec"]),
        ["ends with ", "sec"],
        "released at the end"
    );
}

#[test]
fn case_insensitive_and_several_words() {
    assert_eq!(
        run(&["Secret", "pass"], &["SECRET and Pa", "ss"]).concat(),
        "# and #"
    );
    assert_eq!(
        run(&["ab", "abc"], &["xabcx"]).concat(),
        "x#x",
        "the longest word wins"
    );
}

#[test]
fn multibyte_text_is_kept_whole() {
    assert_eq!(
        run(&["clé"], &["la cl", "é est là 🎉"]).concat(),
        "la # est là 🎉"
    );
}

fn chunk(text: &str) -> Event {
    Event::new(
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]}).to_string(),
    )
}

fn content(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e.data()).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn openai_chunks_keep_their_shape_and_done_passes() {
    let mut p = Pipeline::new().redact(["secret"], "[x]");
    let mut out = Vec::new();
    for e in [
        chunk("the se"),
        chunk("cr"),
        chunk("et is"),
        chunk(" safe"),
        Event::new("[DONE]"),
    ] {
        out.extend(p.push(e).await);
    }
    out.extend(p.finish().await);
    assert_eq!(content(&out), "the [x] is safe");
    assert_eq!(out.last().unwrap().data(), "[DONE]");
    assert!(out
        .iter()
        .all(|e| !e.data().to_lowercase().contains("secret")));
}

#[tokio::test]
async fn held_text_is_released_before_done() {
    let mut p = Pipeline::new().redact(["secret"], "[x]");
    let mut out = Vec::new();
    for e in [chunk("ends with se"), Event::new("[DONE]")] {
        out.extend(p.push(e).await);
    }
    assert_eq!(content(&out), "ends with se");
    assert_eq!(out.last().unwrap().data(), "[DONE]");
}

#[tokio::test]
async fn plain_text_events_are_redacted_too() {
    let mut p = Pipeline::new().redact(["secret"], "[x]");
    let mut data = String::new();
    for e in [Event::new("a sec"), Event::new("ret b")] {
        for out in p.push(e).await {
            data.push_str(out.data());
        }
    }
    for out in p.finish().await {
        data.push_str(out.data());
    }
    assert_eq!(data, "a [x] b");
}

proptest! {
    #[test]
    fn any_split_gives_the_one_shot_result(
        text in "[a-zA-Z ]{0,40}(secret|SeCrEt|pass)?[a-z ]{0,20}(secret)?[a-z ]{0,10}",
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let words = ["secret", "pass"];
        let whole = run(&words, &[&text]).concat();
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in at {
            pieces.push(&text[start..p]);
            start = p;
        }
        pieces.push(&text[start..]);
        let out = run(&words, &pieces);
        prop_assert_eq!(out.concat(), whole.clone());
        prop_assert!(!whole.to_lowercase().contains("secret"));
        for piece in &out {
            prop_assert!(!piece.to_lowercase().contains("secret"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_paces_without_dropping() {
    let mut p = Pipeline::new().rate_limit(10, 2);
    let start = tokio::time::Instant::now();
    let mut out = Vec::new();
    for i in 0..12 {
        out.extend(p.push(Event::new(i.to_string())).await);
    }
    assert_eq!(out.len(), 12, "nothing dropped");
    // Two at once (the burst), then ten more at ten a second: about one second.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(990),
        "{elapsed:?}"
    );
    assert!(
        elapsed <= std::time::Duration::from_millis(1100),
        "{elapsed:?}"
    );
}
