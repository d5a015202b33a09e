//! A controllable upstream: streams what the test sends it, records requests, and reports
//! when a client drops its response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Recorded>>>,
    /// Receives a sender per request: what the test sends on it is streamed to the client;
    /// dropping it ends the response.
    pub(crate) streams: mpsc::UnboundedReceiver<mpsc::UnboundedSender<Bytes>>,
    /// Receives `()` when a response body is dropped (the client side went away).
    pub(crate) dropped: mpsc::UnboundedReceiver<()>,
}

struct Streamed {
    rx: mpsc::UnboundedReceiver<Bytes>,
    dropped: mpsc::UnboundedSender<()>,
}

impl Drop for Streamed {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

pub(crate) async fn start(
    content_type: &'static str,
    extra_header: Option<(&'static str, &'static str)>,
) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (streams_tx, streams) = mpsc::unbounded_channel();
    let (dropped_tx, dropped) = mpsc::unbounded_channel();
    let recorded = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let recorded = Arc::clone(&recorded);
            let streams_tx = streams_tx.clone();
            let dropped_tx = dropped_tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let recorded = Arc::clone(&recorded);
                    let streams_tx = streams_tx.clone();
                    let dropped_tx = dropped_tx.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(http_body_util::Collected::to_bytes)
                            .unwrap_or_default();
                        recorded.lock().unwrap().push(Recorded {
                            method: parts.method.to_string(),
                            path: parts
                                .uri
                                .path_and_query()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            headers: parts.headers,
                            body,
                        });
                        let (tx, rx) = mpsc::unbounded_channel();
                        let _ = streams_tx.send(tx);
                        let mut response = hyper::Response::new(Streamed {
                            rx,
                            dropped: dropped_tx,
                        });
                        response
                            .headers_mut()
                            .insert("content-type", content_type.parse().unwrap());
                        response
                            .headers_mut()
                            .insert("connection", "x-upstream-hop".parse().unwrap());
                        response
                            .headers_mut()
                            .insert("x-upstream-hop", "hop".parse().unwrap());
                        if let Some((name, value)) = extra_header {
                            response.headers_mut().insert(name, value.parse().unwrap());
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        requests,
        streams,
        dropped,
    }
}
