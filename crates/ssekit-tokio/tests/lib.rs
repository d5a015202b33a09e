//! Integration tests of the tokio adapter: test data through `FramedRead`, chunked input.

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::StreamExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use ssekit_tokio::{events, Frame, Limits, SseDecoder, SseEncoder};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::io::StreamReader;

fn frame_json(frame: &Frame) -> Value {
    match frame {
        Frame::Event(e) => {
            json!({"event": e.event_type(), "data": e.data(), "id": e.id().unwrap_or("")})
        }
        Frame::Retry(ms) => json!({ "retry": ms }),
        Frame::Comment(c) => json!({ "comment": c.text() }),
        other => panic!("unexpected frame {other:?}"),
    }
}

/// Runs `future` to completion on a current-thread runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// Decodes `chunks` through `FramedRead`; the items up to and including the first error.
fn decode(chunks: Vec<Vec<u8>>, decoder: SseDecoder) -> Vec<Value> {
    block_on(async move {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        let mut frames = FramedRead::new(StreamReader::new(stream), decoder);
        let mut out = Vec::new();
        while let Some(item) = frames.next().await {
            match item {
                Ok(frame) => out.push(frame_json(&frame)),
                Err(e) => {
                    let kind = e.as_decode().expect("a decode error").kind();
                    out.push(json!({"error": if kind == ssekit_tokio::DecodeErrorKind::LineTooLong { "line_too_long" } else { "event_too_large" }}));
                }
            }
        }
        out
    })
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn test_data_through_framed_read() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/decode");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in cases {
            let input = match case.get("input") {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => hex(case["input_hex"].as_str().unwrap()),
            };
            let mut limits = Limits::default();
            if let Some(l) = case.get("limits") {
                if let Some(n) = l.get("max_line_length").and_then(Value::as_u64) {
                    limits = limits.with_max_line_length(n as usize);
                }
                if let Some(n) = l.get("max_event_size").and_then(Value::as_u64) {
                    limits = limits.with_max_event_size(n as usize);
                }
            }
            let comments = case
                .get("comments")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let expect = case["expect"].as_array().unwrap();
            // FramedRead ends after its first error.
            let end = expect
                .iter()
                .position(|v| v.get("error").is_some())
                .map_or(expect.len(), |i| i + 1);
            for size in [1, 2, 3, 1024] {
                let chunks = input.chunks(size).map(<[u8]>::to_vec).collect();
                let decoder = SseDecoder::from_decoder(ssekit_codec_decoder(limits, comments));
                assert_eq!(
                    decode(chunks, decoder),
                    expect[..end],
                    "case {:?} in chunks of {size}",
                    case["name"]
                );
            }
            count += 1;
        }
    }
    assert!(count > 50);
}

fn ssekit_codec_decoder(limits: Limits, comments: bool) -> ssekit_codec::Decoder {
    ssekit_codec::Decoder::with_limits(limits).with_comments(comments)
}

#[test]
fn events_skips_retry_and_drops_the_unterminated_event() {
    let got: Vec<String> = block_on(async {
        let input: &[u8] = b"retry: 10\ndata: a\n\nid: 2\ndata: b\n\ndata: c";
        events(input)
            .map(|e| e.unwrap().data().to_owned())
            .collect()
            .await
    });
    assert_eq!(got, ["a", "b"]);
}

/// What `SseDecoder`'s docs say of `FramedRead` after a limit error: the first error comes
/// after the events before it and ends the stream; polled again at the end of the input, the
/// leftover input gives the second error, and that one ends the stream for good, so the event
/// after it is never seen. (If tokio-util changes this, the docs must change with it.)
#[test]
fn framed_read_after_a_limit_error_at_the_end_of_the_input() {
    let polls: Vec<String> = block_on(async {
        let input: &[u8] = b"data: a\n\ndata: xxxxxxxxxx\n\ndata: yyyyyyyyyy\n\ndata: ok\n\n";
        let limits = Limits::default().with_max_line_length(8);
        let mut framed = FramedRead::new(input, SseDecoder::with_limits(limits));
        let mut polls = Vec::new();
        for _ in 0..8 {
            polls.push(match framed.next().await {
                Some(Ok(Frame::Event(e))) => e.data().to_owned(),
                Some(Ok(other)) => format!("{other:?}"),
                Some(Err(e)) => format!("error: {e}"),
                None => "end".to_owned(),
            });
        }
        polls
    });
    let error = "error: the event stream exceeded a decoding limit";
    assert_eq!(
        polls,
        ["a", error, "end", error, "end", "end", "end", "end"]
    );
}

#[test]
fn framed_write_then_framed_read_round_trips() {
    block_on(async {
        use futures_util::SinkExt;
        let mut wire = Vec::new();
        {
            let mut sink = FramedWrite::new(&mut wire, SseEncoder::default());
            sink.send(ssekit_tokio::Event::new("x\r\ny")).await.unwrap();
            sink.send(Frame::Retry(5)).await.unwrap();
        }
        let frames: Vec<Frame> = FramedRead::new(&wire[..], SseDecoder::default())
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(
            frames,
            vec![
                Frame::Event(ssekit_tokio::Event::new("x\ny")),
                Frame::Retry(5)
            ]
        );
    });
}

const PIECES: &[&[u8]] = &[
    b"data: ",
    b"id: 1",
    b"event: e",
    b"\r",
    b"\n",
    b"\r\n",
    b"x",
    b":",
    b"retry: 5",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn framed_read_agrees_with_the_codec_for_any_chunking(
        input in prop::collection::vec(prop::sample::select(PIECES), 0..48).prop_map(|p| p.concat()),
        size in 1usize..9,
    ) {
        let mut codec = ssekit_codec::Decoder::new();
        codec.feed(&input);
        let mut expect = Vec::new();
        while let Some(frame) = codec.next_frame().unwrap() {
            expect.push(frame_json(&frame));
        }
        while let Some(frame) = codec.finish().unwrap() {
            expect.push(frame_json(&frame));
        }
        let chunks = input.chunks(size).map(<[u8]>::to_vec).collect();
        prop_assert_eq!(decode(chunks, SseDecoder::default()), expect);
    }
}
