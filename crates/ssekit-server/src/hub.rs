//! The hub: topics, publishing, and subscriptions that resume with `Last-Event-ID`.

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::task::AtomicWaker;
use ssekit_codec::{Encoder, Event, EventId, EventType};
use tokio::sync::mpsc;

use crate::body::{Batch, Source, SseBody, COALESCE_LIMIT};

/// The event type of the signal a subscriber receives when the hub cannot replay everything
/// after its `Last-Event-ID`: the id is from another epoch (the hub restarted and its history
/// is gone), or older than the replay buffer. The signal carries no id; its data is JSON:
/// `{"last_event_id": "...", "reason": "epoch" | "expired"}`. The retained events follow it.
pub const HISTORY_LOST: &str = "ssekit-history-lost";

/// Settings of a [`Hub`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    replay_events: usize,
    replay_bytes: usize,
    queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            replay_events: 1000,
            replay_bytes: 8 * 1024 * 1024,
            queue: 256,
        }
    }
}

impl HubConfig {
    /// How many events each topic retains for replay (default 1000).
    #[must_use]
    pub fn with_replay_events(mut self, events: usize) -> Self {
        self.replay_events = events;
        self
    }

    /// How many encoded bytes each topic retains for replay at most (default 8 MiB).
    #[must_use]
    pub fn with_replay_bytes(mut self, bytes: usize) -> Self {
        self.replay_bytes = bytes;
        self
    }

    /// How many live events may wait for one subscriber before it is cut off (default 256).
    /// A subscriber that is cut off can resume with its `Last-Event-ID`.
    #[must_use]
    pub fn with_queue(mut self, events: usize) -> Self {
        self.queue = events.max(1);
        self
    }
}

/// What went wrong in the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HubErrorKind {
    /// The topic name is empty, too long, or holds characters other than `A-Z a-z 0-9 - _ . ~`.
    InvalidTopic,
    /// The `Last-Event-ID` is not an id this hub could have issued (`EPOCH-OFFSET`).
    InvalidLastEventId,
    /// The hub has shut down.
    Closed,
}

/// An error from the hub; see [`HubErrorKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubError {
    kind: HubErrorKind,
}

impl HubError {
    fn new(kind: HubErrorKind) -> Self {
        HubError { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> HubErrorKind {
        self.kind
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            HubErrorKind::InvalidTopic => {
                "invalid topic name (1 to 128 characters of A-Z a-z 0-9 - _ . ~)"
            }
            HubErrorKind::InvalidLastEventId => {
                "invalid Last-Event-ID (this hub issues ids of the form EPOCH-OFFSET)"
            }
            HubErrorKind::Closed => "the hub has shut down",
        })
    }
}

impl std::error::Error for HubError {}

/// A subscriber's stream of encoded events, from a [`Backend`]. Turn it into a response body
/// with [`into_body`](Self::into_body).
pub struct Subscription {
    source: Source,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription reading from `rx`, for backends: each item is one or more encoded events.
    /// The stream ends when every sender is dropped.
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Subscription {
            source: Source::Channel(rx),
        }
    }

    /// The response body for this subscription.
    pub fn into_body(self) -> SseBody {
        SseBody::from_source(self.source)
    }

    /// The next encoded bytes (one or more events), or `None` when the stream has ended.
    pub async fn recv(&mut self) -> Option<Bytes> {
        std::future::poll_fn(|cx| self.source.poll_next(cx)).await
    }
}

