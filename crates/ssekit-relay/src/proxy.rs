//! The pass-through proxy: byte for byte, streamed both ways, to a fixed upstream.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The response body of the proxy: the upstream's body as it arrives, or an error message.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Forwards requests to one fixed upstream (never to a URL the client chooses), streaming the
/// request body up and the response body down chunk by chunk, as they arrive. Hop-by-hop
/// headers (RFC 9110 § 7.6.1) are removed both ways. When the client goes away its response
/// body is dropped, which closes the upstream connection at once.
#[derive(Clone)]
pub struct Proxy {
    client: Client<HttpConnector, Incoming>,
    upstream: Uri,
    connect_timeout: Duration,
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
        if upstream.scheme_str() != Some("http") || upstream.host().is_none() {
            return Err(format!(
                "the proxy's upstream must be an http:// URL, not {upstream}"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        Ok(Proxy {
            client: Client::builder(TokioExecutor::new()).build(connector),
            upstream,
            connect_timeout: Duration::from_secs(30),
        })
    }

    fn target(&self, uri: &Uri) -> Result<Uri, http::Error> {
        let base = self.upstream.path().trim_end_matches('/');
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        let joined = if path_and_query == "/" && !base.is_empty() {
            base.to_owned()
        } else {
            format!("{base}{path_and_query}")
        };
        Uri::builder()
            .scheme("http")
            .authority(self.upstream.authority().map_or("", |a| a.as_str()))
            .path_and_query(joined)
            .build()
    }

    /// Forwards `request` and streams the answer back.
    pub async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let Ok(target) = self.target(&parts.uri) else {
            return error(
                StatusCode::BAD_REQUEST,
                "the request path cannot be forwarded",
            );
        };
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        if let Some(authority) = self.upstream.authority() {
            if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                parts.headers.insert(header::HOST, host);
            }
        }
        parts.uri = target;
        parts.version = http::Version::HTTP_11;
        let upstream_request = Request::from_parts(parts, body);
        let answer =
            tokio::time::timeout(self.connect_timeout, self.client.request(upstream_request)).await;
        match answer {
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.boxed())
            }
            Ok(Err(e)) => {
                tracing::debug!("upstream request failed: {e}");
                error(StatusCode::BAD_GATEWAY, "the upstream could not be reached")
            }
            Err(_) => error(
                StatusCode::GATEWAY_TIMEOUT,
                "the upstream did not answer in time",
            ),
        }
    }
}
