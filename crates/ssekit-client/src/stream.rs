//! The event stream: connect, decode, and reconnect as the policy says.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use ssekit_codec::{Comment, Decoder, Event, Frame};

use crate::client::{Client, Request};
use crate::error::{Error, ErrorKind};
use crate::policy::{Decision, Outcome, ReconnectPolicy};

/// One item of an event stream.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Item {
    /// A connection opened: its status and headers.
    Open {
        /// The status (2xx).
        status: StatusCode,
        /// The response headers.
        headers: HeaderMap,
    },
    /// An event.
    Event(Event),
    /// The server set the reconnection time (`retry:`).
    Retry(Duration),
    /// A comment line (only when the client was built with comments on).
    Comment(Comment),
    /// The connection ended or failed and the stream will reconnect after `delay`.
    Reconnecting {
        /// How many reconnections so far, this one included.
        attempt: u32,
        /// The wait before reconnecting.
        delay: Duration,
        /// What happened.
        cause: Outcome,
    },
}

/// The stream of [`Item`]s from [`Client::stream`]. Dropping it closes its connection at once.
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<Item, Error>> + Send>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<Item, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl EventStream {
    pub(crate) fn new(client: Client, request: Request, policy: ReconnectPolicy) -> Self {
        let last_event_id = request.last_event_id.clone().unwrap_or_default();
        let state = State {
            client,
            request,
            policy,
            last_event_id,
            phase: Phase::Connect,
        };
        EventStream {
            inner: Box::pin(futures_util::stream::unfold(state, State::next)),
        }
    }

    /// Only the events; other items are skipped.
    pub fn events(self) -> impl Stream<Item = Result<Event, Error>> + Send {
        futures_util::StreamExt::filter_map(self, |item| async move {
            match item {
                Ok(Item::Event(e)) => Some(Ok(e)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }
}

enum Phase {
    Connect,
    Wait(Duration),
    // Boxed: a decoder is much larger than the other phases.
    Streaming(Box<(Incoming, Decoder)>),
    Done,
}

struct State {
    client: Client,
    request: Request,
    policy: ReconnectPolicy,
    last_event_id: String,
    phase: Phase,
}

/// Why a connection attempt did not give an event stream.
enum Refused {
    /// Worth asking the policy: with this outcome and this error if it gives up.
    Outcome(Outcome, Error),
    /// Fatal whatever the policy says.
    Fatal(Error),
}

const SNIPPET: usize = 512;

/// The first bytes of a body, for an error message (bounded in size and time).
async fn snippet(body: Incoming) -> String {
    let mut body = body;
    let mut out = Vec::new();
    let read = async {
        while out.len() < SNIPPET {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data[..data.len().min(SNIPPET - out.len())]);
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme() == b.scheme() && a.authority() == b.authority()
}

fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if let Ok(uri) = location.parse::<Uri>() {
        if uri.scheme().is_some() {
            return Some(uri);
        }
    }
    let authority = base.authority()?;
    let scheme = base.scheme_str()?;
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}").parse().ok();
    }
    let path = base.path();
    let dir = &path[..=path.rfind('/').unwrap_or(0)];
    format!("{scheme}://{authority}{dir}{location}")
        .parse()
        .ok()
}

impl State {
    async fn next(mut self) -> Option<(Result<Item, Error>, State)> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return None,
                Phase::Wait(delay) => {
                    tokio::time::sleep(delay).await;
                    self.phase = Phase::Connect;
                }
                Phase::Connect => match self.connect().await {
                    Ok((status, headers, body)) => {
                        self.policy.on_open();
                        let decoder = Decoder::with_limits(self.client.inner.limits)
                            .with_comments(self.client.inner.comments)
                            .with_last_event_id(&self.last_event_id);
                        self.phase = Phase::Streaming(Box::new((body, decoder)));
                        return Some((Ok(Item::Open { status, headers }), self));
                    }
                    Err(Refused::Fatal(e)) => return Some((Err(e), self)),
                    Err(Refused::Outcome(outcome, error)) => {
                        return self.after(outcome, Some(error));
                    }
                },
                Phase::Streaming(mut streaming) => {
                    let (body, decoder) = &mut *streaming;
                    match decoder.next_frame() {
                        Ok(Some(frame)) => {
                            let item = match frame {
                                Frame::Event(e) => Item::Event(e),
                                Frame::Retry(ms) => {
                                    let retry = Duration::from_millis(ms);
                                    self.policy.set_retry(retry);
                                    Item::Retry(retry)
                                }
                                Frame::Comment(c) => Item::Comment(c),
                                _ => continue,
                            };
                            let id = decoder.last_event_id();
                            if id != self.last_event_id.as_str() {
                                self.last_event_id = id.into_owned();
                            }
                            self.phase = Phase::Streaming(streaming);
                            return Some((Ok(item), self));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let error =
                                Error::new(ErrorKind::Decode, "the event stream exceeded a limit")
                                    .with_source(e);
                            return Some((Err(error), self));
                        }
                    }
                    let frame = if let Some(t) = self.client.inner.read_timeout {
                        let Ok(frame) = tokio::time::timeout(t, body.frame()).await else {
                            let error = Error::new(
                                ErrorKind::Timeout,
                                format!("nothing received for {t:?}"),
                            );
                            return self.after(Outcome::IdleTimeout, Some(error));
                        };
                        frame
                    } else {
                        body.frame().await
                    };
                    match frame {
                        Some(Ok(frame)) => {
                            if let Ok(data) = frame.into_data() {
                                decoder.feed_bytes(data);
                            }
                            self.phase = Phase::Streaming(streaming);
                        }
                        Some(Err(e)) => {
                            let error =
                                Error::new(ErrorKind::Network, "reading the event stream failed")
                                    .with_source(e);
                            return self.after(Outcome::NetworkError, Some(error));
                        }
                        None => {
                            // The stream ended: an unterminated last event is dropped.
                            while let Ok(Some(_)) = decoder.finish() {}
                            return self.after(Outcome::Ended, None);
                        }
                    }
                }
            }
        }
    }

    /// Asks the policy what to do after `outcome`.
    fn after(
        mut self,
        outcome: Outcome,
        error: Option<Error>,
    ) -> Option<(Result<Item, Error>, State)> {
        match self.policy.decide(&outcome) {
            Decision::Retry(delay) => {
                self.phase = Phase::Wait(delay);
                let attempt = self.policy.reconnects();
                Some((
                    Ok(Item::Reconnecting {
                        attempt,
                        delay,
                        cause: outcome,
                    }),
                    self,
                ))
            }
            Decision::Stop => None,
            Decision::Fail => {
                let error = error.unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::Network,
                        "the stream ended and may not be reconnected",
                    )
                });
                Some((Err(error), self))
            }
        }
    }

    /// Sends the request (following redirects) and checks the answer.
    async fn connect(&self) -> Result<(StatusCode, HeaderMap, Incoming), Refused> {
        let response = self.send().await?;
        let (status, headers, body) = classify(response).await?;
        if let Some(check) = self.policy.response_check() {
            if let Err(reason) = check(status, &headers) {
                let error = Error::new(
                    ErrorKind::Rejected,
                    format!("the response was rejected: {reason}"),
                )
                .with_response(status, String::new());
                return Err(Refused::Outcome(Outcome::Rejected { reason }, error));
            }
        }
        Ok((status, headers, body))
    }

    /// The headers of the next connection: the request's, the hook's, and the SSE ones.
    fn headers(&self) -> HeaderMap {
        let mut headers = self.request.headers.clone();
        if let Some(hook) = &self.request.on_connect {
            hook(&mut headers);
        }
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("text/event-stream"));
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        if !self.last_event_id.is_empty() {
            if let Ok(value) = HeaderValue::from_str(&self.last_event_id) {
                headers.insert("last-event-id", value);
            }
        }
        headers
    }

    /// Sends the request, following at most `max_redirects` redirects.
    async fn send(&self) -> Result<http::Response<Incoming>, Refused> {
        let inner = &self.client.inner;
        let mut method = self.request.method.clone();
        let mut url = self.request.url.clone();
        let mut body = self.request.body.make();
        let mut headers = self.headers();
        for _ in 0..=inner.max_redirects {
            let mut req = http::Request::builder()
                .method(method.clone())
                .uri(url.clone())
                .body(Full::new(body.clone()))
                .map_err(|e| {
                    Refused::Fatal(
                        Error::new(ErrorKind::InvalidRequest, "invalid request").with_source(e),
                    )
                })?;
            *req.headers_mut() = headers.clone();
            let response =
                match tokio::time::timeout(inner.connect_timeout, inner.http.request(req)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(e)) => {
                        let error =
                            Error::new(ErrorKind::Network, format!("connecting to {url} failed"))
                                .with_source(e);
                        return Err(Refused::Outcome(Outcome::NetworkError, error));
                    }
                    Err(_) => {
                        let error = Error::new(
                            ErrorKind::Timeout,
                            format!("no response from {url} within {:?}", inner.connect_timeout),
                        );
                        return Err(Refused::Outcome(Outcome::NetworkError, error));
                    }
                };
            let status = response.status();
            let next = status
                .is_redirection()
                .then(|| response.headers().get(header::LOCATION))
                .flatten()
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resolve(&url, l));
            let Some(next) = next else {
                return Ok(response);
            };
            if status == StatusCode::SEE_OTHER
                || (matches!(status.as_u16(), 301 | 302) && method == Method::POST)
            {
                method = Method::GET;
                body = Bytes::new();
                headers.remove(header::CONTENT_TYPE);
            }
            if !same_origin(&url, &next) {
                // Credentials are for the origin they were given to.
                headers.remove(header::AUTHORIZATION);
                headers.remove(header::COOKIE);
            }
            url = next;
        }
        Err(Refused::Fatal(Error::new(
            ErrorKind::TooManyRedirects,
            format!("more than {} redirects", inner.max_redirects),
        )))
    }
}

