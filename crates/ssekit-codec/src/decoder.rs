//! The incremental decoder: the WHATWG "Server-sent events" parsing and interpretation rules
//! over byte chunks, with limits.
//!
//! How it is organised for speed: a decoder in its ordinary state (the stream started, no line
//! carried over from an earlier chunk, nothing being skipped) takes each line on a fast path in
//! [`Decoder::next`] that tests that state once ([`Slow`]) and reads the line straight from the
//! chunk. Every other state goes, one line at a time, through the general path
//! ([`Decoder::next_line`] and [`Decoder::process`]), which handles any state; both paths
//! interpret a line with the same [`Builder::field`]. Two shortcuts sit on the fast path: a
//! one-line `data:` event is dispatched without the data buffer, and the body of a long
//! multi-line event is taken by a tight loop ([`Decoder::data_lines`]). A small chunk that
//! continues a split line is joined to the line's start in [`Decoder::feed_bytes`], so that
//! a trickle of small chunks stays on the fast path too; only the lines up to the chunk's last
//! line break are decoded then, and the line that the chunk ends inside stays in the join
//! buffer for the next chunk (`Decoder::pending`) rather than being carried over again. A
//! split `data:` line in the body of a multi-line event goes, piece by piece, straight into
//! the data buffer instead ([`Decoder::data_tail`]), so that its bytes are copied once; and a
//! small chunk that goes on with such a body is taken as soon as it is fed
//! ([`Decoder::stream_data`]), so that `next_frame` has nothing to do for it. The data of small
//! multi-line events is split off one shared buffer (see [`DataBuf::take`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{Comment, Event, EventType, Frame, RawEvent, RawFrame};
use crate::limits::Limits;
use crate::text::{Text, Value, INLINE};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Lines are searched for their end eight bytes at a time for up to this many bytes before
/// `memchr2` takes over: for the short lines of small events (`id: 7`, `event: tick`) that is
/// cheaper than `memchr2`'s setup.
const SHORT_LINE: usize = 32;

/// A chunk that continues a line is joined to the line's start when both together are at most
/// this long.
const JOIN_MAX: usize = 512;
/// The room `partial` makes when it runs out, for joining many small chunks in one buffer.
const JOIN_BUFFER: usize = 4096;

/// Chunks up to this long that continue the body of a multi-line event are taken at once
/// (see [`Decoder::stream_data`]); for larger ones the decoding loop's set-up is no cost worth
/// saving, and its own loop over `data:` lines is the quicker (measured).
const STREAM_MAX: usize = 1024;

/// Data of several lines at least this long is taken on by [`Decoder::data_lines`]: the
/// body of a long event. For the third line of a short event the general fast path is cheaper
/// (measured).
const LONG_DATA: usize = 256;

/// Data of several lines up to this long is split off the data buffer when the event is
/// dispatched, and the rest of the buffer is kept for the next event: the data of many small
/// events share one allocation of (at least) [`JOIN_ARENA`] bytes. A buffer dropped with its
/// event's data (an error, the end of the stream) is kept only if its capacity is at most
/// [`SPARE_MAX`].
const COPY_OUT_MAX: usize = 1024;
const JOIN_ARENA: usize = 4096;
const SPARE_MAX: usize = 8192;

/// The data buffer of the event being built. One `data:` line (the common case) is kept as a
/// slice of the input; only a second line makes a copy.
#[derive(Debug, Default)]
enum DataBuf {
    #[default]
    Empty,
    /// One line, `chunk[start..end]` of the decoder's current chunk: the slice is made only
    /// when the event is taken (or the chunk replaced, see [`Decoder::settle_data`]), so that
    /// the first line of data of several lines, which is copied when the second comes, costs
    /// no `Bytes` (measured: a reference count taken and given back per event).
    InChunk {
        start: usize,
        end: usize,
    },
    One(Value),
    Many(BytesMut),
}

