//! The pass-through proxy: byte for byte, streamed both ways, to a fixed upstream.
//!
//! The upstream side is a direct HTTP/1.1 exchange on a connection of its own
//! (`upstream.rs`), run inside the response body: each poll of the body reads the upstream
//! socket once and returns everything that read produced as one data frame (unframed from
//! chunked coding by `chunked.rs`), with no task or channel in between. The response head is
//! parsed by `head.rs`.

mod chunked;
mod head;
mod upstream;

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use tokio::net::TcpStream;

use self::chunked::ChunkedError;
use self::head::HeadError;
use self::upstream::{Exchange, RequestFraming};

/// The response body of the proxy: the upstream's body as it arrives, or an error message.
pub type ProxyBody = BoxBody<Bytes, ProxyError>;

/// Why the upstream exchange failed: reading or writing the connection, a malformed response,
/// a connection closed before the response ended, or a failing request body.
///
/// The message speaks of the proxy's view; the underlying error is its `source()`.
pub struct ProxyError {
    kind: Kind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Io,
    Malformed,
    Incomplete,
    RequestBody,
}

impl ProxyError {
    fn io(e: std::io::Error) -> Self {
        ProxyError {
            kind: Kind::Io,
            source: Some(Box::new(e)),
        }
    }

    fn head(e: HeadError) -> Self {
        ProxyError {
            kind: Kind::Malformed,
            source: Some(Box::new(e)),
        }
    }

    fn chunked(e: ChunkedError) -> Self {
        ProxyError {
            kind: Kind::Malformed,
            source: Some(Box::new(e)),
        }
    }

    fn incomplete(what: &'static str) -> Self {
        ProxyError {
            kind: Kind::Incomplete,
            source: Some(what.into()),
        }
    }

    fn request_body(e: Box<dyn StdError + Send + Sync>) -> Self {
        ProxyError {
            kind: Kind::RequestBody,
            source: Some(e),
        }
    }

    /// Reading from or writing to the upstream connection failed.
    pub fn is_io(&self) -> bool {
        self.kind == Kind::Io
    }

    /// The upstream's response head or its body's framing is malformed or over a limit.
    pub fn is_malformed(&self) -> bool {
        self.kind == Kind::Malformed
    }

    /// The upstream closed the connection before the end of its response.
    pub fn is_incomplete(&self) -> bool {
        self.kind == Kind::Incomplete
    }

    /// The client's request body failed while it was forwarded.
    pub fn is_request_body(&self) -> bool {
        self.kind == Kind::RequestBody
    }
}

impl fmt::Debug for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::Io => "the upstream connection failed",
            Kind::Malformed => "the upstream's response is malformed",
            Kind::Incomplete => "the upstream's response is incomplete",
            Kind::RequestBody => "the request body could not be forwarded",
        })
    }
}

impl StdError for ProxyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Forwards requests to one fixed upstream (never to a URL the client chooses), streaming the
/// request body up and the response body down as they arrive: whatever one read of the
/// upstream connection gives is one frame of the response body. Hop-by-hop headers (RFC 9110
/// § 7.6.1) are removed both ways. When the client goes away its response body is dropped,
/// which closes the upstream connection at once.
///
/// Each request has an upstream connection of its own (`Connection: close`): the streams this
/// proxy is for are long, and a fresh connection per request keeps one stream's failure from
/// reaching another.
#[derive(Clone)]
pub struct Proxy {
    upstream: Uri,
    authority: Authority,
    /// The host to connect to, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    connect_timeout: Duration,
    head_timeout: Duration,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// A response from the proxy itself, with a one-line text body.
fn error(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(format!("{message}\n")))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl Proxy {
    /// A proxy to `upstream` (`http://host:port/base`); a request's path and query are
    /// appended to the base path.
    pub fn new(upstream: &str) -> Result<Self, String> {
        let upstream: Uri = upstream
            .parse()
            .map_err(|e| format!("invalid upstream URL {upstream:?}: {e}"))?;
        let (Some("http"), Some(authority)) = (upstream.scheme_str(), upstream.authority()) else {
            return Err(format!(
                "the proxy's upstream must be an http:// URL, not {upstream}"
            ));
        };
        let authority = authority.clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(format!("the upstream URL {upstream} names no host"));
        }
        Ok(Proxy {
            port: authority.port_u16().unwrap_or(80),
            host,
            authority,
            upstream,
            connect_timeout: Duration::from_secs(10),
            head_timeout: Duration::from_secs(30),
        })
    }

