//! The reconnect policy on its own: state in, decision out.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use ssekit_client::{Decision, Outcome, ReconnectPolicy};

fn status(code: u16, retry_after: Option<u64>) -> Outcome {
    Outcome::Status {
        status: StatusCode::from_u16(code).unwrap(),
        retry_after: retry_after.map(Duration::from_secs),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_normal_end_reconnects_after_the_retry_time() {
    let mut p = ReconnectPolicy::default();
    assert_eq!(p.decide(&Outcome::Ended), Decision::Retry(ms(3000)));
    p.set_retry(ms(250));
    assert_eq!(p.decide(&Outcome::Ended), Decision::Retry(ms(250)));
    assert_eq!(p.reconnects(), 2);
}

#[test]
fn reconnect_on_end_off_stops_a_finished_stream() {
    let mut p = ReconnectPolicy::default().reconnect_on_end(false);
    assert_eq!(p.decide(&Outcome::Ended), Decision::Stop);
    // Failures still reconnect.
    assert!(matches!(
        p.decide(&Outcome::NetworkError),
        Decision::Retry(_)
    ));
}

#[test]
fn statuses_are_classified_as_the_contract_says() {
    let mut p = ReconnectPolicy::default().with_jitter_seed(1);
    assert_eq!(p.decide(&status(204, None)), Decision::Stop);
    for code in [408, 429, 500, 502, 503, 504] {
        assert!(
            matches!(p.decide(&status(code, None)), Decision::Retry(_)),
            "{code}"
        );
    }
    for code in [400, 401, 403, 404, 405, 410, 501, 505] {
        assert_eq!(p.decide(&status(code, None)), Decision::Fail, "{code}");
    }
    assert_eq!(p.decide(&Outcome::WrongContentType), Decision::Fail);
}

#[test]
fn retry_after_is_honoured() {
    let mut p = ReconnectPolicy::default().with_retry(ms(100));
    assert_eq!(
        p.decide(&status(503, Some(7))),
        Decision::Retry(Duration::from_secs(7))
    );
}

#[test]
fn repeated_failures_back_off_with_full_jitter_up_to_the_cap_and_reset_when_healthy() {
    let mut p = ReconnectPolicy::default()
        .with_retry(ms(1000))
        .with_max_backoff(Duration::from_secs(8))
        .with_jitter_seed(42);
    let mut delays = Vec::new();
    for _ in 0..8 {
        let Decision::Retry(d) = p.decide(&Outcome::NetworkError) else {
            panic!()
        };
        delays.push(d);
    }
    assert_eq!(
        delays[0],
        ms(1000),
        "the first failure waits the retry time"
    );
    for (i, d) in delays.iter().enumerate().skip(1) {
        let ceiling = ms(1000 * (1 << i)).min(Duration::from_secs(8));
        assert!(
            *d >= ms(1000) && *d <= ceiling,
            "failure {}: {d:?} outside 1s..={ceiling:?}",
            i + 1
        );
    }
    assert!(delays.iter().all(|d| *d <= Duration::from_secs(8)));
    // Jitter: the capped delays are not all the same.
    assert!(delays[4..].windows(2).any(|w| w[0] != w[1]), "{delays:?}");
    p.on_open();
    assert_eq!(p.decide(&Outcome::NetworkError), Decision::Retry(ms(1000)));
}

#[test]
fn zero_retry_still_backs_off() {
    let mut p = ReconnectPolicy::default()
        .with_retry(ms(0))
        .with_jitter_seed(3);
    p.decide(&Outcome::NetworkError);
    let mut max = Duration::ZERO;
    for _ in 0..6 {
        if let Decision::Retry(d) = p.decide(&Outcome::NetworkError) {
            max = max.max(d);
        }
    }
    assert!(max > ms(100), "{max:?}");
}

#[test]
fn the_budget_turns_failures_fatal_and_ends_into_stops() {
    let mut p = ReconnectPolicy::default().with_max_reconnects(2);
    assert!(matches!(
        p.decide(&Outcome::NetworkError),
        Decision::Retry(_)
    ));
    assert!(matches!(p.decide(&Outcome::Ended), Decision::Retry(_)));
    assert_eq!(p.decide(&Outcome::NetworkError), Decision::Fail);
    assert_eq!(p.decide(&status(503, None)), Decision::Fail);
    assert_eq!(p.decide(&Outcome::Ended), Decision::Stop);
    let mut never = ReconnectPolicy::never();
    assert_eq!(never.decide(&Outcome::Ended), Decision::Stop);
    assert_eq!(never.decide(&Outcome::IdleTimeout), Decision::Fail);
}

#[test]
fn a_hook_overrides_decisions() {
    let mut p = ReconnectPolicy::default().with_hook(Arc::new(|outcome, decision| match outcome {
        Outcome::Status { status, .. } if status.as_u16() == 401 => {
            Decision::Retry(Duration::from_millis(5))
        }
        _ => decision,
    }));
    assert_eq!(p.decide(&status(401, None)), Decision::Retry(ms(5)));
    assert_eq!(p.decide(&status(404, None)), Decision::Fail);
}

#[test]
fn a_rejected_response_is_fatal_unless_a_hook_says_otherwise() {
    let rejected = Outcome::Rejected {
        reason: "no version header".into(),
    };
    assert_eq!(ReconnectPolicy::default().decide(&rejected), Decision::Fail);
    let mut lenient = ReconnectPolicy::default().with_hook(Arc::new(|o, d| {
        if matches!(o, Outcome::Rejected { .. }) {
            Decision::Retry(Duration::from_millis(1))
        } else {
            d
        }
    }));
    assert_eq!(lenient.decide(&rejected), Decision::Retry(ms(1)));
}
