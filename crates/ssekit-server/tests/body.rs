//! `SseBody`: events sent at once (joined when several wait), keep-alive only when idle, cancellation on drop.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use ssekit_server::{channel, Event, SseBody};

async fn next_data(body: &mut SseBody) -> Option<Bytes> {
    let frame = body.frame().await?.expect("infallible");
    Some(frame.into_data().expect("a data frame"))
}

#[tokio::test]
async fn an_event_goes_out_alone_when_nothing_else_waits() {
    let (sender, mut body) = channel(8);
    sender.send(&Event::new("one")).await.unwrap();
    assert_eq!(next_data(&mut body).await.unwrap(), "data: one\n\n");
    sender.send(&Event::new("two\nlines")).await.unwrap();
    assert_eq!(
        next_data(&mut body).await.unwrap(),
        "data: two\ndata: lines\n\n"
    );
    drop(sender);
    assert_eq!(
        next_data(&mut body).await,
        None,
        "the stream ends with its last sender"
    );
}

#[tokio::test]
async fn events_already_waiting_are_joined_into_one_frame() {
    let (sender, mut body) = channel(8);
    for data in ["one", "two", "three"] {
        sender.send(&Event::new(data)).await.unwrap();
    }
    assert_eq!(
        next_data(&mut body).await.unwrap(),
        "data: one\n\ndata: two\n\ndata: three\n\n"
    );
    sender.send(&Event::new("four")).await.unwrap();
    assert_eq!(next_data(&mut body).await.unwrap(), "data: four\n\n");
}

#[tokio::test]
async fn retry_comes_first() {
    let (sender, body) = channel(8);
    let mut body = body.with_retry(2500);
    sender.send(&Event::new("x")).await.unwrap();
    assert_eq!(next_data(&mut body).await.unwrap(), "retry: 2500\n");
    assert_eq!(next_data(&mut body).await.unwrap(), "data: x\n\n");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_only_while_idle() {
    let (sender, body) = channel(8);
    let mut body = body.with_keep_alive(Duration::from_secs(10));
    let producer = tokio::spawn(async move {
        // Busy for 60 s: an event every 4 s, well inside the keep-alive interval.
        for i in 0..15 {
            sender.send(&Event::new(format!("{i}"))).await.unwrap();
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        // Then idle, holding the stream open.
        tokio::time::sleep(Duration::from_secs(35)).await;
    });
    let start = tokio::time::Instant::now();
    let mut seen = Vec::new();
    while let Some(data) = next_data(&mut body).await {
        seen.push((start.elapsed().as_secs(), data));
    }
    producer.await.unwrap();
    let keep_alives: Vec<u64> = seen
        .iter()
        .filter(|(_, d)| d == ": keep-alive\n")
        .map(|(t, _)| *t)
        .collect();
    let events = seen.len() - keep_alives.len();
    assert_eq!(events, 15);
    // None while events flowed; then one every 10 s of silence after the last event (56 s).
    assert_eq!(keep_alives, vec![66, 76, 86], "frames: {seen:?}");
}

#[tokio::test]
async fn dropping_the_body_tells_the_producer_at_once() {
    let (sender, body) = channel(8);
    let token = sender.cancellation_token();
    assert!(!sender.is_closed());
    drop(body);
    tokio::time::timeout(Duration::from_secs(5), sender.closed())
        .await
        .expect("closed() resolves when the body is dropped");
    assert!(token.is_cancelled());
    assert!(sender.is_closed());
    assert!(sender.send(&Event::new("lost")).await.is_err());
}

#[tokio::test]
async fn a_stream_body_joins_what_arrives_together_and_ends_with_the_stream() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let mut body = SseBody::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    for data in ["data: a\n\n", "data: b\n\n", "data: c\n\n"] {
        tx.send(Bytes::from(data)).unwrap();
    }
    assert_eq!(
        next_data(&mut body).await.unwrap(),
        "data: a\n\ndata: b\n\ndata: c\n\n",
        "items that are ready together make one frame"
    );
    tx.send(Bytes::from("data: d\n\n")).unwrap();
    assert_eq!(next_data(&mut body).await.unwrap(), "data: d\n\n");
    drop(tx);
    assert_eq!(
        next_data(&mut body).await,
        None,
        "the body ends with its stream"
    );
}

#[tokio::test]
async fn dropping_a_stream_body_drops_its_producer() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let body = SseBody::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    assert!(!tx.is_closed());
    drop(body);
    assert!(
        tx.is_closed(),
        "the producer learns at once that nobody listens"
    );
}
