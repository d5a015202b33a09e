//! The upstream's response head and how its body is framed (RFC 9112 §§ 4–6), sans I/O.
//!
//! Parsing is httparse's (it allocates nothing and says "partial, feed me more"); this module
//! bounds the head, turns it into `http` types and decides the body's framing.

use std::fmt;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

/// The largest response head accepted, status line and CRLFs included.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields accepted in a response head.
pub(crate) const MAX_HEADERS: usize = 128;

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
}

/// Why a response head is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Longer than [`MAX_HEAD`].
    TooLarge,
    /// More than [`MAX_HEADERS`] fields.
    TooManyHeaders,
    /// Not an HTTP/1.x response head.
    Malformed(httparse::Error),
    /// A status code or header that `http` refuses.
    Invalid,
    /// A `Content-Length` that is not one number.
    BadContentLength,
    /// `101 Switching Protocols`: the proxy forwards no upgrades.
    Upgrade,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge => write!(f, "response head longer than {MAX_HEAD} bytes"),
            HeadError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} response headers"),
            HeadError::Malformed(e) => write!(f, "malformed response head: {e}"),
            HeadError::Invalid => f.write_str("invalid status code or header in response head"),
            HeadError::BadContentLength => f.write_str("invalid Content-Length"),
            HeadError::Upgrade => f.write_str("unexpected 101 Switching Protocols"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Parses the response head at the start of `buf`: the head and its length in bytes, or `None`
/// when `buf` holds only part of it.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_HEAD {
                Err(HeadError::TooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(e)),
    };
    if len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let code = response.code.ok_or(HeadError::Invalid)?;
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::Invalid)?;
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| HeadError::Invalid)?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| HeadError::Invalid)?;
        headers.append(name, value);
    }
    Ok(Some((Head { status, headers }, len)))
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: a response to HEAD, a 204 or 304, or `Content-Length: 0`.
    Empty,
    /// Exactly this many bytes (more than zero).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// The framing of the body that follows `head` (RFC 9112 § 6.3), for a request that was a
/// HEAD or not. Normalizes `head`'s `Content-Length`: removed when `Transfer-Encoding` overrides
/// it, one value when it was repeated.
pub(crate) fn framing(head: &mut Head, head_request: bool) -> Result<Framing, HeadError> {
    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(HeadError::Upgrade);
    }
    if head_request
        || head.status.is_informational()
        || head.status == StatusCode::NO_CONTENT
        || head.status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if head.headers.contains_key(header::TRANSFER_ENCODING) {
        head.headers.remove(header::CONTENT_LENGTH);
        let last = head
            .headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .rfind(|coding| !coding.is_empty());
        return Ok(match last {
            Some(coding) if coding.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
            _ => Framing::UntilClose,
        });
    }
    let mut length = None;
    for value in head.headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let n = parse_length(part.trim_ascii()).ok_or(HeadError::BadContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::BadContentLength);
            }
            length = Some(n);
        }
    }
    Ok(match length {
        None => Framing::UntilClose,
        Some(n) => {
            head.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            if n == 0 {
                Framing::Empty
            } else {
                Framing::Length(n)
            }
        }
    })
}

/// `1*DIGIT` as a `u64`.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0_u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn a_head_is_parsed_once_complete() {
        let text =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-a: 1\r\nx-a: 2\r\n\r\nbody";
        for end in 0..text.len() - 4 {
            assert!(parse(&text.as_bytes()[..end]).unwrap().is_none(), "{end}");
        }
        let (head, len) = parse(text.as_bytes()).unwrap().unwrap();
        assert_eq!(len, text.len() - 4);
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["content-type"], "text/event-stream");
        assert_eq!(head.headers.get_all("x-a").iter().count(), 2);
    }

    #[test]
    fn bad_heads_are_rejected() {
        let cases: [(&[u8], HeadError); 4] = [
            (
                b"HTTP/2 200 OK\r\n\r\n",
                HeadError::Malformed(httparse::Error::Version),
            ),
            (
                b"HTTP/1.1 20 OK\r\n\r\n",
                HeadError::Malformed(httparse::Error::Status),
            ),
            (
                b"HTTP/1.1 200 OK\r\nx a: 1\r\n\r\n",
                HeadError::Malformed(httparse::Error::HeaderName),
            ),
            (
                b"HTTP/1.1 200 OK\r\nx: \x7f\r\n\r\n",
                HeadError::Malformed(httparse::Error::HeaderValue),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).unwrap_err(), expected, "{input:?}");
        }
    }

    #[test]
    fn heads_are_bounded() {
        let mut many = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str("x-");
            many.push_str(&i.to_string());
            many.push_str(": 1\r\n");
        }
        many.push_str("\r\n");
        assert_eq!(
            parse(many.as_bytes()).unwrap_err(),
            HeadError::TooManyHeaders
        );

        let mut long = String::from("HTTP/1.1 200 OK\r\nx-long: ");
        long.push_str(&"a".repeat(MAX_HEAD));
        assert_eq!(parse(long.as_bytes()).unwrap_err(), HeadError::TooLarge);
        long.push_str("\r\n\r\n");
        assert_eq!(parse(long.as_bytes()).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
                false,
                Ok(Framing::Length(5)),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
                true,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                false,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n",
                false,
                Ok(Framing::Length(5)),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                false,
                Err(HeadError::BadContentLength),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
                false,
                Err(HeadError::BadContentLength),
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
                false,
                Err(HeadError::BadContentLength),
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                false,
                Ok(Framing::Chunked),
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\ncontent-length: 5\r\n\r\n",
                false,
                Ok(Framing::Chunked),
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
                false,
                Ok(Framing::UntilClose),
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Ok(Framing::UntilClose)),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Ok(Framing::Empty)),
            (
                "HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n",
                false,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                false,
                Err(HeadError::Upgrade),
            ),
        ];
        for (text, head_request, expected) in cases {
            assert_eq!(framing(&mut head(text), head_request), expected, "{text:?}");
        }
        let mut overridden =
            head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n");
        framing(&mut overridden, false).unwrap();
        assert!(overridden.headers.get("content-length").is_none());
    }
}
