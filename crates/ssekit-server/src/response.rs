//! Response headers and the request's `Last-Event-ID`.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Request, Response, StatusCode};

use crate::body::SseBody;

/// The `text/event-stream` content type this crate sends.
pub const CONTENT_TYPE_EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// Wraps `body` in a `200 OK` response with the headers an event stream needs:
/// `Content-Type: text/event-stream; charset=utf-8`, `Cache-Control: no-cache` (no cache or
/// proxy may store or hold it) and `X-Accel-Buffering: no` (nginx must not buffer it). It sets
/// no `Connection` header, which HTTP/2 forbids, and no `Content-Length`.
pub fn sse_response(body: SseBody) -> Response<SseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_EVENT_STREAM),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The id a reconnecting client sends: the `Last-Event-ID` header, or else a `lastEventId`
/// query parameter (a browser's `EventSource` cannot set headers on its first connection).
/// `None` when neither is present or the value is not UTF-8.
pub fn last_event_id<B>(request: &Request<B>) -> Option<String> {
    if let Some(value) = request.headers().get("last-event-id") {
        return value.to_str().ok().map(str::to_owned);
    }
    query_param(request, "lastEventId")
}

/// The value of the query parameter `name`, percent-decoded (`+` is a space); `None` when it
/// is absent or not UTF-8 once decoded.
pub fn query_param<B>(request: &Request<B>, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value)).flatten()
    })
}

/// Decodes `%XX` escapes and `+` (a space in forms); `None` if the result is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
