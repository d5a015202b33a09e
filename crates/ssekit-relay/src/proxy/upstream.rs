//! The proxy's upstream HTTP/1.1 exchange, driven by whoever polls it: no task, no channel.
//!
//! [`Exchange`] owns the upstream `TcpStream`. Until the response head is in, `Proxy::forward`
//! polls it; then [`UpstreamBody`] owns it and the server polls it as the response body. Each
//! poll first pushes any pending request bytes up (so a request body keeps streaming while the
//! response does), then reads once and returns everything that read produced, unframed, as one
//! data frame. Dropping the body drops the socket, which closes the upstream connection.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::chunked::ChunkedDecoder;
use super::head::{self, Framing, Head};
use super::ProxyError;

/// The size of the read buffer allocated when the current one is used up.
const READ_BUFFER: usize = 64 * 1024;
/// A read is never offered less room than this: below it, a new buffer is allocated.
const MIN_READ: usize = 8 * 1024;

/// How the request body goes up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RequestFraming {
    /// As it is: the client sent `Content-Length` (or no body at all).
    AsIs,
    /// In chunked transfer coding.
    Chunked,
}

/// One request to the upstream and its response, on a connection of its own.
pub(super) struct Exchange<B> {
    stream: TcpStream,
    /// Bytes read and not yet consumed.
    read: BytesMut,
    /// Bytes to write before polling the request body again.
    write: BytesMut,
    /// The rest of the request body, until it has been sent.
    body: Option<B>,
    framing: RequestFraming,
}

impl<B> Exchange<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// An exchange that sends `head` (the encoded request head), then `body` framed as said.
    pub(super) fn new(stream: TcpStream, head: BytesMut, body: B, framing: RequestFraming) -> Self {
        let body = (!body.is_end_stream()).then_some(body);
        let mut write = head;
        if body.is_none() && framing == RequestFraming::Chunked {
            write.put_slice(b"0\r\n\r\n");
        }
        Exchange {
            stream,
            read: BytesMut::new(),
            write,
            body,
            framing,
        }
    }

    /// Writes what can be written of the request. Ready once all of it has been written, or the
    /// upstream stopped taking it (it may have answered already: a failed write is logged, and
    /// the read side reports what happened). Fails when the client's request body fails.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        loop {
            while !self.write.is_empty() {
                match ready!(Pin::new(&mut self.stream).poll_write(cx, &self.write)) {
                    Ok(n) if n > 0 => self.write.advance(n),
                    result => {
                        tracing::debug!("writing the request upstream stopped: {result:?}");
                        self.write = BytesMut::new();
                        self.body = None;
                        return Poll::Ready(Ok(()));
                    }
                }
            }
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        let len = data.remaining();
                        if len > 0 {
                            if self.framing == RequestFraming::Chunked {
                                self.write.put_slice(format!("{len:x}\r\n").as_bytes());
                            }
                            self.write.reserve(len + 2);
                            while data.has_remaining() {
                                let chunk = data.chunk();
                                self.write.put_slice(chunk);
                                let n = chunk.len();
                                data.advance(n);
                            }
                            if self.framing == RequestFraming::Chunked {
                                self.write.put_slice(b"\r\n");
                            }
                        }
                    }
                }
                None => {
                    self.body = None;
                    if self.framing == RequestFraming::Chunked {
                        self.write.put_slice(b"0\r\n\r\n");
                    }
                }
                Some(Err(e)) => {
                    self.body = None;
                    return Poll::Ready(Err(ProxyError::request_body(e.into())));
                }
            }
        }
    }

    /// One read from the upstream into the read buffer: the number of bytes read, 0 at its end.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, ProxyError>> {
        if self.read.capacity() - self.read.len() < MIN_READ {
            self.read.reserve(READ_BUFFER);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read)
            .map_err(ProxyError::io)
    }

    /// Sends the request and reads up to the end of the final response head (skipping interim
    /// 1xx responses).
    pub(super) fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<Head, ProxyError>> {
        if let Poll::Ready(Err(e)) = self.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        loop {
            if !self.read.is_empty() {
                match head::parse(&self.read) {
                    Ok(Some((head, len))) => {
                        self.read.advance(len);
                        if head.status.is_informational()
                            && head.status != http::StatusCode::SWITCHING_PROTOCOLS
                        {
                            continue;
                        }
                        return Poll::Ready(Ok(head));
                    }
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Err(ProxyError::head(e))),
                }
            }
            if ready!(self.poll_read(cx))? == 0 {
                return Poll::Ready(Err(ProxyError::incomplete(
                    "the upstream closed the connection before its response head",
                )));
            }
        }
    }

    /// The response body, from here on.
    pub(super) fn into_body(self, framing: Framing) -> UpstreamBody<B> {
        let framing = match framing {
            Framing::Empty => {
                return UpstreamBody {
                    exchange: None,
                    framing: BodyFraming::UntilClose,
                }
            }
            Framing::Length(n) => BodyFraming::Length(n),
            Framing::Chunked => BodyFraming::Chunked(ChunkedDecoder::new()),
            Framing::UntilClose => BodyFraming::UntilClose,
        };
        UpstreamBody {
            exchange: Some(self),
            framing,
        }
    }
}