/// Storage and fan-out behind a [`Hub`]: the in-memory [`MemoryBackend`] by default; a shared
/// engine (such as Redis Streams) can implement it to run the hub on several nodes, without
/// touching the HTTP layer.
///
/// Ids are `EPOCH-OFFSET`: the offset counts a topic's events without gaps, and the epoch
/// changes whenever the topic's retained history was lost, so that a resume can tell "exactly
/// the rest" from "history is gone".
pub trait Backend: Send + Sync + 'static {
    /// Publishes an event to `topic`, assigning its id; returns the id.
    fn publish(
        &self,
        topic: &str,
        event_type: Option<&EventType>,
        data: &str,
    ) -> Result<String, HubError>;

    /// Subscribes to `topic`: the retained events after `last_event_id` (or the
    /// [`HISTORY_LOST`] signal and every retained event, when that id cannot be placed), then
    /// live events, with nothing lost or repeated at the seam.
    fn subscribe(&self, topic: &str, last_event_id: Option<&str>)
        -> Result<Subscription, HubError>;

    /// Ends every subscription cleanly (after the events already queued) and refuses new work.
    fn shutdown(&self);

    /// Ends a topic: its subscribers' streams end after what is queued, publishing is refused,
    /// and a new subscription gets the retained events it asks for and then ends. The
    /// retained events stay until [`remove_topic`](Self::remove_topic).
    fn close_topic(&self, topic: &str);

    /// Forgets a topic and its retained events; its subscribers' streams end.
    fn remove_topic(&self, topic: &str);

    /// Whether the topic exists (has been published or subscribed to, and not removed).
    fn has_topic(&self, topic: &str) -> bool;
}

/// Topics, publishing and resumable subscriptions over a [`Backend`].
///
/// ```
/// use ssekit_server::{Hub, HubConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::new(HubConfig::default().with_replay_events(100));
/// let first = hub.publish("news", None, "one")?;
/// hub.publish("news", None, "two")?;
///
/// // A client that saw `first` resumes with it and gets exactly the rest.
/// let mut resumed = hub.subscribe("news", Some(&first))?;
/// let bytes = resumed.recv().await.unwrap();
/// assert!(std::str::from_utf8(&bytes)?.ends_with("data: two\n\n"));
/// # Ok(())
/// # }
/// ```
pub struct Hub<B: Backend = MemoryBackend> {
    backend: Arc<B>,
}

impl<B: Backend> Clone for Hub<B> {
    fn clone(&self) -> Self {
        Hub {
            backend: Arc::clone(&self.backend),
        }
    }
}

impl<B: Backend> fmt::Debug for Hub<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub<MemoryBackend> {
    /// A hub over the in-memory backend.
    pub fn new(config: HubConfig) -> Self {
        Hub::with_backend(MemoryBackend::new(config))
    }
}

impl<B: Backend> Hub<B> {
    /// A hub over `backend`.
    pub fn with_backend(backend: B) -> Self {
        Hub {
            backend: Arc::new(backend),
        }
    }

    /// Publishes `data` (with an optional type) to `topic`; returns the assigned id.
    pub fn publish(
        &self,
        topic: &str,
        event_type: Option<&EventType>,
        data: &str,
    ) -> Result<String, HubError> {
        self.backend.publish(topic, event_type, data)
    }

    /// Subscribes to `topic`, resuming after `last_event_id` if given.
    pub fn subscribe(
        &self,
        topic: &str,
        last_event_id: Option<&str>,
    ) -> Result<Subscription, HubError> {
        self.backend.subscribe(topic, last_event_id)
    }

    /// Ends every subscription cleanly and refuses new work.
    pub fn shutdown(&self) {
        self.backend.shutdown();
    }

    /// Ends a topic, keeping its retained events for replay; see [`Backend::close_topic`].
    pub fn close_topic(&self, topic: &str) {
        self.backend.close_topic(topic);
    }

    /// Forgets a topic and its retained events.
    pub fn remove_topic(&self, topic: &str) {
        self.backend.remove_topic(topic);
    }

    /// Whether the topic exists.
    pub fn has_topic(&self, topic: &str) -> bool {
        self.backend.has_topic(topic)
    }
}

