//! The streaming response body and the sender that feeds it.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Body, Frame as BodyFrame, SizeHint};
use ssekit_codec::{Comment, Encoder, Event, Frame};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The client has gone away (the response body was dropped) or the stream was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disconnected;

impl fmt::Display for Disconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event stream's client has disconnected")
    }
}

impl std::error::Error for Disconnected {}

/// Creates a connected [`Sender`] and [`SseBody`]. `capacity` bounds the events queued for the
/// client; a sender waits (`send`) or fails (`try_send`) when the queue is full.
pub fn channel(capacity: usize) -> (Sender, SseBody) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let token = CancellationToken::new();
    let sender = Sender {
        tx,
        token: token.clone(),
    };
    (sender, SseBody::from_receiver(rx, token))
}

/// Sends events to one client's [`SseBody`]. Cloneable; the stream ends when every sender is
/// dropped.
#[derive(Clone, Debug)]
pub struct Sender {
    tx: mpsc::Sender<Bytes>,
    token: CancellationToken,
}

impl Sender {
    /// Encodes and sends an event, waiting while the client's queue is full.
    pub async fn send(&self, event: &Event) -> Result<(), Disconnected> {
        let mut buf = BytesMut::new();
        Encoder::new().encode_event(event, &mut buf);
        self.send_bytes(buf.freeze()).await
    }

    /// Encodes and sends any frame (an event, a `retry:` time, a comment).
    pub async fn send_frame(&self, frame: &Frame) -> Result<(), Disconnected> {
        let mut buf = BytesMut::new();
        Encoder::new().encode(frame, &mut buf);
        self.send_bytes(buf.freeze()).await
    }

    /// Sends bytes that are already encoded (for example shared by many clients).
    pub async fn send_bytes(&self, bytes: Bytes) -> Result<(), Disconnected> {
        self.tx.send(bytes).await.map_err(|_| Disconnected)
    }

    /// Sends encoded bytes without waiting: `Ok(false)` when the client's queue is full.
    pub fn try_send_bytes(&self, bytes: Bytes) -> Result<bool, Disconnected> {
        match self.tx.try_send(bytes) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Disconnected),
        }
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled() || self.tx.is_closed()
    }

    /// Resolves as soon as the client goes away (its response body is dropped), so a producer
    /// can stop at once: `tokio::select!` on it beside the work.
    pub async fn closed(&self) {
        self.token.cancelled().await;
    }

    /// A token that is cancelled when the client goes away, for tasks that do not hold the
    /// sender.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.token.clone()
    }
}

struct KeepAlive {
    interval: Duration,
    comment: Bytes,
    sleep: Pin<Box<Sleep>>,
}

/// A `text/event-stream` response body: each event is sent as soon as it is queued, in a body
/// frame of its own (so a server flushes it at once) — or, when several are already waiting
/// because the client fell behind, joined into one frame so it catches up with one write;
/// keep-alive comments fill idle time, and dropping the body (the
/// client went away) cancels the sender's token.
///
/// Build one with [`channel`], or from a hub subscription.
pub struct SseBody {
    first: Option<Bytes>,
    source: Source,
    keep_alive: Option<KeepAlive>,
    _cancel_on_drop: Option<DropGuard>,
}

/// Where a body's encoded events come from.
pub(crate) enum Source {
    /// A queue of its own, fed by a [`Sender`] or a backend.
    Channel(mpsc::Receiver<Bytes>),
    /// A position in a topic of the in-memory hub.
    Topic(crate::hub::Cursor),
    /// A stream of encoded events, polled by the body itself (no task, no queue between).
    Stream(Batcher),
}

impl Source {
    /// The next encoded bytes: one event, or several joined when they were already waiting.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        match self {
            Source::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(bytes)) => Poll::Ready(Some(coalesce(bytes, rx))),
                other => other,
            },
            Source::Topic(cursor) => cursor.poll_next(cx),
            Source::Stream(batcher) => batcher.poll_next(cx),
        }
    }
}

/// A producer stream polled by the body, with adaptive batching.
pub(crate) struct Batcher {
    /// `None` once the stream has ended. (The mutex makes the body `Sync` without asking the
    /// stream to be; it is only ever reached through `&mut`, so it is never locked.)
    stream: std::sync::Mutex<Option<Pin<Box<dyn Stream<Item = Bytes> + Send>>>>,
    /// Items taken but not sent yet.
    batch: Batch,
    /// How many times in a row the task has yielded to let more items arrive.
    yields: u8,
}

/// How many scheduler rounds a batch may wait for more items while they keep coming.
const MAX_YIELDS: u8 = 16;

impl Batcher {
    /// Takes what the stream has ready. When an item arrived, the task yields once (it is
    /// woken again at once, behind the tasks that are ready to run) before sending: if the
    /// producer is fed by another task (such as an HTTP client's connection, which hands on
    /// one chunk at a time), its next items arrive meanwhile and go out in the same write.
    /// While nothing more arrives, this costs one scheduler round per frame, not a wait.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let slot = self
            .stream
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut arrived = false;
        while let Some(stream) = slot.as_mut() {
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(bytes)) => {
                    arrived = true;
                    self.batch.push(bytes);
                    if self.batch.len() >= COALESCE_LIMIT {
                        self.yields = 0;
                        return Poll::Ready(self.batch.take().into_bytes());
                    }
                }
                Poll::Ready(None) => *slot = None, // ended: it must not be polled again
                Poll::Pending => break,
            }
        }
        if self.batch.is_empty() {
            return if slot.is_none() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        if arrived && slot.is_some() && self.yields < MAX_YIELDS {
            self.yields += 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yields = 0;
        Poll::Ready(self.batch.take().into_bytes())
    }
}

