//! A scripted SSE test server: the Nth request gets the Nth scenario; every request is
//! recorded.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How a scripted response ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum End {
    /// Cleanly.
    Close,
    /// Abruptly, mid-stream (the connection is reset).
    Drop,
    /// Never: the response stays open and silent.
    Hang,
}

#[derive(Clone, Debug)]
pub(crate) enum Scenario {
    /// `text/event-stream`: these chunks, `delay` apart, then `end`.
    Stream {
        chunks: Vec<Bytes>,
        delay: Duration,
        end: End,
    },
    /// Any status, headers and body.
    Status {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
    },
}

impl Scenario {
    pub(crate) fn events(text: &str, end: End) -> Self {
        Scenario::Stream {
            chunks: vec![Bytes::from(text.to_owned())],
            delay: Duration::ZERO,
            end,
        }
    }

    pub(crate) fn status(status: u16, body: &'static str) -> Self {
        Scenario::Status {
            status,
            headers: vec![],
            body,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Recorded>>>,
    /// Receives one message each time a streaming response is dropped by the client side.
    pub(crate) closed: Arc<Mutex<Option<mpsc::UnboundedReceiver<()>>>>,
}

impl Server {
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A streaming body fed by a channel; an `Err` item resets the connection.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
    _closed: Option<CloseSignal>,
}

struct CloseSignal(mpsc::UnboundedSender<()>);

impl Drop for CloseSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

pub(crate) async fn start(script: Vec<Scenario>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(script);
    let (closed_tx, closed_rx) = mpsc::unbounded_channel();
    let server = Server {
        addr,
        requests: Arc::clone(&requests),
        closed: Arc::new(Mutex::new(Some(closed_rx))),
    };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let requests = Arc::clone(&requests);
            let script = Arc::clone(&script);
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let requests = Arc::clone(&requests);
                    let script = Arc::clone(&script);
                    let closed_tx = closed_tx.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(http_body_util::Collected::to_bytes)
                            .unwrap_or_default();
                        let n = {
                            let mut r = requests.lock().unwrap();
                            r.push(Recorded {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers.clone(),
                                body,
                            });
                            r.len() - 1
                        };
                        let scenario = script.get(n).cloned().unwrap_or(Scenario::status(204, ""));
                        Ok::<_, Infallible>(respond(scenario, closed_tx))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    server
}

fn respond(scenario: Scenario, closed: mpsc::UnboundedSender<()>) -> hyper::Response<BoxBody> {
    match scenario {
        Scenario::Status {
            status,
            headers,
            body,
        } => {
            let mut response = hyper::Response::new(
                http_body_util::Full::new(Bytes::from_static(body.as_bytes()))
                    .map_err(|e: Infallible| match e {})
                    .boxed(),
            );
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(name, http::HeaderValue::from_static(value));
            }
            response
        }
        Scenario::Stream { chunks, delay, end } => {
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(async move {
                for chunk in chunks {
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                match end {
                    End::Close => {}
                    End::Drop => {
                        let _ = tx.send(Err(io::Error::other("scripted drop"))).await;
                    }
                    End::Hang => {
                        tx.closed().await;
                    }
                }
            });
            let body = ChannelBody {
                rx,
                _closed: Some(CloseSignal(closed)),
            };
            let mut response = hyper::Response::new(body.boxed());
            response.headers_mut().insert(
                "content-type",
                http::HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    }
}