impl DataBuf {
    /// The data length in bytes, not counting the final LF the spec appends and then removes.
    #[inline]
    fn len(&self) -> usize {
        match self {
            DataBuf::Empty => 0,
            DataBuf::InChunk { start, end } => end - start,
            DataBuf::One(b) => b.len(),
            DataBuf::Many(b) => b.len(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, DataBuf::Empty)
    }

    /// Appends the line `src[start..end]`: as a slice of `src` if it is the first (as a
    /// position in `chunk` if `src` is the chunk, `IN_CHUNK`), else copied after an LF.
    #[allow(clippy::inline_always)] // measured, as for `Builder::field`
    #[inline(always)]
    fn push<const IN_CHUNK: bool>(
        &mut self,
        src: &Bytes,
        chunk: &Bytes,
        start: usize,
        end: usize,
        spare: &mut BytesMut,
        last_large: usize,
    ) {
        match self {
            DataBuf::Empty if IN_CHUNK => *self = DataBuf::InChunk { start, end },
            DataBuf::Empty => *self = DataBuf::One(Value::slice_of(src, start, end)),
            DataBuf::InChunk {
                start: first_start,
                end: first_end,
            } => {
                let first = &chunk[*first_start..*first_end];
                *self = DataBuf::Many(Self::join(first, &src[start..end], spare));
            }
            DataBuf::One(first) => {
                *self = DataBuf::Many(Self::join(first.as_bytes(), &src[start..end], spare));
            }
            DataBuf::Many(joined) => {
                let value = &src[start..end];
                reserve_data(joined, 1 + value.len(), last_large);
                joined.put_u8(b'\n');
                joined.extend_from_slice(value);
            }
        }
    }

    /// The first two lines of data, joined, with room for more: in `spare`, the buffer of an
    /// earlier event, if there is one.
    #[inline(never)]
    fn join(first: &[u8], second: &[u8], spare: &mut BytesMut) -> BytesMut {
        let mut joined = core::mem::take(spare);
        let room = (first.len() + 1 + second.len()) * 2;
        // The first buffer is an arena that the data of later small events are split off.
        joined.reserve(if joined.capacity() == 0 {
            room.max(JOIN_ARENA)
        } else {
            room
        });
        joined.extend_from_slice(first);
        joined.put_u8(b'\n');
        joined.extend_from_slice(second);
        joined
    }

    /// The data, leaving the buffer empty. Data of several lines goes through
    /// [`DataBuf::take_many`].
    #[allow(clippy::inline_always)] // measured: a call per event otherwise
    #[inline(always)]
    fn take(&mut self, chunk: &Bytes, spare: &mut BytesMut, last_large: &mut usize) -> Value {
        match core::mem::take(self) {
            DataBuf::Empty => Value::EMPTY,
            DataBuf::InChunk { start, end } => Value::slice_of(chunk, start, end),
            DataBuf::One(v) => v,
            DataBuf::Many(b) => Self::take_many(b, spare, last_large),
        }
    }

    /// The data of several lines in `b`. Small data is split off `b` (or, when tiny, copied
    /// inline), and the rest of `b` is kept in `spare` for the next event, so that the data of
    /// many small events share one allocation rather than needing two each (the buffer, and
    /// the shared header that freezing it makes). Large data is `b` itself, frozen, and its
    /// length is noted in `last_large` (see [`reserve_data`]).
    #[inline(never)]
    fn take_many(mut b: BytesMut, spare: &mut BytesMut, last_large: &mut usize) -> Value {
        if b.len() > COPY_OUT_MAX {
            *last_large = b.len();
            return Value::from_bytes(b.freeze());
        }
        let value = if b.len() <= INLINE {
            let value = Value::copy_from(&b);
            b.clear();
            value
        } else {
            Value::from_bytes(b.split().freeze())
        };
        // What is left of the buffer is kept for the next event's data if it is worth it; a
        // new arena is made only when another event needs one (see `join`), so an idle
        // decoder holds none.
        if (COPY_OUT_MAX..=SPARE_MAX).contains(&b.capacity()) {
            *spare = b;
        }
        value
    }

    /// Keeps the buffer `b`, emptied, as `spare`, unless it is large.
    fn recycle(mut b: BytesMut, spare: &mut BytesMut) {
        if b.capacity() <= SPARE_MAX {
            b.clear();
            *spare = b;
        }
    }

    /// Drops the data, keeping its buffer as `spare` as [`DataBuf::take`] does.
    fn clear(&mut self, spare: &mut BytesMut) {
        if let DataBuf::Many(b) = core::mem::take(self) {
            Self::recycle(b, spare);
        }
    }
}

/// Makes room in the data buffer `joined` for `additional` more bytes. `last_large` is the
/// length of the last large data (see [`DataBuf::take_many`]), 0 if none: when the buffer has
/// to grow and its data has come within a quarter of that, it grows straight to it, since the
/// events of a stream tend to be alike. Growing by doubling alone, a large event's buffer was
/// moved (copied) five times on the way to 64 KiB, which in a trickle of small chunks cost a
/// tenth of the decoding (measured: the small allocations of the trickle keep `realloc` from
/// growing it in place). Where that guess is wrong the buffer holds at most four times its
/// data, against two for doubling.
#[inline]
fn reserve_data(joined: &mut BytesMut, additional: usize, last_large: usize) {
    if joined.capacity() - joined.len() < additional {
        grow_data(joined, additional, last_large);
    }
}

/// See [`reserve_data`].
#[inline(never)]
fn grow_data(joined: &mut BytesMut, additional: usize, last_large: usize) {
    let needed = joined.len() + additional;
    let target = if last_large > needed && needed.saturating_mul(4) >= last_large {
        last_large
    } else {
        needed
    };
    joined.reserve(target - joined.len());
}

/// The AVX2 searcher for line breaks (CR or LF), where the CPU has AVX2. `memchr2` makes its
/// searcher (and picks the CPU's routine through a function pointer) on every call, which for
/// the short haystacks of small chunks and lines cost about a third of the search (measured);
/// this one is made once. (Kept in the decoder instead, it saved another 1% of the
/// instructions but made the decoder 544 bytes instead of 336.) Without `std` the CPU cannot be
/// asked, and `memchr2` decides from the compile-time target.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
static AVX2_LINE_BREAKS: std::sync::OnceLock<Option<memchr::arch::x86_64::avx2::memchr::Two>> =
    std::sync::OnceLock::new();

/// See [`AVX2_LINE_BREAKS`].
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
fn avx2_line_breaks() -> Option<&'static memchr::arch::x86_64::avx2::memchr::Two> {
    AVX2_LINE_BREAKS
        .get_or_init(|| memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n'))
        .as_ref()
}

/// The position of the first CR or LF in `haystack`, as `memchr2` finds it.
#[inline]
fn find_line_break(haystack: &[u8]) -> Option<usize> {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(searcher) = avx2_line_breaks() {
        return searcher.find(haystack);
    }
    memchr::memchr2(b'\r', b'\n', haystack)
}

/// [`find_line_break`], not inlined: for the decoding loop's fast path, where inlining it made
/// the loop as a whole slower (measured).
#[inline(never)]
fn find_line_break_outlined(haystack: &[u8]) -> Option<usize> {
    find_line_break(haystack)
}

/// The position of the last CR or LF in `haystack`, as `memrchr2` finds it.
#[inline]
fn rfind_line_break(haystack: &[u8]) -> Option<usize> {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(searcher) = avx2_line_breaks() {
        return searcher.rfind(haystack);
    }
    memchr::memrchr2(b'\r', b'\n', haystack)
}

/// The decoder states that the fast path leaves to the general one, as a set of bits, so that
/// the fast path tests them all at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slow(u8);

impl Slow {
    /// The stream's start (and its optional BOM) has not been handled yet.
    const NOT_STARTED: Slow = Slow(1);
    /// The last line ended with a CR at the end of a chunk: skip one LF if it comes next.
    const SKIP_LF: Slow = Slow(2);
    /// The rest of an over-long (or skipped) line is being discarded.
    const DISCARDING_LINE: Slow = Slow(4);
    /// The rest of an event that exceeded a limit is being skipped, up to the next blank line.
    const DISCARDING_EVENT: Slow = Slow(8);
    /// A `data:` line split across chunks is being appended straight to the data buffer (see
    /// [`Decoder::data_tail`]).
    const DATA_TAIL: Slow = Slow(16);

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn contains(self, state: Slow) -> bool {
        self.0 & state.0 != 0
    }

    fn insert(&mut self, state: Slow) {
        self.0 |= state.0;
    }

