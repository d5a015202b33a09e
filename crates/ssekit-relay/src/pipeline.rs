//! The processing pipeline between the upstream and the client.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use ssekit_codec::{Event, EventType};

use crate::redact::Redactor;

/// A boxed future, for async steps.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One processing step: takes an event, emits any number of events. Steps may hold state
/// (and events) between calls; [`finish`](Step::finish) flushes it at the end of the stream.
pub trait Step: Send {
    /// Processes one event, appending what to send on to `out`.
    fn event(&mut self, event: Event, out: &mut Vec<Event>);

    /// The upstream has ended: append anything still held.
    fn finish(&mut self, _out: &mut Vec<Event>) {}
}

enum Stage {
    Sync(Box<dyn Step>),
    Async(Arc<dyn Fn(Event) -> BoxFuture<Vec<Event>> + Send + Sync>),
}

/// A composable chain of steps, applied to each event in order.
///
/// ```
/// use ssekit_relay::Pipeline;
/// use ssekit_codec::Event;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut pipeline = Pipeline::new()
///     .filter(|e: &Event| e.data() != "ping")
///     .map(|e: Event| Event::new(e.data().to_uppercase()))
///     .redact_text(["SECRET"], "***");
/// let out = pipeline.push(Event::new("a secret")).await;
/// assert_eq!(out[0].data(), "A ***");
/// assert!(pipeline.push(Event::new("ping")).await.is_empty());
/// # }
/// ```
#[derive(Default)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &self.stages.len())
            .finish()
    }
}

struct FnStep<F>(F);

impl<F: FnMut(Event, &mut Vec<Event>) + Send> Step for FnStep<F> {
    fn event(&mut self, event: Event, out: &mut Vec<Event>) {
        (self.0)(event, out);
    }
}

impl Pipeline {
    /// An empty pipeline: events pass unchanged.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// Adds a step.
    #[must_use]
    pub fn step(mut self, step: impl Step + 'static) -> Self {
        self.stages.push(Stage::Sync(Box::new(step)));
        self
    }

    /// Transforms each event.
    #[must_use]
    pub fn map(self, mut f: impl FnMut(Event) -> Event + Send + 'static) -> Self {
        self.step(FnStep(move |e, out: &mut Vec<Event>| out.push(f(e))))
    }

    /// Keeps the events for which `f` is true.
    #[must_use]
    pub fn filter(self, mut f: impl FnMut(&Event) -> bool + Send + 'static) -> Self {
        self.step(FnStep(move |e, out: &mut Vec<Event>| {
            if f(&e) {
                out.push(e);
            }
        }))
    }

    /// Replaces each event by any number of events.
    #[must_use]
    pub fn flat_map<I>(self, mut f: impl FnMut(Event) -> I + Send + 'static) -> Self
    where
        I: IntoIterator<Item = Event>,
    {
        self.step(FnStep(move |e, out: &mut Vec<Event>| out.extend(f(e))))
    }

    /// An async step (a moderation call, say): each event in, any number out.
    #[must_use]
    pub fn then<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Event>> + Send + 'static,
    {
        self.stages.push(Stage::Async(Arc::new(move |e| {
            Box::pin(f(e)) as BoxFuture<Vec<Event>>
        })));
        self
    }

    /// Redacts `words` from event data, across event boundaries (see [`Redactor`]).
    #[must_use]
    pub fn redact_text<I, S>(self, words: I, replacement: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let redactor = Redactor::new(words, replacement);
        if !redactor.is_active() {
            return self; // no words: nothing to do, no step
        }
        self.step(TextRedaction {
            redactor,
            last: None,
        })
    }

    /// Redacts `words` from a stream, across event boundaries: from the
    /// `choices[0].delta.content` of OpenAI-compatible streaming chunks, and from the data of
    /// any other event that is not JSON. `[DONE]` and other JSON events pass unchanged, after
    /// any held text is released.
    #[must_use]
    pub fn redact<I, S>(self, words: I, replacement: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let redactor = Redactor::new(words, replacement);
        if !redactor.is_active() {
            return self; // no words: nothing to do, no step
        }
        self.step(Redaction {
            redactor,
            template: None,
        })
    }

    /// Paces the stream to at most `per_second` events a second on average, allowing bursts of
    /// `burst` events (a token bucket): events are delayed, never dropped, so a slow client
    /// or a costly downstream is not flooded. A `per_second` of 0 leaves the stream unpaced.
    #[must_use]
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        if per_second == 0 {
            return self;
        }
        let bucket = Arc::new(tokio::sync::Mutex::new(Bucket {
            tokens: f64::from(burst.max(1)),
            capacity: f64::from(burst.max(1)),
            per_second: f64::from(per_second),
            last: tokio::time::Instant::now(),
        }));
        self.stages.push(Stage::Async(Arc::new(move |event| {
            let bucket = Arc::clone(&bucket);
            Box::pin(async move {
                let mut b = bucket.lock().await;
                loop {
                    let now = tokio::time::Instant::now();
                    let refill = now.duration_since(b.last).as_secs_f64() * b.per_second;
                    b.tokens = (b.tokens + refill).min(b.capacity);
                    b.last = now;
                    if b.tokens >= 1.0 {
                        b.tokens -= 1.0;
                        return vec![event];
                    }
                    let wait = (1.0 - b.tokens) / b.per_second;
                    tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
                }
            }) as BoxFuture<Vec<Event>>
        })));
        self
    }

