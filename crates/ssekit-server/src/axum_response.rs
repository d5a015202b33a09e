//! `SseBody` as an axum response (the `axum` feature).

use axum::response::{IntoResponse, Response};

use crate::body::SseBody;
use crate::response::sse_response;

impl IntoResponse for SseBody {
    fn into_response(self) -> Response {
        sse_response(self).map(axum::body::Body::new)
    }
}
