//! The event stream: connect, decode, and reconnect as the policy says.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use ssekit_codec::{Comment, Decoder, Event, Frame};

use crate::client::{Client, Inner, Request};
use crate::error::{Error, ErrorKind};
use crate::policy::{Decision, Outcome, ReconnectPolicy, ResponseCheck};

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
///
/// It is a hand-written state machine: while streaming, each poll reads the body and drains the
/// decoder directly; only connecting and waiting to reconnect run as futures.
pub struct EventStream {
    client: Client,
    request: Request,
    policy: ReconnectPolicy,
    last_event_id: String,
    phase: Phase,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<(StatusCode, HeaderMap, Incoming), Refused>> + Send>>;

enum Phase {
    Connect,
    Connecting(Connecting),
    Wait(Pin<Box<tokio::time::Sleep>>),
    // Boxed: a decoder is much larger than the other phases.
    Streaming(Box<Streaming>),
    Done,
}

struct Streaming {
    body: Incoming,
    decoder: Decoder,
    /// Fires when nothing has arrived for the read timeout.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for EventStream {
    type Item = Result<Item, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.phase {
                Phase::Done => return Poll::Ready(None),
                Phase::Connect => {
                    let future = connect(
                        Arc::clone(&this.client.inner),
                        this.request.method.clone(),
                        this.request.url.clone(),
                        this.request.body.make(),
                        this.headers(),
                        this.policy.response_check().cloned(),
                    );
                    this.phase = Phase::Connecting(Box::pin(future));
                }
                Phase::Connecting(future) => match future.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok((status, headers, body))) => {
                        this.policy.on_open();
                        let decoder = Decoder::with_limits(this.client.inner.limits)
                            .with_comments(this.client.inner.comments)
                            .with_last_event_id(&this.last_event_id);
                        let idle = this
                            .client
                            .inner
                            .read_timeout
                            .map(|t| Box::pin(tokio::time::sleep(t)));
                        this.phase = Phase::Streaming(Box::new(Streaming {
                            body,
                            decoder,
                            idle,
                        }));
                        return Poll::Ready(Some(Ok(Item::Open { status, headers })));
                    }
                    Poll::Ready(Err(Refused::Fatal(e))) => {
                        this.phase = Phase::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Err(Refused::Outcome(outcome, error))) => {
                        return Poll::Ready(this.after(outcome, Some(error)));
                    }
                },
                Phase::Wait(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.phase = Phase::Connect;
                }
                Phase::Streaming(_) => {
                    if let Some(ready) = this.poll_streaming(cx) {
                        return ready;
                    }
                }
            }
        }
    }
}

impl EventStream {
    pub(crate) fn new(client: Client, request: Request, policy: ReconnectPolicy) -> Self {
        let last_event_id = request.last_event_id.clone().unwrap_or_default();
        EventStream {
            client,
            request,
            policy,
            last_event_id,
            phase: Phase::Connect,
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

    /// One step of the streaming phase: `None` to go round the loop again, else what to return.
    fn poll_streaming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Option<Result<Item, Error>>>> {
        let Phase::Streaming(streaming) = &mut self.phase else {
            return None;
        };
        match streaming.decoder.next_frame() {
            Ok(Some(frame)) => {
                let item = match frame {
                    Frame::Event(e) => Item::Event(e),
                    Frame::Retry(ms) => {
                        let retry = Duration::from_millis(ms);
                        self.policy.set_retry(retry);
                        Item::Retry(retry)
                    }
                    Frame::Comment(c) => Item::Comment(c),
                    _ => return None,
                };
                let id = streaming.decoder.last_event_id();
                if id != self.last_event_id.as_str() {
                    self.last_event_id = id.into_owned();
                }
                return Some(Poll::Ready(Some(Ok(item))));
            }
            Ok(None) => {}
            Err(e) => {
                self.phase = Phase::Done;
                let error = Error::new(ErrorKind::Decode, "the event stream exceeded a limit")
                    .with_source(e);
                return Some(Poll::Ready(Some(Err(error))));
            }
        }
        match Pin::new(&mut streaming.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    streaming.decoder.feed_bytes(data);
                }
                if let (Some(idle), Some(t)) = (&mut streaming.idle, self.client.inner.read_timeout)
                {
                    idle.as_mut().reset(tokio::time::Instant::now() + t);
                }
                None
            }
            Poll::Ready(Some(Err(e))) => {
                let error = Error::new(ErrorKind::Network, "reading the event stream failed")
                    .with_source(e);
                Some(Poll::Ready(self.after(Outcome::NetworkError, Some(error))))
            }
            Poll::Ready(None) => {
                // The stream ended: an unterminated last event is dropped.
                while let Ok(Some(_)) = streaming.decoder.finish() {}
                Some(Poll::Ready(self.after(Outcome::Ended, None)))
            }
            Poll::Pending => {
                let timed_out = streaming
                    .idle
                    .as_mut()
                    .is_some_and(|idle| idle.as_mut().poll(cx).is_ready());
                if !timed_out {
                    return Some(Poll::Pending);
                }
                let t = self.client.inner.read_timeout.unwrap_or_default();
                let error = Error::new(ErrorKind::Timeout, format!("nothing received for {t:?}"));
                Some(Poll::Ready(self.after(Outcome::IdleTimeout, Some(error))))
            }
        }
    }

    /// Asks the policy what to do after `outcome`, and sets the next phase.
    fn after(&mut self, outcome: Outcome, error: Option<Error>) -> Option<Result<Item, Error>> {
        match self.policy.decide(&outcome) {
            Decision::Retry(delay) => {
                self.phase = Phase::Wait(Box::pin(tokio::time::sleep(delay)));
                let attempt = self.policy.reconnects();
                Some(Ok(Item::Reconnecting {
                    attempt,
                    delay,
                    cause: outcome,
                }))
            }
            Decision::Stop => {
                self.phase = Phase::Done;
                None
            }
            Decision::Fail => {
                self.phase = Phase::Done;
                Some(Err(error.unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::Network,
                        "the stream ended and may not be reconnected",
                    )
                })))
            }
        }
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

/// Sends the request (following redirects) and checks the answer, with the policy's response
/// check if it has one. Owns what it needs, so the stream can hold it while it runs.
async fn connect(
    inner: Arc<Inner>,
    method: Method,
    url: Uri,
    body: Bytes,
    headers: HeaderMap,
    check: Option<ResponseCheck>,
) -> Result<(StatusCode, HeaderMap, Incoming), Refused> {
    let response = send(&inner, method, url, body, headers).await?;
    let (status, headers, body) = classify(response).await?;
    if let Some(check) = check {
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

/// Sends the request, following at most `max_redirects` redirects.
async fn send(
    inner: &Inner,
    mut method: Method,
    mut url: Uri,
    mut body: Bytes,
    mut headers: HeaderMap,
) -> Result<http::Response<Incoming>, Refused> {
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
        let response = match tokio::time::timeout(inner.connect_timeout, inner.http.request(req))
            .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                let error = Error::new(ErrorKind::Network, format!("connecting to {url} failed"))
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