/// Encoded events joined into one frame. One item is kept as it is; the bytes are copied only
/// when a second joins it.
#[derive(Default)]
pub(crate) enum Batch {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Batch {
    /// A batch that will hold `count` items of `size` bytes in all: with room for them all up
    /// front when there are several.
    pub(crate) fn for_items(count: usize, size: usize) -> Batch {
        if count > 1 {
            Batch::Many(BytesMut::with_capacity(size))
        } else {
            Batch::Empty
        }
    }

    pub(crate) fn push(&mut self, bytes: Bytes) {
        match self {
            Batch::Many(joined) => joined.extend_from_slice(&bytes),
            Batch::Empty => *self = Batch::One(bytes),
            Batch::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + bytes.len());
                joined.extend_from_slice(first);
                joined.extend_from_slice(&bytes);
                *self = Batch::Many(joined);
            }
        }
    }

    fn take(&mut self) -> Batch {
        std::mem::take(self)
    }

    fn is_empty(&self) -> bool {
        matches!(self, Batch::Empty)
    }

    fn len(&self) -> usize {
        match self {
            Batch::Empty => 0,
            Batch::One(bytes) => bytes.len(),
            Batch::Many(bytes) => bytes.len(),
        }
    }

    pub(crate) fn into_bytes(self) -> Option<Bytes> {
        match self {
            Batch::Empty => None,
            Batch::One(bytes) => Some(bytes),
            Batch::Many(bytes) => Some(bytes.freeze()),
        }
    }
}

impl SseBody {
    pub(crate) fn from_receiver(rx: mpsc::Receiver<Bytes>, token: CancellationToken) -> Self {
        SseBody {
            first: None,
            source: Source::Channel(rx),
            keep_alive: None,
            _cancel_on_drop: Some(token.drop_guard()),
        }
    }

    /// A body that polls `stream` for encoded events (one or more complete events per item)
    /// itself, when the client can take more: no task and no queue between the producer and
    /// the connection. Items that arrive in quick succession are joined into one frame: after an
    /// item the body yields once to the scheduler (no timer, no wait), so that items the
    /// producer receives meanwhile go out in the same write. The stream
    /// is dropped with the body, so a client that goes away stops the producer at once.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use ssekit_server::SseBody;
    ///
    /// let events = futures_util::stream::iter(["data: one\n\n", "data: two\n\n"].map(Bytes::from));
    /// let body = SseBody::from_stream(events);
    /// # drop(body);
    /// ```
    pub fn from_stream(stream: impl Stream<Item = Bytes> + Send + 'static) -> Self {
        SseBody::from_source(Source::Stream(Batcher {
            stream: std::sync::Mutex::new(Some(Box::pin(stream))),
            batch: Batch::Empty,
            yields: 0,
        }))
    }

    /// A body without a cancellation token: nobody waits for its client to go away (the hub
    /// notices when the body is dropped).
    pub(crate) fn from_source(source: Source) -> Self {
        SseBody {
            first: None,
            source,
            keep_alive: None,
            _cancel_on_drop: None,
        }
    }

    /// Sends a `: keep-alive` comment whenever no event has been sent for `interval`, so that
    /// proxies and load balancers do not cut an idle connection.
    #[must_use]
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        let mut comment = BytesMut::new();
        Encoder::new().encode_comment(&Comment::new("keep-alive"), &mut comment);
        self.keep_alive = Some(KeepAlive {
            interval,
            comment: comment.freeze(),
            sleep: Box::pin(tokio::time::sleep(interval)),
        });
        self
    }

    /// Starts the stream with a `retry:` field: the client's reconnection time.
    #[must_use]
    pub fn with_retry(mut self, millis: u64) -> Self {
        let mut buf = BytesMut::new();
        if let Some(first) = self.first.take() {
            buf.extend_from_slice(&first);
        }
        Encoder::new().encode_retry(millis, &mut buf);
        self.first = Some(buf.freeze());
        self
    }

    /// Starts the stream with these already-encoded bytes (before any retry set later).
    #[must_use]
    pub fn with_preamble(mut self, bytes: Bytes) -> Self {
        self.first = Some(match self.first.take() {
            None => bytes,
            Some(first) => {
                let mut buf = BytesMut::with_capacity(first.len() + bytes.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&bytes);
                buf.freeze()
            }
        });
        self
    }
}

/// The most bytes [`coalesce`] joins into one frame.
pub(crate) const COALESCE_LIMIT: usize = 64 * 1024;

/// Joins `first` with the events already waiting in `rx` (up to [`COALESCE_LIMIT`] bytes) into
/// one frame: a client that fell behind catches up with one write instead of one per event.
/// Nothing waits for more events: when none are queued, `first` goes out alone, at once.
fn coalesce(first: Bytes, rx: &mut mpsc::Receiver<Bytes>) -> Bytes {
    let mut batch = Batch::One(first);
    while batch.len() < COALESCE_LIMIT {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch.into_bytes().unwrap_or_default()
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(BodyFrame::data(first))));
        }
        match this.source.poll_next(cx) {
            Poll::Ready(Some(bytes)) => {
                if let Some(k) = &mut this.keep_alive {
                    k.sleep.as_mut().reset(Instant::now() + k.interval);
                }
                Poll::Ready(Some(Ok(BodyFrame::data(bytes))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some(k) = &mut this.keep_alive else {
                    return Poll::Pending;
                };
                if k.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                k.sleep.as_mut().reset(Instant::now() + k.interval);
                // Register the timer again so the next interval wakes us.
                let _ = k.sleep.as_mut().poll(cx);
                Poll::Ready(Some(Ok(BodyFrame::data(k.comment.clone()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
