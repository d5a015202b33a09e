//! The hub: exact replay after every id, the seam under concurrent publishing, the
//! history-lost signal, slow-subscriber eviction, shutdown.

use std::time::Duration;

use proptest::prelude::*;
use ssekit_codec::{Decoder, Frame};
use ssekit_server::{Hub, HubConfig, HubErrorKind, Subscription, HISTORY_LOST};

/// The frames a subscription delivers within `wait` (or until it ends).
async fn take(sub: &mut Subscription, n: usize, wait: Duration) -> Vec<ssekit_codec::Event> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    while out.len() < n {
        let Ok(Some(bytes)) = tokio::time::timeout(wait, sub.recv()).await else {
            break;
        };
        decoder.feed(&bytes);
        while let Some(frame) = decoder.next_frame().unwrap() {
            if let Frame::Event(e) = frame {
                out.push(e);
            }
        }
    }
    out
}

fn offset(id: &str) -> u64 {
    id.rsplit_once('-').unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn resuming_after_each_id_replays_exactly_the_rest_then_goes_live() {
    let hub = Hub::new(HubConfig::default());
    let ids: Vec<String> = (1..=10)
        .map(|i| hub.publish("t", None, &format!("e{i}")).unwrap())
        .collect();
    let epoch = ids[0].split_once('-').unwrap().0.to_owned();
    for k in 0..=10usize {
        let last = if k == 0 {
            format!("{epoch}-0")
        } else {
            ids[k - 1].clone()
        };
        let mut sub = hub.subscribe("t", Some(&last)).unwrap();
        let live = hub.publish("t", None, &format!("live after {k}")).unwrap();
        let got = take(&mut sub, 100, Duration::from_millis(200)).await;
        let data: Vec<&str> = got.iter().map(ssekit_codec::Event::data).collect();
        let mut want: Vec<String> = (k + 1..=10).map(|i| format!("e{i}")).collect();
        // The live events published by earlier rounds are retained too, and come in order.
        let earlier_live: Vec<String> = (0..k).map(|j| format!("live after {j}")).collect();
        want.extend(earlier_live);
        want.push(format!("live after {k}"));
        assert_eq!(data, want, "resuming after {last}");
        assert_eq!(got.last().unwrap().id(), Some(live.as_str()));
    }
}

#[tokio::test]
async fn ids_are_gap_free_offsets_under_one_epoch() {
    let hub = Hub::new(HubConfig::default());
    let ids: Vec<String> = (0..5)
        .map(|_| hub.publish("t", None, "x").unwrap())
        .collect();
    let epochs: Vec<&str> = ids.iter().map(|i| i.split_once('-').unwrap().0).collect();
    assert!(epochs.iter().all(|e| *e == epochs[0]));
    assert_eq!(
        ids.iter().map(|i| offset(i)).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[tokio::test]
async fn an_expired_or_foreign_id_gets_the_history_lost_signal() {
    let hub = Hub::new(HubConfig::default().with_replay_events(5));
    let ids: Vec<String> = (1..=20)
        .map(|i| hub.publish("t", None, &i.to_string()).unwrap())
        .collect();

    let mut sub = hub.subscribe("t", Some(&ids[2])).unwrap();
    let got = take(&mut sub, 6, Duration::from_millis(200)).await;
    assert_eq!(got[0].event_type(), HISTORY_LOST);
    assert!(
        got[0].data().contains(r#""reason":"expired""#),
        "{}",
        got[0].data()
    );
    let rest: Vec<&str> = got[1..].iter().map(ssekit_codec::Event::data).collect();
    assert_eq!(rest, ["16", "17", "18", "19", "20"]);

    // An id from another epoch: a restarted hub, say.
    let restarted = Hub::new(HubConfig::default());
    restarted.publish("t", None, "new").unwrap();
    let mut sub = restarted.subscribe("t", Some(&ids[19])).unwrap();
    let got = take(&mut sub, 2, Duration::from_millis(200)).await;
    assert_eq!(got[0].event_type(), HISTORY_LOST);
    assert!(got[0].data().contains(r#""reason":"epoch""#));
    assert_eq!(got[1].data(), "new");

    // The last retained id: nothing missed, no signal.
    let mut sub = hub.subscribe("t", Some(&ids[19])).unwrap();
    assert!(take(&mut sub, 1, Duration::from_millis(100))
        .await
        .is_empty());
}

#[tokio::test]
async fn malformed_ids_and_topics_are_errors() {
    let hub = Hub::new(HubConfig::default());
    for bad in ["", "abc", "12", "zz-1", "1-", "1-x", "1-2-3"] {
        let err = hub.subscribe("t", Some(bad)).unwrap_err();
        assert_eq!(err.kind(), HubErrorKind::InvalidLastEventId, "id {bad:?}");
    }
    for bad in ["", "a/b", "sp ace", &"x".repeat(129)] {
        assert_eq!(
            hub.publish(bad, None, "x").unwrap_err().kind(),
            HubErrorKind::InvalidTopic
        );
        assert_eq!(
            hub.subscribe(bad, None).unwrap_err().kind(),
            HubErrorKind::InvalidTopic
        );
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_off_and_the_others_get_everything() {
    let hub = Hub::new(HubConfig::default().with_queue(4));
    let mut slow = hub.subscribe("t", None).unwrap();
    let mut fast = hub.subscribe("t", None).unwrap();
    let reader = tokio::spawn(async move { take(&mut fast, 100, Duration::from_secs(5)).await });
    for i in 0..100 {
        hub.publish("t", None, &i.to_string()).unwrap();
        tokio::task::yield_now().await;
    }
    let fast_got = reader.await.unwrap();
    assert_eq!(fast_got.len(), 100);
    // The slow one got what its queue held, then its stream ended: it can resume with the
    // last id it saw.
    let slow_got = take(&mut slow, 1000, Duration::from_secs(5)).await;
    assert!(
        slow_got.len() <= 5,
        "the slow subscriber got {}",
        slow_got.len()
    );
    assert!(slow.recv().await.is_none(), "its stream has ended");
    let last = slow_got.last().map(|e| e.id().unwrap().to_owned());
    let mut resumed = hub.subscribe("t", last.as_deref()).unwrap();
    let rest = take(&mut resumed, 1000, Duration::from_millis(300)).await;
    assert_eq!(
        slow_got.len() + rest.len(),
        100,
        "nothing lost across the cut"
    );
}

#[tokio::test]
async fn shutdown_ends_every_stream_after_what_is_queued() {
    let hub = Hub::new(HubConfig::default());
    let mut sub = hub.subscribe("t", None).unwrap();
    hub.publish("t", None, "last").unwrap();
    hub.shutdown();
    let got = take(&mut sub, 10, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert!(sub.recv().await.is_none());
    assert_eq!(
        hub.publish("t", None, "x").unwrap_err().kind(),
        HubErrorKind::Closed
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A subscriber that reads a while, drops, and resumes with the last id it saw (any number
    /// of times) while another thread publishes, sees every event exactly once, in order.
    #[test]
    fn resume_while_publishing_loses_and_repeats_nothing(
        cuts in prop::collection::vec(1usize..40, 1..6),
        total in 100u64..300,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let hub = Hub::new(HubConfig::default().with_replay_events(10_000));
            let first = hub.publish("t", None, "0").unwrap();
            let publisher = {
                let hub = hub.clone();
                tokio::spawn(async move {
                    for i in 1..total {
                        hub.publish("t", None, &i.to_string()).unwrap();
                        if i % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            };
            let mut last = first;
            let mut seen = vec![0u64];
            for cut in cuts {
                // (A read may return more than `cut` events: queued events come joined. Once
                // the publisher is done, waiting longer would only slow the test down; what
                // is not read here is read by the final resume.)
                let mut sub = hub.subscribe("t", Some(&last)).unwrap();
                for e in take(&mut sub, cut, Duration::from_millis(100)).await {
                    seen.push(e.data().parse().unwrap());
                    last = e.id().unwrap().to_owned();
                }
            }
            publisher.await.unwrap();
            let mut sub = hub.subscribe("t", Some(&last)).unwrap();
            for e in take(&mut sub, usize::MAX, Duration::from_millis(200)).await {
                seen.push(e.data().parse().unwrap());
            }
            let want: Vec<u64> = (0..total).collect();
            prop_assert_eq!(seen, want);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_closed_topic_ends_its_streams_and_still_replays() {
    let hub = Hub::new(HubConfig::default());
    let mut live = hub.subscribe("gen", None).unwrap();
    let first = hub.publish("gen", None, "a").unwrap();
    hub.publish("gen", None, "b").unwrap();
    hub.close_topic("gen");
    assert_eq!(take(&mut live, 10, Duration::from_secs(5)).await.len(), 2);
    assert!(live.recv().await.is_none(), "the live stream ends");
    assert_eq!(
        hub.publish("gen", None, "c").unwrap_err().kind(),
        HubErrorKind::Closed
    );
    // A late resumer gets exactly the rest, then the end.
    let mut late = hub.subscribe("gen", Some(&first)).unwrap();
    let got = take(&mut late, 10, Duration::from_secs(5)).await;
    assert_eq!(
        got.iter()
            .map(ssekit_codec::Event::data)
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert!(late.recv().await.is_none());
    // Removed: forgotten, and a new topic of the same name has a new epoch.
    assert!(hub.has_topic("gen"));
    hub.remove_topic("gen");
    assert!(!hub.has_topic("gen"));
    let again = hub.publish("gen", None, "new").unwrap();
    assert_ne!(
        again.split_once('-').unwrap().0,
        first.split_once('-').unwrap().0
    );
}
