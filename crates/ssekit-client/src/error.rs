//! The client's error: opaque, with a kind.

use std::fmt;

use http::StatusCode;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be built (a bad URL, header or body).
    InvalidRequest,
    /// Connecting, TLS, or reading failed, and the policy gave up.
    Network,
    /// Nothing arrived for the read timeout, and the policy gave up.
    Timeout,
    /// The server answered with a status the policy treats as fatal.
    Status,
    /// The server answered 2xx with a content type other than `text/event-stream`.
    ContentType,
    /// The stream exceeded a decoding limit.
    Decode,
    /// Too many redirects.
    TooManyRedirects,
    /// The policy's response check rejected the response.
    Rejected,
}

/// An error from the client. For [`ErrorKind::Status`] and [`ErrorKind::ContentType`] it
/// carries the status and the first bytes of the response body.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<StatusCode>,
    body: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            body: None,
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_response(mut self, status: StatusCode, body: String) -> Self {
        self.status = Some(status);
        self.body = Some(body);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The response status, for status and content-type errors.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The first bytes of the response body (lossily decoded), for status and content-type
    /// errors.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