/// Accepts a 2xx `text/event-stream` answer; anything else becomes an outcome for the policy,
/// with the status and the first bytes of the body in the error.
async fn classify(
    response: http::Response<Incoming>,
) -> Result<(StatusCode, HeaderMap, Incoming), Refused> {
    let status = response.status();
    let (parts, body) = response.into_parts();
    if !status.is_success() {
        let retry_after = retry_after(&parts.headers);
        let text = snippet(body).await;
        let error = Error::new(ErrorKind::Status, format!("the server answered {status}"))
            .with_response(status, text);
        return Err(Refused::Outcome(
            Outcome::Status {
                status,
                retry_after,
            },
            error,
        ));
    }
    if status == StatusCode::NO_CONTENT {
        let error = Error::new(ErrorKind::Status, "the server answered 204 No Content");
        return Err(Refused::Outcome(
            Outcome::Status {
                status,
                retry_after: None,
            },
            error,
        ));
    }
    if !is_event_stream(&parts.headers) {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let text = snippet(body).await;
        let error = Error::new(
            ErrorKind::ContentType,
            format!("the server answered {status} with content type {content_type}, not text/event-stream"),
        )
        .with_response(status, text);
        return Err(Refused::Outcome(Outcome::WrongContentType, error));
    }
    Ok((status, parts.headers, body))
}