/// Whether `topic` is a valid topic name.
pub fn is_valid_topic(topic: &str) -> bool {
    (1..=128).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The in-memory backend. Each topic keeps one log of encoded events, shared by every
/// subscriber: an event is encoded once, stored once, and each subscriber holds only its
/// position in the log (no queue of its own). The log keeps the replay window (by count and
/// by bytes) and, while the topic has subscribers, at least the last `queue` events, so that a
/// subscriber up to `queue` events behind can catch up; one further behind is cut off (it can
/// resume with `Last-Event-ID`).
pub struct MemoryBackend {
    config: HubConfig,
    /// The base of every topic's epoch: new for every hub, so a restarted hub never reuses an
    /// epoch and old ids are recognised as from another epoch.
    epoch_base: u64,
    topics: Mutex<HashMap<String, Arc<TopicCell>>>,
    /// Counts topic creations, so that a topic created again (after `remove_topic`) never
    /// reuses an epoch.
    created: std::sync::atomic::AtomicU64,
    closed: std::sync::atomic::AtomicBool,
}

struct Topic {
    config: HubConfig,
    epoch: String,
    epoch_value: u64,
    /// The offset the next event gets; offsets start at 1.
    next: u64,
    /// Encoded events with offsets `log_front..next`.
    log: VecDeque<Bytes>,
    log_front: u64,
    /// The replay window: offsets `replay_front..next`, holding `replay_bytes` bytes.
    replay_front: u64,
    replay_bytes: usize,
}

/// A topic: its log under a read-write lock (subscribers read it side by side), and one waker
/// per subscriber that it registers without a lock.
struct TopicCell {
    log: RwLock<Topic>,
    wakers: Mutex<Wakers>,
    /// `Topic::next`, readable without a lock: a subscriber that registered its waker checks
    /// it, so that an event published in between is not missed.
    published: AtomicU64,
    closed: AtomicBool,
    subscribers: AtomicUsize,
}

/// The subscribers' wakers (a slot each; the lock is taken to subscribe, to leave and to wake
/// everyone, never by a subscriber waiting for an event), and the free slots.
#[derive(Default)]
struct Wakers {
    slots: Vec<Option<Arc<AtomicWaker>>>,
    free: Vec<usize>,
}

impl TopicCell {
    /// Wakes every subscriber that waits for an event.
    fn wake_all(&self) {
        for waker in lock(&self.wakers).slots.iter().flatten() {
            waker.wake();
        }
    }
}

impl Topic {
    fn at(&self, offset: u64) -> &Bytes {
        &self.log[usize::try_from(offset - self.log_front).expect("log offsets fit in usize")]
    }

    /// Appends an event, then shrinks the replay window and the log to their bounds.
    fn push(&mut self, bytes: Bytes, subscribers: usize) {
        self.replay_bytes += bytes.len();
        self.log.push_back(bytes);
        self.next += 1;
        while self.replay_front < self.next
            && (self.next - self.replay_front > self.config.replay_events as u64
                || self.replay_bytes > self.config.replay_bytes)
        {
            self.replay_bytes -= self.at(self.replay_front).len();
            self.replay_front += 1;
        }
        let keep = if subscribers > 0 {
            self.config.queue
        } else {
            0
        };
        while self.log_front < self.replay_front && self.log.len() > keep {
            self.log.pop_front();
            self.log_front += 1;
        }
    }
}

/// A subscriber's position in a topic of the in-memory hub.
pub(crate) struct Cursor {
    topic: Arc<TopicCell>,
    /// The offset of the next event to deliver.
    next: u64,
    /// How far behind the log's end this subscriber may fall before it is cut off.
    allowance: u64,
    /// Once cut off: the offset where its stream ends.
    stop_at: Option<u64>,
    slot: usize,
    waker: Arc<AtomicWaker>,
    /// The history-lost signal, sent first.
    signal: Option<Bytes>,
    done: bool,
    /// The events being handed on, kept to reuse its allocation.
    scratch: Vec<Bytes>,
}

impl Cursor {
    /// The next encoded events: everything from the position on that is in the log (up to
    /// [`COALESCE_LIMIT`] bytes), joined into one buffer.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(signal) = self.signal.take() {
            return Poll::Ready(Some(signal));
        }
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            {
                let t = read(&self.topic.log);
                if self.stop_at.is_none() && t.next - self.next > self.allowance {
                    tracing::debug!("cutting off a subscriber that fell behind");
                    self.stop_at = Some(self.next + self.allowance);
                }
                let end = self.stop_at.map_or(t.next, |stop| stop.min(t.next));
                if self.next < end {
                    if self.next < t.log_front {
                        // The events it needs have left the log: it fell too far behind.
                        self.done = true;
                        return Poll::Ready(None);
                    }
                    // Only reference counts are taken under the lock; the bytes are joined
                    // after it.
                    let mut size = 0;
                    while self.next < end && size < COALESCE_LIMIT {
                        let bytes = t.at(self.next).clone();
                        size += bytes.len();
                        self.scratch.push(bytes);
                        self.next += 1;
                    }
                    drop(t);
                    let mut batch = Batch::for_items(self.scratch.len(), size);
                    for bytes in self.scratch.drain(..) {
                        batch.push(bytes);
                    }
                    return Poll::Ready(batch.into_bytes());
                }
                if self.stop_at.is_some() || self.topic.closed.load(Ordering::SeqCst) {
                    self.done = true;
                    return Poll::Ready(None);
                }
            }
            self.waker.register(cx.waker());
            // Published (or closed) between the look and the registration: look again.
            if self.topic.published.load(Ordering::SeqCst) <= self.next
                && !self.topic.closed.load(Ordering::SeqCst)
            {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        let mut wakers = lock(&self.topic.wakers);
        wakers.slots[self.slot] = None;
        wakers.free.push(self.slot);
        self.topic.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a topic half-updated in a way that matters
    // more than stopping the whole hub would, so a poisoned lock is used as it is.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MemoryBackend {
    /// An empty in-memory backend.
    pub fn new(config: HubConfig) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        MemoryBackend {
            config,
            epoch_base: now,
            topics: Mutex::new(HashMap::new()),
            created: std::sync::atomic::AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn topic(&self, name: &str) -> Result<Arc<TopicCell>, HubError> {
        if !is_valid_topic(name) {
            return Err(HubError::new(HubErrorKind::InvalidTopic));
        }
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(HubError::new(HubErrorKind::Closed));
        }
        let mut topics = lock(&self.topics);
        let topic = topics.entry(name.to_owned()).or_insert_with(|| {
            let count = self
                .created
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let epoch_value = self.epoch_base.wrapping_add(count);
            Arc::new(TopicCell {
                log: RwLock::new(Topic {
                    config: self.config,
                    epoch: format!("{epoch_value:x}"),
                    epoch_value,
                    next: 1,
                    log: VecDeque::new(),
                    log_front: 1,
                    replay_front: 1,
                    replay_bytes: 0,
                }),
                wakers: Mutex::new(Wakers::default()),
                published: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                subscribers: AtomicUsize::new(0),
            })
        });
        Ok(Arc::clone(topic))
    }
}

/// Splits an id this hub issued into its epoch and offset.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (epoch, offset) = id.split_once('-')?;
    let epoch = u64::from_str_radix(epoch, 16).ok()?;
    if offset.is_empty() || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((epoch, offset.parse().ok()?))
}