    fn remove(&mut self, state: Slow) {
        self.0 &= !state.0;
    }
}

/// The event being built and the stream's last event ID: everything that interpreting a line
/// changes. It is apart from the input so that a line can be read from the chunk while this
/// changes.
// Each flag is an independent piece of the spec's state; an enum would tie them together.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
struct Builder {
    data: DataBuf,
    /// Every piece of `data` is known to be valid UTF-8.
    data_utf8: bool,
    event_type: Option<Value>,
    event_type_utf8: bool,
    /// The spec's "last event ID buffer".
    last_id: Value,
    last_id_utf8: bool,
    /// The spec's "last event ID string": the buffer's value at the last dispatch.
    dispatched_id: Value,
    /// An `id:` field was taken since the last dispatch.
    id_set: bool,
    /// An empty buffer (with capacity) for the data of the next event of several lines.
    spare: BytesMut,
    /// The length of the last event data too large to share a buffer (see
    /// [`reserve_data`]); 0 if none.
    last_large: usize,
}

/// What a line gave: an event is ready (its parts are still in the [`Builder`], for
/// [`Decoder::take_event`] or [`Decoder::take_raw_event`] to take), a retry time, or a
/// comment. Small, so that it is cheap to return through the decoding loop.
enum Step {
    Event,
    /// The most common event, `data: VALUE` LF LF with nothing else pending: its data is
    /// `chunk[start..end]`, taken without the data buffer.
    Single {
        start: usize,
        end: usize,
        known_utf8: bool,
    },
    Retry(u64),
    Comment(Value),
}

/// The field a line names.
#[derive(Clone, Copy)]
enum Name {
    Data,
    Event,
    Id,
    Retry,
    Comment,
    Other,
}

/// The field a non-empty line names, and where its value starts: the name ends at the first
/// colon, and one space after the colon is not part of the value. A line without a colon is a
/// name with an empty value.
#[allow(clippy::inline_always)] // measured, as for `Builder::field`
#[inline(always)]
fn split_field(line: &[u8]) -> (Name, usize) {
    // The common lines by their prefix, without a search.
    let (name, colon) = if line.starts_with(b"data:") {
        (Name::Data, 4)
    } else if line.starts_with(b"id:") {
        (Name::Id, 2)
    } else if line.starts_with(b"event:") {
        (Name::Event, 5)
    } else {
        let colon = if line.len() < 32 {
            line.iter().position(|&b| b == b':') // short lines: cheaper than memchr's setup
        } else {
            memchr::memchr(b':', line)
        };
        let colon = colon.unwrap_or(line.len());
        let name = match &line[..colon] {
            b"" => Name::Comment,
            b"data" => Name::Data,
            b"event" => Name::Event,
            b"id" => Name::Id,
            b"retry" => Name::Retry,
            _ => Name::Other,
        };
        (name, colon)
    };
    let value_start = match line.get(colon + 1) {
        Some(b' ') => colon + 2,
        Some(_) => colon + 1,
        None => line.len(),
    };
    (name, value_start)
}

/// The top bit (0x80) of the first byte of `word` (in memory order, `word` read little-endian)
/// that is below 0x0E, so possibly CR (0x0D) or LF (0x0A); zero if no byte is. Bits above the
/// first may be set wrongly (a borrow), so only the lowest counts. Four operations, against ten
/// for the exact [`line_breaks`]: printable text has no byte below 0x0E, so a hit is almost
/// always the line's end.
#[inline]
fn control_bytes(word: u64) -> u64 {
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    word.wrapping_sub(u64::from_ne_bytes([0x0E; 8])) & !word & HIGH
}

/// The bytes of `word` that are CR or LF, as their top bits (0x80) set; no false positives.
#[inline]
fn line_breaks(word: u64) -> u64 {
    const LOW7: u64 = u64::from_ne_bytes([0x7F; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let lf = word ^ u64::from_ne_bytes([b'\n'; 8]);
    let cr = word ^ u64::from_ne_bytes([b'\r'; 8]);
    // A byte's top bit is set here unless the byte is zero (exact, unlike the classic
    // `has_zero` trick, because the low seven bits are added without carries between bytes).
    let lf_nonzero = ((lf & LOW7) + LOW7) | lf;
    let cr_nonzero = ((cr & LOW7) + LOW7) | cr;
    !(lf_nonzero & cr_nonzero) & HIGH
}

impl Builder {
    fn new() -> Self {
        Builder {
            data: DataBuf::Empty,
            data_utf8: true,
            event_type: None,
            event_type_utf8: false,
            last_id: Value::EMPTY,
            last_id_utf8: false,
            dispatched_id: Value::EMPTY,
            id_set: false,
            spare: BytesMut::new(),
            last_large: 0,
        }
    }

    /// Interprets the non-empty line `src[start..end]`. `known_utf8` says whether it is known
    /// to be valid UTF-8. `IN_CHUNK` says that `src` is the decoder's current `chunk`. An
    /// error is a limit exceeded; the caller drops the event.
    // Measured (callgrind): inlined into the fast path, it saves about 15% of the
    // instructions per line of small events.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // all of them needed in the fast path, inlined
    fn field<const IN_CHUNK: bool>(
        &mut self,
        src: &Bytes,
        chunk: &Bytes,
        start: usize,
        end: usize,
        known_utf8: bool,
        limits: &Limits,
        comments: bool,
    ) -> Result<Option<Step>, DecodeErrorKind> {
        let line = &src[start..end];
        let (name, value_start) = split_field(line);
        let value = &line[value_start..];
        let value_start = start + value_start;
        match name {
            Name::Data => {
                let joint = usize::from(!self.data.is_empty());
                if self.data.len() + joint + value.len() > limits.max_event_size() {
                    return Err(DecodeErrorKind::EventTooLarge);
                }
                self.data_utf8 &= known_utf8;
                self.data.push::<IN_CHUNK>(
                    src,
                    chunk,
                    value_start,
                    end,
                    &mut self.spare,
                    self.last_large,
                );
            }
            Name::Event => {
                self.event_type = Some(Value::slice_of(src, value_start, end));
                self.event_type_utf8 = known_utf8;
            }
            // An id holding NUL is ignored.
            Name::Id if !value.contains(&0) => {
                self.last_id = Value::slice_of(src, value_start, end);
                self.last_id_utf8 = known_utf8;
                self.id_set = true;
            }
            Name::Retry => return Ok(parse_retry(value).map(Step::Retry)),
            Name::Comment if comments => {
                return Ok(Some(Step::Comment(Value::slice_of(src, value_start, end))));
            }
            // Comments nobody asked for, unknown fields, and ids holding NUL are ignored.
            Name::Id | Name::Comment | Name::Other => {}
        }
        Ok(None)
    }

    /// Records the last event ID at a dispatch (cheaply, when it has not changed).
    #[inline]
    fn note_dispatch(&mut self) {
        if self.id_set {
            self.id_set = false;
            self.dispatched_id = self.last_id.clone();
        }
    }

    /// Drops the event being built, with an `id:` it set: the last event ID buffer goes back
    /// to the last dispatched value, so that an event dropped by a limit error or at the end
    /// of the stream passes no id on. (At a dispatch the id was noted first, so it stays.)
    fn clear_event(&mut self) {
        self.data.clear(&mut self.spare);
        self.data_utf8 = true;
        self.event_type = None;
        if self.id_set {
            self.id_set = false;
            self.last_id = self.dispatched_id.clone();
            self.last_id_utf8 = false;
        }
    }
}

/// An incremental, spec-exact Server-Sent Events decoder.
///
/// It implements the parsing and interpretation rules of the WHATWG HTML standard,
/// "Server-sent events": one leading BOM is stripped; lines end at CRLF, LF or CR (also when a
/// CRLF is split between chunks); `field: value` is split at the first colon and one leading
/// space of the value is removed; unknown fields are ignored; `id` values holding NUL are
/// ignored; `retry` is accepted only when it is all ASCII digits; a blank line dispatches the
/// event unless its data is empty; the last event ID persists across events; an event that is
/// not terminated by a blank line when the stream ends is dropped.
///
/// Any chunking of the same bytes gives the same frames. Values of lines that arrive whole are
/// handed on as slices of the input chunk without copying; only a line split across chunks, or
/// data of several lines, is copied, once. (A small chunk that continues a split line is copied
/// after the line's start, and all of its lines are then slices of that copy.)
///
/// There are two ways to feed it:
/// - **Push**: [`feed`](Self::feed) (or, without a copy, [`feed_bytes`](Self::feed_bytes)) a
///   chunk, then call [`next_frame`](Self::next_frame) until it returns `Ok(None)`; call
///   [`finish`](Self::finish) at the end of the stream until it returns `Ok(None)`.
/// - **Caller's buffer**: [`decode`](Self::decode) / [`decode_eof`](Self::decode_eof) take the
///   `BytesMut` a reader appends to, as `tokio_util::codec::Decoder` does; they take its bytes
///   without copying and leave it empty.
///
/// ```
/// use ssekit_codec::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// decoder.feed(b"event: greeting\r\ndata: hel");
/// assert_eq!(decoder.next_frame()?, None); // the event is not complete yet
/// decoder.feed(b"lo\ndata: world\r\n\r\nretry: 1500\n");
///
/// let Some(Frame::Event(event)) = decoder.next_frame()? else { panic!() };
/// assert_eq!(event.event_type(), "greeting");
/// assert_eq!(event.data(), "hello\nworld");
/// assert_eq!(decoder.next_frame()?, Some(Frame::Retry(1500)));
/// assert_eq!(decoder.next_frame()?, None);
/// # Ok::<(), ssekit_codec::DecodeError>(())
/// ```
// Each flag is an independent setting or guess; an enum would tie them together.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    comments: bool,

    /// The chunk being parsed, and the position of its first unparsed byte.
    chunk: Bytes,
    pos: usize,
    /// `chunk[..valid_until]` is known to be valid UTF-8 (computed once per chunk, when text
    /// is asked for).
    valid_until: usize,
    validated: bool,
    /// The start of a line that began in an earlier chunk. It holds no line ending.
    partial: BytesMut,
    /// The bytes that follow `chunk` in the stream: the start of a line, without a line
    /// ending, which `chunk` (ending at a line break) does not reach. Non-empty only when a
    /// small chunk was joined to `partial` and cut after its last line break (see
    /// [`Decoder::feed_bytes`]); `partial` is then empty. It becomes `partial` again when the
    /// next chunk comes.
    pending: BytesMut,
    /// The states that need the general path; empty in the ordinary state.
    slow: Slow,
    /// The last line searched was longer than [`SHORT_LINE`]: search the next with `memchr2`
    /// straight away. Only a guess, to pick the faster search.
    long_lines: bool,
    /// While [`Slow::DATA_TAIL`] is set: the length of the split `data:` line so far, and of
    /// its prefix (`data:` or `data: `), whose value so far ends the data buffer.
    tail_len: usize,
    tail_prefix: usize,
    /// The last frame asked for was text (`next_frame` or `finish`, not their raw forms): a
    /// chunk taken as it is fed is checked for UTF-8 (see [`Decoder::stream_data`]).
    text_wanted: bool,

    builder: Builder,
}

/// Where the line being processed lies.
#[derive(Clone, Copy)]
enum Line {
    /// `chunk[start..end]`.
    InChunk { start: usize, end: usize },
    /// A line assembled in `partial` from pieces of several chunks.
    Partial,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// Whether `value` is a valid `retry` value (ASCII digits only), and its value, saturating at
/// `u64::MAX`.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Whether `bytes` is all ASCII. `<[u8]>::is_ascii` takes 64 bytes at a time but the rest one
/// by one, which for the short chunks of a trickle cost more than the rest of their decoding
/// (measured), so the last bytes are checked here a word at a time.
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let (blocks, tail) = bytes.split_at(bytes.len() - bytes.len() % 64);
    if !blocks.is_ascii() {
        return false;
    }
    let word = |w: &[u8; 8]| u64::from_ne_bytes(*w);
    let Some(last) = tail.last_chunk::<8>() else {
        return tail.iter().all(u8::is_ascii);
    };
    // The words of the tail, and its last eight bytes (which may overlap the last word).
    let mut any = word(last);
    for chunk in tail.chunks_exact(8) {
        any |= chunk.first_chunk::<8>().map_or(0, word);
    }
    any & HIGH == 0
}

/// How many bytes at the start of `bytes` are valid UTF-8. Small chunks (those of a trickle,
/// and the joins of them) are tried as ASCII first, cheaper for them than `simdutf8`'s setup;
/// large ones go straight to `simdutf8`, which is as quick on ASCII and does not scan again
/// what an ASCII test gave up on (measured).
#[inline]
fn utf8_prefix(bytes: &[u8]) -> usize {
    if bytes.len() <= 1024 && is_ascii(bytes) {
        return bytes.len();
    }
    utf8_prefix_slow(bytes)
}

/// [`utf8_prefix`] of text that is not all ASCII. Out of line: inlined, it made the decoding
/// loop that calls `utf8_prefix` slower (measured).
#[inline(never)]
fn utf8_prefix_slow(bytes: &[u8]) -> usize {
    // `simdutf8` checks valid text (the common case) several times faster than `core`; it
    // says only whether the bytes are valid, so `core` finds where invalid text starts.
    if simdutf8::basic::from_utf8(bytes).is_ok() {
        return bytes.len();
    }
    match core::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    }
}

/// `value` as text: as it is when known to be valid UTF-8, else checked and repaired.
fn text(value: Value, known_utf8: bool) -> Text {
    if known_utf8 {
        Text::from_checked_utf8(value)
    } else {
        Text::from_utf8_lossy(value)
    }
}

impl Decoder {
    /// A decoder with the default [`Limits`] that does not report comments.
    pub fn new() -> Self {
        Decoder::with_limits(Limits::default())
    }

