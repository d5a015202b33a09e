//! The client, its builder, and requests.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ssekit_codec::Limits;

use crate::error::{Error, ErrorKind};
use crate::policy::ReconnectPolicy;
use crate::stream::EventStream;

pub(crate) type HttpClient =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Recomputes headers before each connection (for a token that expires, say).
pub type HeaderHook = Arc<dyn Fn(&mut HeaderMap) + Send + Sync>;

/// Produces the request body for each connection, so a body can be sent again on reconnect.
pub type BodyFactory = Arc<dyn Fn() -> Bytes + Send + Sync>;

#[derive(Clone)]
pub(crate) enum RequestBody {
    Empty,
    Bytes(Bytes),
    Factory(BodyFactory),
}

impl RequestBody {
    pub(crate) fn make(&self) -> Bytes {
        match self {
            RequestBody::Empty => Bytes::new(),
            RequestBody::Bytes(b) => b.clone(),
            RequestBody::Factory(f) => f(),
        }
    }
}

/// A request to open an event stream: any method, headers and body, like `fetch`.
///
/// ```
/// use ssekit_client::Request;
///
/// let request = Request::post("https://api.example/v1/stream")?
///     .header("authorization", "Bearer token")?
///     .json_body(r#"{"prompt":"hi"}"#)
///     .last_event_id("42");
/// # Ok::<(), ssekit_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: RequestBody,
    pub(crate) last_event_id: Option<String>,
    pub(crate) on_connect: Option<HeaderHook>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn parse_url(url: &str) -> Result<Uri, Error> {
    let uri: Uri = url.parse().map_err(|e| {
        Error::new(ErrorKind::InvalidRequest, format!("invalid URL {url:?}")).with_source(e)
    })?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("invalid URL {url:?}: an http:// or https:// URL is needed"),
        )),
    }
}

impl Request {
    /// A request with this method.
    pub fn new(method: Method, url: &str) -> Result<Self, Error> {
        Ok(Request {
            method,
            url: parse_url(url)?,
            headers: HeaderMap::new(),
            body: RequestBody::Empty,
            last_event_id: None,
            on_connect: None,
        })
    }

    /// A GET request.
    pub fn get(url: &str) -> Result<Self, Error> {
        Request::new(Method::GET, url)
    }

    /// A POST request.
    pub fn post(url: &str) -> Result<Self, Error> {
        Request::new(Method::POST, url)
    }

    /// Adds a header (repeatable).
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::try_from(name).map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("invalid header name {name:?}"),
            )
            .with_source(e)
        })?;
        let value = HeaderValue::try_from(value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("invalid value for header {name}"),
            )
            .with_source(e)
        })?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// The body, sent again on every reconnection.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = RequestBody::Bytes(body.into());
        self
    }

    /// A JSON body (sets `Content-Type: application/json` unless already set).
    #[must_use]
    pub fn json_body(mut self, json: impl Into<Bytes>) -> Self {
        self.headers
            .entry(http::header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        self.body = RequestBody::Bytes(json.into());
        self
    }

    /// A body made anew for each connection.
    #[must_use]
    pub fn body_fn(mut self, factory: BodyFactory) -> Self {
        self.body = RequestBody::Factory(factory);
        self
    }

    /// Starts from this last event ID (sent as `Last-Event-ID` on the first connection).
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Calls `hook` on the headers before each connection.
    #[must_use]
    pub fn on_connect(mut self, hook: HeaderHook) -> Self {
        self.on_connect = Some(hook);
        self
    }
}

/// Settings of a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    insecure: bool,
    ca_files: Vec<PathBuf>,
    h2c: bool,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
    max_redirects: usize,
    limits: Limits,
    comments: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            insecure: false,
            ca_files: Vec::new(),
            h2c: false,
            connect_timeout: Duration::from_secs(30),
            read_timeout: None,
            max_redirects: 10,
            limits: Limits::default(),
            comments: false,
        }
    }
}

impl ClientBuilder {
    /// Accepts any TLS certificate. For test servers only: it makes TLS worthless.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Trusts the certificates in this PEM file, besides the bundled web roots.
    #[must_use]
    pub fn add_root_certificates(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.ca_files.push(pem_file.into());
        self
    }

    /// Speaks HTTP/2 without TLS negotiation ("prior knowledge", h2c) on `http://` URLs.
    #[must_use]
    pub fn http2_prior_knowledge(mut self, h2c: bool) -> Self {
        self.h2c = h2c;
        self
    }

    /// How long connecting and receiving the response head may take (default 30 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Treats a connection that sends nothing (not even a keep-alive comment) for this long as
    /// dead, and lets the policy reconnect. Off by default.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// How many redirects are followed (default 10).
    #[must_use]
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// The decoding limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether comment lines are reported as items.
    #[must_use]
    pub fn comments(mut self, comments: bool) -> Self {
        self.comments = comments;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::new(ErrorKind::InvalidRequest, "TLS setup failed").with_source(e)
            })?;
        let tls = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(crate::tls::AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for file in &self.ca_files {
                crate::tls::add_pem_file(&mut roots, file)?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        // ALPN (h2, http/1.1) is set by the connector builder below.

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
        builder.http2_only(self.h2c);
        let http = builder.build(connector);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                connect_timeout: self.connect_timeout,
                read_timeout: self.read_timeout,
                max_redirects: self.max_redirects,
                limits: self.limits,
                comments: self.comments,
            }),
        })
    }
}

pub(crate) struct Inner {
    pub(crate) http: HttpClient,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_redirects: usize,
    pub(crate) limits: Limits,
    pub(crate) comments: bool,
}

/// A fetch-style SSE client. Cheap to clone; connections are pooled.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use ssekit_client::{Client, Item, ReconnectPolicy, Request};
///
/// # async fn run() -> Result<(), ssekit_client::Error> {
/// let client = Client::new()?;
/// let request = Request::post("https://api.example/v1/chat")?
///     .header("authorization", "Bearer token")?
///     .json_body(r#"{"stream":true}"#);
/// // A generation must not be requested twice: do not reconnect when it ends.
/// let mut stream = client.stream(request, ReconnectPolicy::default().reconnect_on_end(false));
/// while let Some(item) = stream.next().await {
///     if let Item::Event(event) = item? {
///         print!("{}", event.data());
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the default settings.
    pub fn new() -> Result<Self, Error> {
        ClientBuilder::default().build()
    }

    /// A builder for a client with other settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Opens `request` as an event stream, reconnecting as `policy` decides. Nothing happens
    /// until the stream is polled; dropping it closes the connection at once.
    pub fn stream(&self, request: Request, policy: ReconnectPolicy) -> EventStream {
        EventStream::new(self.clone(), request, policy)
    }
}