    /// The upstream's request target: its base path joined with the request's path and query.
    fn target(&self, uri: &Uri) -> Result<PathAndQuery, http::Error> {
        let base = self.upstream.path().trim_end_matches('/');
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        let joined = if path_and_query == "/" && !base.is_empty() {
            base.to_owned()
        } else {
            format!("{base}{path_and_query}")
        };
        Ok(PathAndQuery::try_from(joined)?)
    }

    /// The request head to send upstream; `chunked` announces a chunked request body.
    fn request_head(
        &self,
        method: &Method,
        target: &PathAndQuery,
        headers: &HeaderMap,
        chunked: bool,
    ) -> BytesMut {
        let mut head = BytesMut::with_capacity(
            128 + target.as_str().len()
                + headers
                    .iter()
                    .map(|(n, v)| n.as_str().len() + v.len() + 4)
                    .sum::<usize>(),
        );
        head.put_slice(method.as_str().as_bytes());
        head.put_u8(b' ');
        head.put_slice(target.as_str().as_bytes());
        head.put_slice(b" HTTP/1.1\r\nhost: ");
        head.put_slice(self.authority.as_str().as_bytes());
        head.put_slice(b"\r\n");
        for (name, value) in headers {
            head.put_slice(name.as_str().as_bytes());
            head.put_slice(b": ");
            head.put_slice(value.as_bytes());
            head.put_slice(b"\r\n");
        }
        head.put_slice(b"connection: close\r\n");
        if chunked {
            head.put_slice(b"transfer-encoding: chunked\r\n");
        }
        head.put_slice(b"\r\n");
        head
    }

    /// Forwards `request` (a server's `Request<Incoming>`, or any body of `Bytes`) and streams
    /// the answer back.
    ///
    /// Answers 502 when the upstream cannot be reached (within 10 s) or its response head is
    /// malformed, and 504 when its response head is not in within 30 s.
    pub async fn forward<B>(&self, request: Request<B>) -> Response<ProxyBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (mut parts, body) = request.into_parts();
        let Ok(target) = self.target(&parts.uri) else {
            return error(
                StatusCode::BAD_REQUEST,
                "the request path cannot be forwarded",
            );
        };
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        let chunked = !parts.headers.contains_key(header::CONTENT_LENGTH)
            && !hyper::body::Body::is_end_stream(&body);
        let head = self.request_head(&parts.method, &target, &parts.headers, chunked);
        let framing = if chunked {
            RequestFraming::Chunked
        } else {
            RequestFraming::AsIs
        };
        let exchange = async {
            let stream = tokio::time::timeout(
                self.connect_timeout,
                TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
            .and_then(|connected| connected)
            .map_err(ProxyError::io)?;
            stream.set_nodelay(true).map_err(ProxyError::io)?;
            let mut exchange = Exchange::new(stream, head, body, framing);
            let head = std::future::poll_fn(|cx| exchange.poll_head(cx)).await?;
            Ok::<_, ProxyError>((exchange, head))
        };
        let (exchange, mut head) = match tokio::time::timeout(self.head_timeout, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tracing::debug!("upstream request failed: {e}: {:?}", e.source());
                let message = if e.is_io() {
                    "the upstream could not be reached"
                } else {
                    "the upstream's response could not be read"
                };
                return error(StatusCode::BAD_GATEWAY, message);
            }
            Err(_) => {
                return error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the upstream did not answer in time",
                )
            }
        };
        let framing = match head::framing(&mut head, parts.method == Method::HEAD) {
            Ok(framing) => framing,
            Err(e) => {
                tracing::debug!("upstream response rejected: {e}");
                return error(
                    StatusCode::BAD_GATEWAY,
                    "the upstream's response could not be read",
                );
            }
        };
        strip_hop_by_hop(&mut head.headers);
        let mut response = Response::new(exchange.into_body(framing).boxed());
        *response.status_mut() = head.status;
        *response.headers_mut() = head.headers;
        response
    }
}