    /// Drops events whose data is larger than `bytes` (replacing each by an `error` event).
    #[must_use]
    pub fn max_event_size(self, bytes: usize) -> Self {
        self.map(move |e| {
            if e.data().len() <= bytes {
                e
            } else {
                error_event(&format!(
                    "an event of {} bytes was dropped: the limit is {bytes}",
                    e.data().len()
                ))
            }
        })
    }

    /// Runs `event` through every stage.
    pub async fn push(&mut self, event: Event) -> Vec<Event> {
        self.run(vec![event], false).await
    }

    /// Whether any step was added.
    pub(crate) fn has_steps(&self) -> bool {
        !self.stages.is_empty()
    }

    /// Runs several events, in order, through every stage (as many [`push`](Self::push)
    /// calls would, with less work per event).
    pub async fn push_all(&mut self, events: Vec<Event>) -> Vec<Event> {
        if self.stages.is_empty() {
            return events;
        }
        self.run(events, false).await
    }

    /// The end of the stream: flushes every stage.
    pub async fn finish(&mut self) -> Vec<Event> {
        self.run(Vec::new(), true).await
    }

    async fn run(&mut self, mut events: Vec<Event>, finish: bool) -> Vec<Event> {
        for stage in &mut self.stages {
            let mut out = Vec::new();
            match stage {
                Stage::Sync(step) => {
                    for e in events {
                        step.event(e, &mut out);
                    }
                    if finish {
                        step.finish(&mut out);
                    }
                }
                Stage::Async(f) => {
                    let mut queue: VecDeque<Event> = events.into();
                    while let Some(e) = queue.pop_front() {
                        out.extend(f(e).await);
                    }
                }
            }
            events = out;
        }
        events
    }
}

/// The state of [`Pipeline::rate_limit`]'s token bucket.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: tokio::time::Instant,
}

/// An `error` event with a JSON message: what the relay sends when something goes wrong.
pub fn error_event(message: &str) -> Event {
    Event::new(serde_json::json!({ "error": { "message": message } }).to_string())
        .with_type(EventType::new("error").expect("a valid type"))
}

struct TextRedaction {
    redactor: Redactor,
    /// The last event seen, whose type and id held text is released with.
    last: Option<Event>,
}

impl Step for TextRedaction {
    fn event(&mut self, event: Event, out: &mut Vec<Event>) {
        let text = self.redactor.push(event.data());
        out.push(with_data(&event, text));
        self.last = Some(event);
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        let rest = self.redactor.finish();
        if let (false, Some(last)) = (rest.is_empty(), &self.last) {
            out.push(with_data(last, rest));
        }
    }
}

fn with_data(like: &Event, data: String) -> Event {
    let mut event = Event::new(data);
    if like.event_type() != "message" {
        if let Ok(t) = EventType::new(like.event_type()) {
            event = event.with_type(t);
        }
    }
    event
}

/// Where held text is released: in a chunk like the last one, or an event like the last one.
enum Template {
    Chunk(Value),
    Plain(Event),
}

struct Redaction {
    redactor: Redactor,
    template: Option<Template>,
}

/// The `choices[0].delta.content` string of a chunk, mutably.
fn content_mut(chunk: &mut Value) -> Option<&mut Value> {
    chunk
        .get_mut("choices")?
        .get_mut(0)?
        .get_mut("delta")?
        .get_mut("content")
        .filter(|c| c.is_string())
}

impl Redaction {
    fn release(&mut self, out: &mut Vec<Event>) {
        let rest = self.redactor.finish();
        if rest.is_empty() {
            return;
        }
        match self.template.take() {
            Some(Template::Chunk(mut chunk)) => {
                if let Some(content) = content_mut(&mut chunk) {
                    *content = Value::String(rest);
                }
                out.push(Event::new(chunk.to_string()));
            }
            Some(Template::Plain(event)) => out.push(with_data(&event, rest)),
            None => out.push(Event::new(rest)),
        }
    }
}

impl Step for Redaction {
    fn event(&mut self, event: Event, out: &mut Vec<Event>) {
        if !self.redactor.is_active() {
            out.push(event);
            return;
        }
        if event.data().trim() == "[DONE]" {
            self.release(out);
            out.push(event);
            return;
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(event.data()) else {
            // Plain text: redact the data itself.
            let text = self.redactor.push(event.data());
            out.push(with_data(&event, text));
            self.template = Some(Template::Plain(event));
            return;
        };
        let Some(content) = content_mut(&mut chunk) else {
            // JSON without content (a role, a finish reason): release first, keep the order.
            self.release(out);
            out.push(event);
            return;
        };
        let text = content.as_str().unwrap_or_default().to_owned();
        *content = Value::String(self.redactor.push(&text));
        out.push(with_data(&event, chunk.to_string()));
        if let Some(c) = content_mut(&mut chunk) {
            *c = Value::String(String::new());
        }
        self.template = Some(Template::Chunk(chunk));
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        self.release(out);
    }
}