    /// A decoder with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits,
            comments: false,
            chunk: Bytes::new(),
            pos: 0,
            valid_until: 0,
            validated: false,
            partial: BytesMut::new(),
            pending: BytesMut::new(),
            slow: Slow::NOT_STARTED,
            long_lines: false,
            tail_len: 0,
            tail_prefix: 0,
            text_wanted: true,
            builder: Builder::new(),
        }
    }

    /// Whether comment lines are reported as [`Frame::Comment`] (off by default).
    #[must_use]
    pub fn with_comments(mut self, comments: bool) -> Self {
        self.comments = comments;
        self
    }

    /// Starts from this last event ID, as a reconnecting client does. An id holding NUL is
    /// ignored, as it would be on the wire.
    #[must_use]
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        if !id.as_bytes().contains(&0) {
            self.builder.last_id = Value::copy_from(id.as_bytes());
            self.builder.last_id_utf8 = true;
            self.builder.dispatched_id = self.builder.last_id.clone();
        }
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The stream's last event ID: the value of the last `id:` field at the last dispatch (the
    /// spec's "last event ID string"), which a reconnecting client sends as `Last-Event-ID`. An
    /// `id:` in an event that was never dispatched does not count. Invalid UTF-8 is replaced
    /// with U+FFFD.
    pub fn last_event_id(&self) -> alloc::borrow::Cow<'_, str> {
        alloc::string::String::from_utf8_lossy(self.builder.dispatched_id.as_bytes())
    }

    /// Appends a chunk, copying it; call [`next_frame`](Self::next_frame) next.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.feed_bytes(Bytes::copy_from_slice(chunk));
    }

    /// Appends a chunk without copying it: decoded values are slices of it. Feed the next chunk
    /// once [`next_frame`](Self::next_frame) has returned `Ok(None)`; bytes fed before that
    /// still work, at the cost of a copy. A small chunk (a few hundred bytes) that continues a
    /// line split across chunks is copied too, after the line's start, so that its lines are
    /// decoded in one piece.
    pub fn feed_bytes(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.settle_data();
        if self.pos < self.chunk.len() {
            self.join_unread(&chunk);
        } else if self.partial.is_empty() && self.pending.is_empty() {
            self.chunk = chunk;
            self.pos = 0;
            self.validated = false;
            if self.chunk.len() <= STREAM_MAX
                && matches!(self.builder.data, DataBuf::Many(_))
                && self.slow.0 & !Slow::DATA_TAIL.0 == 0
            {
                self.stream_data();
            }
            return;
        } else if !self.continue_line(chunk) {
            return;
        }
        self.pos = 0;
        self.validated = false;
    }

    /// Takes the chunk's lines at once while they are the body of a multi-line event (the
    /// data buffer has several lines, and the decoder is at a line start or in a split `data:`
    /// line, [`Slow::DATA_TAIL`]), with the steps the decoding loop would take next for them,
    /// [`Decoder::data_tail`] and [`Decoder::data_lines`], stopping at anything else (a blank
    /// line, another field, a line to carry over), which the loop then handles from there.
    /// None of it gives a frame or an error. When a trickle of small chunks carries a long
    /// event, each chunk is then used up here and `next_frame` returns at once, without the
    /// loop's set-up (measured: a fifth fewer instructions for 80-byte data lines in 64-byte
    /// chunks). The chunk is checked for UTF-8 here only if the last frame asked for was text,
    /// as the loop would check it.
    #[inline(never)]
    fn stream_data(&mut self) {
        if self.text_wanted {
            self.validate();
        }
        if self.slow.contains(Slow::DATA_TAIL) {
            self.take_data_tail();
        }
        if self.slow.is_empty() && self.partial.is_empty() {
            // Without carrying over, `data_lines` cannot fail.
            let _ = self.take_data_lines::<false>();
        }
    }

    /// Makes the rest of the chunk, `pending` and `chunk` the new chunk: bytes fed before the
    /// last were used up. Out of line: rare, and inlined it cost every `feed_bytes` call more
    /// register saves (measured).
    #[cold]
    #[inline(never)]
    fn join_unread(&mut self, chunk: &[u8]) {
        let rest = &self.chunk[self.pos..];
        let mut joined = BytesMut::with_capacity(rest.len() + self.pending.len() + chunk.len());
        joined.extend_from_slice(rest);
        joined.extend_from_slice(&self.pending);
        joined.extend_from_slice(chunk);
        self.pending.clear();
        self.chunk = joined.freeze();
    }

    /// Makes data kept as a position in the chunk ([`DataBuf::InChunk`]) a slice of it, before
    /// the chunk is replaced.
    #[inline]
    fn settle_data(&mut self) {
        if let DataBuf::InChunk { start, end } = self.builder.data {
            self.builder.data = DataBuf::One(Value::slice_of(&self.chunk, start, end));
        }
    }

    /// Takes a chunk that continues the line in `partial` (or `pending`), the last chunk being
    /// used up. Returns `true` if the new chunk is to be decoded from its start; `false` if the
    /// chunk was only added to the line (no line ends in it), leaving the decoder's chunk as it
    /// was, or if the new chunk is set up already.
    #[inline]
    fn continue_line(&mut self, chunk: Bytes) -> bool {
        if !self.pending.is_empty() {
            self.resume_pending();
        }
        let joined_len = self.partial.len() + chunk.len();
        if self.partial.is_empty() || joined_len > JOIN_MAX {
            self.chunk = chunk;
            return true;
        }
        // A small chunk that continues a line: join it to the line's start and decode the whole
        // as one chunk, so that the line is read in place like any other.
        if self.partial.capacity() - self.partial.len() < chunk.len() {
            self.partial.reserve(JOIN_BUFFER);
        }
        let from = self.partial.len();
        self.partial.extend_from_slice(&chunk);
        if !self.slow.is_empty()
            || joined_len > self.limits.max_line_length()
            || matches!(self.builder.data, DataBuf::Many(_))
        {
            // (In the body of a multi-line event, the line that the chunk ends inside goes on
            // straight into the data buffer: see `data_lines`. In a long body, the joined chunk
            // is then taken at once, as a chunk that does not continue a line is; for the short
            // bodies of small events that cost more than it saved, measured.)
            self.chunk = self.partial.split().freeze();
            self.pos = 0;
            self.validated = false;
            if self.slow.is_empty()
                && matches!(&self.builder.data, DataBuf::Many(joined) if joined.len() >= LONG_DATA)
            {
                self.stream_data();
            }
            return false;
        }
        // Only up to the last line break: the line that the chunk ends inside stays where it
        // is, for the next chunk, instead of being carried over.
        let Some(last) = rfind_line_break(&self.partial[from..]) else {
            return false; // no line ends yet: nothing to decode
        };
        let mut cut = from + last + 1;
        if self.partial[cut - 1] == b'\r' && self.partial.get(cut) == Some(&b'\n') {
            cut += 1;
        }
        self.chunk = self.partial.split_to(cut).freeze();
        core::mem::swap(&mut self.partial, &mut self.pending);
        true
    }

    /// The chunk is used up and the line start in `pending` follows it: makes it the line
    /// start carried over, as [`Decoder::carry_over`] would have (it was within the line limit
    /// when it was kept).
    fn resume_pending(&mut self) {
        debug_assert!(self.partial.is_empty());
        // The byte after the chunk's last CR, if it ended in one, is the first of `pending`,
        // which is not an LF.
        self.slow.remove(Slow::SKIP_LF);
        if self.slow.contains(Slow::DISCARDING_LINE) || self.slow.contains(Slow::DISCARDING_EVENT) {
            self.pending.clear();
            self.slow.insert(Slow::DISCARDING_LINE);
        } else {
            core::mem::swap(&mut self.partial, &mut self.pending);
        }
    }

    /// The next frame from the bytes fed so far, or `Ok(None)` when more input is needed.
    #[inline]
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.pos >= self.chunk.len() {
            // The chunk is used up (nothing fed since the last `Ok(None)`, or a small chunk
            // was only added to a split line): in every state the decoding loop would return
            // `Ok(None)` at once, changing nothing. Tested here, inlined into the caller, so
            // that such a call costs a few instructions rather than the loop's set-up
            // (measured: a trickle of small chunks makes many).
            return Ok(None);
        }
        self.next_frame_inner()
    }

    /// [`Decoder::next_frame`] past its first test.
    #[inline(never)]
    fn next_frame_inner(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.text_wanted = true;
        Ok(self.next::<true>()?.map(|step| self.frame(step)))
    }

    /// Like [`next_frame`](Self::next_frame), at the byte level (no UTF-8 validation).
    #[inline]
    pub fn next_raw_frame(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        if self.pos >= self.chunk.len() {
            return Ok(None); // as in `next_frame`
        }
        self.next_raw_frame_inner()
    }

    /// [`Decoder::next_raw_frame`] past its first test.
    #[inline(never)]
    fn next_raw_frame_inner(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        self.text_wanted = false;
        Ok(self.next::<false>()?.map(|step| self.raw_frame(step)))
    }

    /// Ends the stream fed so far: returns its remaining frames one per call, then `Ok(None)`,
    /// having dropped an unterminated last line and event as the spec says (an `id:` in that
    /// event included). The decoder is then ready for a new stream (such as a reconnection);
    /// it keeps its last event ID, the one [`last_event_id`](Self::last_event_id) gives.
    pub fn finish(&mut self) -> Result<Option<Frame>, DecodeError> {
        Ok(self.finish_inner::<true>()?.map(|step| self.frame(step)))
    }

    /// Like [`finish`](Self::finish), at the byte level.
    pub fn finish_raw(&mut self) -> Result<Option<RawFrame>, DecodeError> {
        Ok(self
            .finish_inner::<false>()?
            .map(|step| self.raw_frame(step)))
    }

    /// Takes the bytes of `buf` (without copying; `buf` is left empty) and returns the next
    /// frame, or `Ok(None)` when more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.take(buf);
        self.next_frame()
    }

    /// Like [`decode`](Self::decode), at the byte level.
    pub fn decode_raw(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.take(buf);
        self.next_raw_frame()
    }

    /// Like [`decode`](Self::decode), at the end of the stream: see [`finish`](Self::finish).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.take(buf);
        self.finish()
    }

    /// Like [`decode_eof`](Self::decode_eof), at the byte level.
    pub fn decode_raw_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        self.take(buf);
        self.finish_raw()
    }

    fn take(&mut self, buf: &mut BytesMut) {
        if !buf.is_empty() {
            self.feed_bytes(buf.split().freeze());
        }
    }

    /// The frame for a step, as text.
    #[allow(clippy::inline_always)] // measured: it builds the frame in `next_frame`'s result
    #[inline(always)]
    fn frame(&mut self, step: Step) -> Frame {
        match step {
            Step::Event => Frame::Event(self.take_event()),
            Step::Single {
                start,
                end,
                known_utf8,
            } => {
                let data = text(Value::slice_of(&self.chunk, start, end), known_utf8);
                // One `data:` line: no line break in the data.
                Frame::Event(Event::from_parts(
                    EventType::message().into_text(),
                    data,
                    self.last_id_text(),
                    true,
                ))
            }
            Step::Retry(ms) => Frame::Retry(ms),
            Step::Comment(value) => {
                Frame::Comment(Comment::from_text(Text::from_utf8_lossy(value)))
            }
        }
    }

    /// The frame for a step, at the byte level.
    fn raw_frame(&mut self, step: Step) -> RawFrame {
        match step {
            Step::Event => RawFrame::Event(self.take_raw_event()),
            Step::Single {
                start,
                end,
                known_utf8,
            } => RawFrame::Event(RawEvent {
                event_type: None,
                data: Value::slice_of(&self.chunk, start, end),
                id: self.builder.last_id.clone(),
                data_utf8: known_utf8,
                event_type_utf8: false,
                id_utf8: self.builder.last_id_utf8,
            }),
            Step::Retry(ms) => RawFrame::Retry(ms),
            Step::Comment(value) => RawFrame::Comment(value.into_bytes()),
        }
    }

    /// Takes the event that [`Step::Event`] announced, as text.
    #[allow(clippy::inline_always)] // measured: it builds the event in `next_frame`'s result
    #[inline(always)]
    fn take_event(&mut self) -> Event {
        let builder = &mut self.builder;
        // A single `data:` line holds no line break: the encoder can skip looking for one.
        let one_line = !matches!(builder.data, DataBuf::Many(_));
        let data = builder
            .data
            .take(&self.chunk, &mut builder.spare, &mut builder.last_large);
        let data = text(data, core::mem::replace(&mut builder.data_utf8, true));
        let event_type = match builder.event_type.take() {
            Some(t) if !t.is_empty() => text(t, builder.event_type_utf8),
            _ => EventType::message().into_text(),
        };
        Event::from_parts(event_type, data, self.last_id_text(), one_line)
    }

    /// The last event ID as an event's id: `None` when it is empty.
    #[inline]
    fn last_id_text(&self) -> Option<Text> {
        let builder = &self.builder;
        if builder.last_id.is_empty() {
            None
        } else {
            Some(text(builder.last_id.clone(), builder.last_id_utf8))
        }
    }

    /// Takes the event that [`Step::Event`] announced, at the byte level.
    fn take_raw_event(&mut self) -> RawEvent {
        let builder = &mut self.builder;
        RawEvent {
            event_type: builder.event_type.take().filter(|t| !t.is_empty()),
            data: builder
                .data
                .take(&self.chunk, &mut builder.spare, &mut builder.last_large),
            id: builder.last_id.clone(),
            data_utf8: core::mem::replace(&mut builder.data_utf8, true),
            event_type_utf8: builder.event_type_utf8,
            id_utf8: builder.last_id_utf8,
        }
    }

    fn finish_inner<const TEXT: bool>(&mut self) -> Result<Option<Step>, DecodeError> {
        self.text_wanted = TEXT;
        // At the end of the stream a BOM prefix can no longer grow into a BOM (a whole BOM
        // is still stripped, by the loop).
        if self.at_bom_prefix() {
            self.slow.remove(Slow::NOT_STARTED);
        }
        if let Some(step) = self.next::<TEXT>()? {
            return Ok(Some(step));
        }
        // What is left is an unterminated line, and what was built is an unterminated event:
        // both are dropped. Reset for the next stream, keeping the last event ID.
        self.chunk = Bytes::new();
        self.pos = 0;
        self.validated = false;
        self.partial.clear();
        self.pending.clear();
        self.slow = Slow::NOT_STARTED;
        self.builder.clear_event();
        Ok(None)
    }

    /// The next step; `TEXT` says whether UTF-8 validity will be needed.
    ///
    /// The loop takes one line per turn. In the ordinary state (see [`Slow`]) it reads the
    /// line straight from the chunk; any other state goes through the general path.
    #[allow(clippy::inline_always)] // measured, as for `Builder::field`
    #[inline(always)]
    fn next<const TEXT: bool>(&mut self) -> Result<Option<Step>, DecodeError> {
        loop {
            if !self.slow.is_empty() || !self.partial.is_empty() {
                if self.pos >= self.chunk.len() {
                    // In any state, nothing more until more input comes (the general path
                    // would find the same, at the cost of a call).
                    return Ok(None);
                }
                if self.slow.contains(Slow::DATA_TAIL) {
                    if TEXT {
                        self.validate();
                    }
                    self.data_tail();
                    continue;
                }
                let Some(line) = self.next_line(TEXT)? else {
                    return Ok(None);
                };
                if let Some(step) = self.process(line, TEXT)? {
                    return Ok(Some(step));
                }
                continue;
            }
            let start = self.pos;
            let Some(&first) = self.chunk.get(start) else {
                return Ok(None);
            };
            if TEXT {
                self.validate();
            }
            if first == b'\n' || first == b'\r' {
                // A blank line (the end of most events): no search needed.
                if first == b'\n' {
                    self.pos = start + 1;
                } else {
                    self.end_line(start);
                }
                if let Some(step) = self.dispatch() {
                    return Ok(Some(step));
                }
                continue;
            }
            if first == b'd'
                && matches!(&self.builder.data, DataBuf::Many(joined) if joined.len() >= LONG_DATA)
                && self.data_lines()?
            {
                continue;
            }
            let Some(end) = self.find_line_end(start) else {
                self.carry_over()?;
                return Ok(None);
            };
            self.end_line(end);
            if end == start {
                if let Some(step) = self.dispatch() {
                    return Ok(Some(step));
                }
                continue;
            }
            if end - start > self.limits.max_line_length() {
                return Err(self.fail(DecodeErrorKind::LineTooLong));
            }
            let known_utf8 = self.validated && end <= self.valid_until;
            if let Some(step) = self.single_line_event(start, end, known_utf8) {
                return Ok(Some(step));
            }
            match self.builder.field::<true>(
                &self.chunk,
                &self.chunk,
                start,
                end,
                known_utf8,
                &self.limits,
                self.comments,
            ) {
                Ok(None) => {}
                Ok(Some(step)) => return Ok(Some(step)),
                Err(kind) => return Err(self.fail(kind)),
            }
        }
    }

    /// Takes a run of `data:` lines that end in LF inside the chunk, adding to data that
    /// already has several lines, in a tight loop: the body of a long multi-line event. Stops
    /// at anything else or anything doubtful (a CR, a limit about to be exceeded), which the
    /// caller then handles. A line that the chunk ends inside goes on into the data buffer
    /// ([`Slow::DATA_TAIL`]) or, when that cannot be done, is carried over. Returns whether it
    /// moved on.
    #[inline(never)]
    fn data_lines(&mut self) -> Result<bool, DecodeError> {
        self.take_data_lines::<true>()
    }

    /// [`Decoder::data_lines`]; without `CARRY` a line to carry over is left to the caller,
    /// and no error is possible. Inlined into [`Decoder::stream_data`] (measured: as calls, a
    /// tenth more instructions for a trickle of small chunks).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn take_data_lines<const CARRY: bool>(&mut self) -> Result<bool, DecodeError> {
        let DataBuf::Many(joined) = &mut self.builder.data else {
            return Ok(false);
        };
        let start_pos = self.pos;
        while let Some(rest) = self.chunk.get(self.pos..) {
            if !rest.starts_with(b"data:") {
                break;
            }
            let Some(end) = find_line_break(rest) else {
                // The chunk ends inside this line. Once its value has begun (the byte after
                // the colon is known), it goes straight into the data buffer, within limits.
                if let Some(&after_colon) = rest.get(5) {
                    let value_start = if after_colon == b' ' { 6 } else { 5 };
                    let value = &rest[value_start..];
                    if rest.len() <= self.limits.max_line_length()
                        && joined.len() + 1 + value.len() <= self.limits.max_event_size()
                    {
                        reserve_data(joined, 1 + value.len(), self.builder.last_large);
                        joined.put_u8(b'\n');
                        joined.extend_from_slice(value);
                        self.builder.data_utf8 &=
                            self.validated && self.chunk.len() <= self.valid_until;
                        self.tail_len = rest.len();
                        self.tail_prefix = value_start;
                        self.pos = self.chunk.len();
                        self.slow.insert(Slow::DATA_TAIL);
                        return Ok(true);
                    }
                }
                if !CARRY {
                    break;
                }
                self.carry_over()?;
                return Ok(true);
            };
            let value_start = if rest[5] == b' ' { 6 } else { 5 };
            let value = &rest[value_start..end];
            if rest[end] != b'\n'
                || end > self.limits.max_line_length()
                || joined.len() + 1 + value.len() > self.limits.max_event_size()
            {
                break;
            }
            reserve_data(joined, 1 + value.len(), self.builder.last_large);
            joined.put_u8(b'\n');
            joined.extend_from_slice(value);
            let line_end = self.pos + end;
            self.builder.data_utf8 &= self.validated && line_end <= self.valid_until;
            self.pos = line_end + 1;
        }
        Ok(self.pos != start_pos)
    }

    /// Continues a split `data:` line whose start is already at the end of the data buffer
    /// ([`Slow::DATA_TAIL`]) with the chunk's bytes up to the line's end, if the line stays
    /// within the limits. Otherwise the line's start is moved back to `partial`, as if it had
    /// been carried over, and the general path takes it from there.
    #[inline(never)]
    fn data_tail(&mut self) {
        self.take_data_tail();
    }

    /// [`Decoder::data_tail`], inlined into [`Decoder::stream_data`] (as for
    /// [`Decoder::take_data_lines`]).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn take_data_tail(&mut self) {
        let DataBuf::Many(joined) = &mut self.builder.data else {
            // Not reached: the state is only set with data of several lines.
            self.slow.remove(Slow::DATA_TAIL);
            return;
        };
        let rest = &self.chunk[self.pos..];
        let found = find_line_break(rest);
        let piece = found.unwrap_or(rest.len());
        if self.tail_len + piece > self.limits.max_line_length()
            || joined.len() + piece > self.limits.max_event_size()
        {
            let value_start = joined.len() - (self.tail_len - self.tail_prefix);
            self.partial
                .extend_from_slice(&b"data: "[..self.tail_prefix]);
            self.partial.extend_from_slice(&joined[value_start..]);
            joined.truncate(value_start - 1);
            self.slow.remove(Slow::DATA_TAIL);
            return;
        }
        reserve_data(joined, piece, self.builder.last_large);
        joined.extend_from_slice(&rest[..piece]);
        let end = self.pos + piece;
        self.builder.data_utf8 &= self.validated && end <= self.valid_until;
        self.tail_len += piece;
        if found.is_some() {
            self.slow.remove(Slow::DATA_TAIL);
            self.end_line(end);
        } else {
            self.pos = end;
        }
    }

    /// Dispatches at once the line `chunk[start..end]` (ended by an LF at `end`) if it is a
    /// `data:` line, the event has nothing else yet, and a blank line follows.
    #[allow(clippy::inline_always)] // measured, as for `Builder::field`
    #[inline(always)]
    fn single_line_event(&mut self, start: usize, end: usize, known_utf8: bool) -> Option<Step> {
        let line = &self.chunk[start..end];
        if self.chunk.get(end..end + 2) != Some(b"\n\n")
            || !line.starts_with(b"data:")
            || !self.builder.data.is_empty()
            || self.builder.event_type.is_some()
        {
            return None;
        }
        let value_start = if line.get(5) == Some(&b' ') { 6 } else { 5 };
        if end - start - value_start > self.limits.max_event_size() {
            return None; // the general path reports the error
        }
        self.pos = end + 2;
        self.builder.note_dispatch();
        Some(Step::Single {
            start: start + value_start,
            end,
            known_utf8,
        })
    }

    /// The position of the first CR or LF in `chunk[from..]`, if any.
    #[allow(clippy::inline_always)] // measured, as for `Builder::field`
    #[inline(always)]
    fn find_line_end(&mut self, from: usize) -> Option<usize> {
        let rest = &self.chunk[from..];
        let mut searched = 0;
        if !self.long_lines {
            while searched < SHORT_LINE {
                let Some(word) = rest[searched..].first_chunk::<8>() else {
                    // The chunk ends within a word: its last bytes one by one. (A line that
                    // the chunk ends inside says nothing of how long lines are.)
                    let tail = rest[searched..]
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n');
                    return tail.map(|i| from + searched + i);
                };
                let word = u64::from_le_bytes(*word);
                let low = control_bytes(word);
                if low != 0 {
                    let at = searched + (low.trailing_zeros() / 8) as usize;
                    if matches!(rest[at], b'\r' | b'\n') {
                        return Some(from + at);
                    }
                    // A tab or another control byte first: the exact test.
                    let breaks = line_breaks(word);
                    if breaks != 0 {
                        return Some(from + searched + (breaks.trailing_zeros() / 8) as usize);
                    }
                }
                searched += 8;
            }
        }
        let found = find_line_break_outlined(&rest[searched..]).map(|i| searched + i);
        self.long_lines = found.is_none_or(|i| i >= SHORT_LINE);
        found.map(|i| from + i)
    }

    /// Moves past the line ending at `chunk[end]`: CRLF, LF or CR. A CR that ends the chunk
    /// ends the line now and makes the next LF, if it comes, part of this line ending.
    #[inline]
    fn end_line(&mut self, end: usize) {
        self.pos = end + 1;
        if self.chunk[end] == b'\r' {
            match self.chunk.get(end + 1) {
                Some(&b'\n') => self.pos += 1,
                Some(_) => {}
                None => self.slow.insert(Slow::SKIP_LF),
            }
        }
    }

    /// The general path: finds the next complete line in any state, or `None` when the input
    /// is used up.
    fn next_line(&mut self, text: bool) -> Result<Option<Line>, DecodeError> {
        loop {
            // (A BOM prefix alone is not yet a start: it waits for more input.)
            if self.slow.contains(Slow::NOT_STARTED) && !self.start_stream() {
                return Ok(None);
            }
            if self.pos >= self.chunk.len() {
                return Ok(None);
            }
            if self.slow.contains(Slow::SKIP_LF) {
                self.slow.remove(Slow::SKIP_LF);
                if self.chunk[self.pos] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            if text {
                self.validate();
            }
            let start = self.pos;
            let discarding_line = self.slow.contains(Slow::DISCARDING_LINE);
            if self.chunk[start] == b'\n' && self.partial.is_empty() && !discarding_line {
                // A blank line: no search needed.
                self.pos += 1;
                return Ok(Some(Line::InChunk { start, end: start }));
            }
            let Some(offset) = find_line_break(&self.chunk[start..]) else {
                self.carry_over()?;
                return Ok(None);
            };
            let end = start + offset;
            self.end_line(end);
            let empty = end == start && self.partial.is_empty();
            if discarding_line || (self.slow.contains(Slow::DISCARDING_EVENT) && !empty) {
                // The end of an over-long line, or a line of an event being skipped: neither
                // is interpreted nor held against the line limit.
                self.slow.remove(Slow::DISCARDING_LINE);
                self.partial.clear();
                continue;
            }
            if self.partial.is_empty() {
                if end - start > self.limits.max_line_length() {
                    return Err(self.fail(DecodeErrorKind::LineTooLong));
                }
                return Ok(Some(Line::InChunk { start, end }));
            }
            if self.partial.len() + (end - start) > self.limits.max_line_length() {
                self.partial.clear();
                return Err(self.fail(DecodeErrorKind::LineTooLong));
            }
            self.partial.extend_from_slice(&self.chunk[start..end]);
            return Ok(Some(Line::Partial));
        }
    }

    /// Handles the stream's first bytes: strips one BOM. Returns `false` when the bytes so far
    /// could still be the start of a BOM and more input is needed.
    fn start_stream(&mut self) -> bool {
        if self.at_bom_prefix() {
            return false;
        }
        if self.chunk[self.pos..].starts_with(BOM) {
            self.pos += BOM.len();
        }
        self.slow.remove(Slow::NOT_STARTED);
        true
    }

    /// Whether the unparsed input is a BOM's first bytes (or nothing), which more input could
    /// still complete.
    fn at_bom_prefix(&self) -> bool {
        let rest = &self.chunk[self.pos..];
        rest.len() < BOM.len() && BOM.starts_with(rest)
    }

    /// The chunk ends inside a line: keep its start for the next chunk, within the limit.
    fn carry_over(&mut self) -> Result<(), DecodeError> {
        let rest = &self.chunk[self.pos..];
        self.pos = self.chunk.len();
        if self.slow.contains(Slow::DISCARDING_LINE) || self.slow.contains(Slow::DISCARDING_EVENT) {
            // Nothing of this line is needed, so nothing of it is kept.
            self.partial.clear();
            self.slow.insert(Slow::DISCARDING_LINE);
            return Ok(());
        }
        if self.partial.len() + rest.len() > self.limits.max_line_length() {
            self.partial.clear();
            self.slow.insert(Slow::DISCARDING_LINE);
            return Err(self.fail(DecodeErrorKind::LineTooLong));
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Checks the rest of the chunk for UTF-8 once (the first time text is asked for).
    #[inline]
    fn validate(&mut self) {
        if !self.validated {
            self.valid_until = self.pos + utf8_prefix(&self.chunk[self.pos..]);
            self.validated = true;
        }
    }

    /// Reports a limit error: the current event is dropped and the rest of it skipped.
    fn fail(&mut self, kind: DecodeErrorKind) -> DecodeError {
        self.builder.clear_event();
        self.slow.insert(Slow::DISCARDING_EVENT);
        let limit = match kind {
            DecodeErrorKind::LineTooLong => self.limits.max_line_length(),
            DecodeErrorKind::EventTooLarge => self.limits.max_event_size(),
        };
        DecodeError::new(kind, limit)
    }

    /// The general path: interprets one line; `text` says whether UTF-8 validity will be
    /// needed.
    fn process(&mut self, line: Line, text: bool) -> Result<Option<Step>, DecodeError> {
        let processed = match line {
            Line::InChunk { start, end } => {
                if start == end {
                    return Ok(self.dispatch());
                }
                if self.slow.contains(Slow::DISCARDING_EVENT) {
                    return Ok(None);
                }
                let known_utf8 = self.validated && end <= self.valid_until;
                self.builder.field::<true>(
                    &self.chunk,
                    &self.chunk,
                    start,
                    end,
                    known_utf8,
                    &self.limits,
                    self.comments,
                )
            }
            Line::Partial => {
                // The line is handed on as `Bytes` (its values are slices of it, not copies);
                // `partial` keeps the rest of its buffer for the next split line.
                let line = self.partial.split().freeze();
                if self.slow.contains(Slow::DISCARDING_EVENT) {
                    return Ok(None);
                }
                // Checked now, while it is short, rather than with all the event's data.
                let known_utf8 = text && core::str::from_utf8(&line).is_ok();
                self.builder.field::<false>(
                    &line,
                    &self.chunk,
                    0,
                    line.len(),
                    known_utf8,
                    &self.limits,
                    self.comments,
                )
            }
        };
        processed.map_err(|kind| self.fail(kind))
    }

    /// A blank line: dispatches the event being built, if it has data.
    #[inline]
    fn dispatch(&mut self) -> Option<Step> {
        if self.slow.contains(Slow::DISCARDING_EVENT) {
            self.slow.remove(Slow::DISCARDING_EVENT);
            return None;
        }
        self.builder.note_dispatch();
        if self.builder.data.is_empty() {
            self.builder.clear_event();
            return None;
        }
        Some(Step::Event)
    }
}