#[derive(Debug)]
enum BodyFraming {
    /// This many payload bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl BodyFraming {
    /// Takes the payload out of the unread bytes: `None` when they held framing only.
    fn take(&mut self, read: &mut BytesMut) -> Result<Option<Bytes>, ProxyError> {
        let payload = match self {
            BodyFraming::Length(remaining) => {
                let n = usize::try_from(*remaining).map_or(read.len(), |r| r.min(read.len()));
                *remaining -= n as u64;
                let payload = read.split_to(n);
                if *remaining == 0 {
                    read.clear();
                }
                payload
            }
            BodyFraming::Chunked(chunked) => {
                let decoded = chunked.decode_in_place(read).map_err(ProxyError::chunked)?;
                let payload = read.split_to(decoded.payload);
                read.advance(decoded.consumed - decoded.payload);
                if chunked.is_done() {
                    read.clear();
                }
                payload
            }
            BodyFraming::UntilClose => read.split(),
        };
        Ok((!payload.is_empty()).then(|| payload.freeze()))
    }

    fn is_done(&self) -> bool {
        match self {
            BodyFraming::Length(remaining) => *remaining == 0,
            BodyFraming::Chunked(decoder) => decoder.is_done(),
            BodyFraming::UntilClose => false,
        }
    }
}

/// The upstream's response body, read straight from its socket as the server polls it.
pub(super) struct UpstreamBody<B> {
    /// `None` once the body has ended: the connection is closed then.
    exchange: Option<Exchange<B>>,
    framing: BodyFraming,
}

impl<B> UpstreamBody<B> {
    fn end(
        &mut self,
        result: Result<(), ProxyError>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        self.exchange = None;
        Poll::Ready(result.err().map(Err))
    }
}

impl<B> Body for UpstreamBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = self.get_mut();
        let Some(exchange) = this.exchange.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(Err(e)) = exchange.poll_send(cx) {
            return this.end(Err(e));
        }
        loop {
            if !exchange.read.is_empty() {
                match this.framing.take(&mut exchange.read) {
                    Ok(Some(payload)) => {
                        if this.framing.is_done() {
                            this.exchange = None;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(payload))));
                    }
                    Ok(None) => {}
                    Err(e) => return this.end(Err(e)),
                }
            }
            if this.framing.is_done() {
                return this.end(Ok(()));
            }
            match ready!(exchange.poll_read(cx)) {
                Ok(0) if matches!(this.framing, BodyFraming::UntilClose) => {
                    return this.end(Ok(()))
                }
                Ok(0) => {
                    return this.end(Err(ProxyError::incomplete(
                        "the upstream closed the connection before the end of its body",
                    )))
                }
                Ok(_) => {}
                Err(e) => return this.end(Err(e)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.exchange.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.exchange, &self.framing) {
            (None, _) => SizeHint::with_exact(0),
            (Some(_), BodyFraming::Length(remaining)) => SizeHint::with_exact(*remaining),
            _ => SizeHint::default(),
        }
    }
}
