//! The reconnect policy: a small value that decides, from what happened, whether and when to
//! reconnect. It does no I/O and reads no clock, so it is tested on its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// What happened to a connection, as the policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The response ended normally (the server closed the stream).
    Ended,
    /// Connecting or reading failed (refused, reset, TLS, ...).
    NetworkError,
    /// Nothing arrived, not even a keep-alive comment, for the read timeout.
    IdleTimeout,
    /// The server answered with this status (not 2xx), and perhaps a `Retry-After`.
    Status {
        /// The status.
        status: StatusCode,
        /// The `Retry-After` delay, if the server sent one.
        retry_after: Option<Duration>,
    },
    /// A 2xx answer that is not `text/event-stream`.
    WrongContentType,
    /// The response check ([`ReconnectPolicy::with_response_check`]) rejected the response.
    Rejected {
        /// The check's reason.
        reason: String,
    },
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Reconnect after this delay.
    Retry(Duration),
    /// End the stream normally.
    Stop,
    /// End the stream with an error.
    Fail,
}

/// A user's override: sees the outcome and the policy's decision, returns the decision to take.
pub type Hook = Arc<dyn Fn(&Outcome, Decision) -> Decision + Send + Sync>;

/// Validates an opened response (status and headers) before its events are read; an `Err`
/// with a reason rejects it.
pub type ResponseCheck =
    Arc<dyn Fn(http::StatusCode, &http::HeaderMap) -> Result<(), String> + Send + Sync>;

/// When and how to reconnect.
///
/// The default is `EventSource`'s behaviour, plus what users of fetch-based clients ask for:
/// - a stream that ends normally is reconnected after the retry time (3 s, or the server's
///   `retry:`), sending `Last-Event-ID`; [`reconnect_on_end`](Self::reconnect_on_end) turns
///   that off, for a request (such as a non-idempotent POST) that must not be sent again;
/// - network errors and idle timeouts reconnect; repeated failures back off exponentially with
///   full jitter up to a cap, and a healthy connection resets the backoff;
/// - HTTP 204 stops; 408, 429, 500, 502, 503 and 504 are retried (honouring `Retry-After`);
///   any other status and a wrong content type are fatal;
/// - an optional budget of reconnections, after which a failure is fatal and a normal end
///   stops;
/// - a [`ResponseCheck`] can reject an opened response, and a [`Hook`] can override every
///   decision.
///
/// ```
/// use std::time::Duration;
/// use ssekit_client::{Decision, Outcome, ReconnectPolicy};
///
/// let mut policy = ReconnectPolicy::default().with_jitter_seed(7);
/// policy.set_retry(Duration::from_millis(500)); // the server's `retry:`
/// assert_eq!(policy.decide(&Outcome::Ended), Decision::Retry(Duration::from_millis(500)));
/// let status = http::StatusCode::NO_CONTENT;
/// assert_eq!(policy.decide(&Outcome::Status { status, retry_after: None }), Decision::Stop);
/// ```
#[derive(Clone)]
pub struct ReconnectPolicy {
    retry: Duration,
    max_backoff: Duration,
    max_reconnects: Option<u32>,
    reconnect_on_end: bool,
    reconnects: u32,
    failures: u32,
    rng: u64,
    hook: Option<Hook>,
    response_check: Option<ResponseCheck>,
}

impl fmt::Debug for ReconnectPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectPolicy")
            .field("retry", &self.retry)
            .field("max_backoff", &self.max_backoff)
            .field("max_reconnects", &self.max_reconnects)
            .field("reconnect_on_end", &self.reconnect_on_end)
            .field("reconnects", &self.reconnects)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
        ReconnectPolicy {
            retry: Duration::from_secs(3),
            max_backoff: Duration::from_secs(30),
            max_reconnects: None,
            reconnect_on_end: true,
            reconnects: 0,
            failures: 0,
            rng: seed | 1,
            hook: None,
            response_check: None,
        }
    }
}

/// Whether a status is worth retrying (the server may recover).
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