fn history_lost(last_event_id: &str, reason: &str) -> Bytes {
    let mut quoted = String::with_capacity(last_event_id.len() + 2);
    quoted.push('"');
    for c in last_event_id.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(quoted, "\\u{:04x}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    let data = format!(r#"{{"last_event_id":{quoted},"reason":"{reason}"}}"#);
    let event = Event::new(data).with_type(EventType::new(HISTORY_LOST).expect("a valid type"));
    let mut buf = BytesMut::new();
    Encoder::new().encode_event(&event, &mut buf);
    buf.freeze()
}

impl Backend for MemoryBackend {
    fn publish(
        &self,
        topic: &str,
        event_type: Option<&EventType>,
        data: &str,
    ) -> Result<String, HubError> {
        let topic = self.topic(topic)?;
        let mut t = write(&topic.log);
        if topic.closed.load(Ordering::SeqCst) {
            return Err(HubError::new(HubErrorKind::Closed));
        }
        let id = format!("{}-{}", t.epoch, t.next);
        let mut event =
            Event::new(data).with_id(EventId::new(id.clone()).expect("ids hold no line breaks"));
        if let Some(event_type) = event_type {
            event = event.with_type(event_type.clone());
        }
        // Encoded once and stored once, in the log every subscriber reads.
        let mut buf = BytesMut::new();
        Encoder::new().encode_event(&event, &mut buf); // reserves the exact length itself
        t.push(buf.freeze(), topic.subscribers.load(Ordering::Relaxed));
        topic.published.store(t.next, Ordering::SeqCst);
        drop(t);
        topic.wake_all();
        Ok(id)
    }

    fn subscribe(
        &self,
        topic: &str,
        last_event_id: Option<&str>,
    ) -> Result<Subscription, HubError> {
        let parsed = match last_event_id {
            None => None,
            Some(id) => {
                Some(parse_id(id).ok_or_else(|| HubError::new(HubErrorKind::InvalidLastEventId))?)
            }
        };
        let topic = self.topic(topic)?;
        let t = read(&topic.log);
        // What to replay: the retained events after the id, or all of them after a signal.
        let mut signal = None;
        let replay_from = match parsed {
            None => t.next, // live only
            Some((epoch, offset)) => {
                if epoch != t.epoch_value || offset >= t.next {
                    signal = Some("epoch");
                    t.replay_front
                } else if offset + 1 < t.replay_front {
                    signal = Some("expired");
                    t.replay_front
                } else {
                    offset + 1
                }
            }
        };
        // The position is taken under the lock that publishing appends under: the next event
        // published is the first live one, and none before it comes twice. A closed topic's
        // stream ends after the replay.
        let allowance = self.config.queue as u64 + (t.next - replay_from);
        drop(t);
        let waker = Arc::new(AtomicWaker::new());
        let slot = {
            let mut wakers = lock(&topic.wakers);
            let slot = wakers.free.pop().unwrap_or_else(|| {
                wakers.slots.push(None);
                wakers.slots.len() - 1
            });
            wakers.slots[slot] = Some(Arc::clone(&waker));
            slot
        };
        topic.subscribers.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription {
            source: Source::Topic(Cursor {
                topic,
                next: replay_from,
                allowance,
                stop_at: None,
                slot,
                waker,
                signal: signal
                    .zip(last_event_id)
                    .map(|(reason, id)| history_lost(id, reason)),
                done: false,
                scratch: Vec::new(),
            }),
        })
    }

    fn close_topic(&self, topic: &str) {
        let existing = lock(&self.topics).get(topic).cloned();
        if let Some(topic) = existing {
            let t = write(&topic.log);
            topic.closed.store(true, Ordering::SeqCst);
            drop(t);
            topic.wake_all();
        }
    }

    fn remove_topic(&self, topic: &str) {
        let removed = lock(&self.topics).remove(topic);
        if let Some(topic) = removed {
            let mut t = write(&topic.log);
            topic.closed.store(true, Ordering::SeqCst);
            t.log.clear();
            t.log_front = t.next;
            t.replay_front = t.next;
            t.replay_bytes = 0;
            drop(t);
            topic.wake_all();
        }
    }

    fn has_topic(&self, topic: &str) -> bool {
        lock(&self.topics).contains_key(topic)
    }

    fn shutdown(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let topics: Vec<_> = lock(&self.topics).values().cloned().collect();
        for topic in topics {
            let t = write(&topic.log);
            topic.closed.store(true, Ordering::SeqCst);
            drop(t);
            topic.wake_all(); // each stream ends after the events it has not read yet
        }
    }
}