impl ReconnectPolicy {
    /// Never reconnects: a normal end stops, anything else fails.
    pub fn never() -> Self {
        ReconnectPolicy::default().with_max_reconnects(0)
    }

    /// The initial retry time (default 3 s); the server's `retry:` replaces it.
    #[must_use]
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// The longest backoff after repeated failures (default 30 s).
    #[must_use]
    pub fn with_max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
        self
    }

    /// At most this many reconnections in all.
    #[must_use]
    pub fn with_max_reconnects(mut self, max: u32) -> Self {
        self.max_reconnects = Some(max);
        self
    }

    /// Whether a stream that ends normally is reconnected (default `true`, as `EventSource`).
    #[must_use]
    pub fn reconnect_on_end(mut self, reconnect: bool) -> Self {
        self.reconnect_on_end = reconnect;
        self
    }

    /// Seeds the jitter, for reproducible delays.
    #[must_use]
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.rng = seed | 1;
        self
    }

    /// Lets `hook` override each decision.
    #[must_use]
    pub fn with_hook(mut self, hook: Hook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Validates each opened response (2xx, `text/event-stream`) before reading it: an `Err`
    /// becomes [`Outcome::Rejected`], fatal unless a [`Hook`] decides otherwise.
    #[must_use]
    pub fn with_response_check(mut self, check: ResponseCheck) -> Self {
        self.response_check = Some(check);
        self
    }

    /// The response check, if any.
    pub fn response_check(&self) -> Option<&ResponseCheck> {
        self.response_check.as_ref()
    }

    /// The server's `retry:` field.
    pub fn set_retry(&mut self, retry: Duration) {
        self.retry = retry;
    }

    /// The current retry time.
    pub fn retry(&self) -> Duration {
        self.retry
    }

    /// A connection opened healthily (2xx, `text/event-stream`): the backoff starts over.
    pub fn on_open(&mut self) {
        self.failures = 0;
    }

    /// How many reconnections have been decided so far.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for jitter.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The delay after a failure: the retry time for the first, then exponential growth with
    /// full jitter (a random delay between the retry time and the growing ceiling), capped.
    fn backoff(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if self.failures <= 1 {
            return self.retry.min(self.max_backoff.max(self.retry));
        }
        let exp = self.failures.min(20) - 1;
        // Grow from at least 100 ms, so that `retry: 0` cannot make a tight loop of failures.
        let base = self.retry.max(Duration::from_millis(100));
        let ceiling = base
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .max(self.retry);
        let span = ceiling.saturating_sub(self.retry).as_millis() as u64;
        let jitter = if span == 0 {
            0
        } else {
            self.next_random() % (span + 1)
        };
        self.retry.min(ceiling) + Duration::from_millis(jitter)
    }

    /// Decides what to do after `outcome`.
    pub fn decide(&mut self, outcome: &Outcome) -> Decision {
        let budget_left = self.max_reconnects.is_none_or(|max| self.reconnects < max);
        let decision = match outcome {
            Outcome::Ended if !self.reconnect_on_end || !budget_left => Decision::Stop,
            Outcome::Ended => {
                self.failures = 0;
                Decision::Retry(self.retry)
            }
            Outcome::Status { status, .. } if *status == StatusCode::NO_CONTENT => Decision::Stop,
            Outcome::Status {
                status,
                retry_after,
            } if is_retryable(*status) => {
                if budget_left {
                    let backoff = self.backoff();
                    Decision::Retry(retry_after.map_or(backoff, |r| r.max(backoff)))
                } else {
                    Decision::Fail
                }
            }
            Outcome::NetworkError | Outcome::IdleTimeout if budget_left => {
                Decision::Retry(self.backoff())
            }
            Outcome::Status { .. }
            | Outcome::WrongContentType
            | Outcome::Rejected { .. }
            | Outcome::NetworkError
            | Outcome::IdleTimeout => Decision::Fail,
        };
        let decision = match &self.hook {
            Some(hook) => hook(outcome, decision),
            None => decision,
        };
        if matches!(decision, Decision::Retry(_)) {
            self.reconnects = self.reconnects.saturating_add(1);
        }
        decision
    }
}
