//! A bench server: `GET /sub` streams a ticker of timestamped events, `rate` per second, from
//! either ssekit's hub (`--impl ssekit`) or the idiomatic axum peer (`--impl axum`: `Sse` +
//! `KeepAlive` over a `tokio::sync::broadcast` channel).
//!
//! Usage: `bench-server --impl ssekit|ssekit-hyper|axum|bare|bare-direct --addr 127.0.0.1:0
//! --rate 100 --pad 100`. `ssekit` serves plain `GET`s on ssekit-server's direct HTTP/1.1
//! path, `ssekit-hyper` the same hub through hyper; `bare` (hyper) and `bare-direct` (the
//! direct path) serve a body that never has an event: the floor of memory per connection.
//! With `--impl ssekit` it also serves `GET /bulk?events=N&size=BYTES`: N events as fast as the
//! connection takes them (the hops' bulk throughput bench).
//! It prints `listening on http://ADDR` on stderr once it accepts connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use ssekit_loadtest::payload;
use ssekit_server::{sse_response, Hub, HubConfig};
use tokio::net::TcpSocket;

struct Args {
    implementation: String,
    addr: SocketAddr,
    rate: u64,
    pad: usize,
}

fn args() -> Args {
    let mut args = Args {
        implementation: "ssekit".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
        rate: 10,
        pad: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--impl" => args.implementation = value,
            "--addr" => args.addr = value.parse().expect("--addr HOST:PORT"),
            "--rate" => args.rate = value.parse().expect("--rate N"),
            "--pad" => args.pad = value.parse().expect("--pad BYTES"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Calls `tick` `rate` times a second (not at all when `rate` is 0).
async fn ticker(rate: u64, mut tick: impl FnMut()) {
    if rate == 0 {
        return;
    }
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        interval.tick().await;
        tick();
    }
}

fn listener(addr: SocketAddr) -> tokio::net::TcpListener {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(1024).unwrap()
}

/// `GET /bulk?events=N&size=BYTES`: N events of about BYTES bytes of data each, as fast as
/// the connection takes them (encoded once, in 64 KiB frames), then the end. The source of
/// the hops' bulk throughput bench.
fn bulk(events: u64, size: usize) -> ssekit_server::SseBody {
    let mut one = bytes::BytesMut::new();
    ssekit_codec::Encoder::new()
        .encode_event(&ssekit_codec::Event::new("x".repeat(size)), &mut one);
    let per_frame = (64 * 1024 / one.len()).max(1) as u64;
    let mut frame = bytes::BytesMut::with_capacity(one.len() * per_frame as usize);
    for _ in 0..per_frame {
        frame.extend_from_slice(&one);
    }
    let frame = frame.freeze();
    let mut left = events;
    ssekit_server::SseBody::from_stream(futures_util::stream::poll_fn(move |_| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = left.min(per_frame);
        left -= n;
        std::task::Poll::Ready(Some(frame.slice(..one.len() * n as usize)))
    }))
}

async fn ssekit(args: Args, direct: bool) {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_events(1000)
            .with_queue(256),
    );
    let publisher = hub.clone();
    let pad = args.pad;
    tokio::spawn(ticker(args.rate, move || {
        let _ = publisher.publish("tick", None, &payload(pad));
    }));
    serve(args.addr, direct, move |req| {
        if req.uri().path() == "/bulk" {
            let events = ssekit_server::query_param(req, "events")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1_000_000);
            let size = ssekit_server::query_param(req, "size")
                .and_then(|n| n.parse().ok())
                .unwrap_or(100);
            return bulk(events, size);
        }
        let last_event_id = ssekit_server::last_event_id(req);
        hub.subscribe("tick", last_event_id.as_deref())
            .expect("subscribe")
            .into_body()
            .with_keep_alive(Duration::from_secs(15))
    })
    .await;
}

/// Serves SSE bodies made by `body` as `ssekit serve` serves: ssekit-server's [`Server`], with
/// plain `GET`s on its direct HTTP/1.1 path (`direct`) or everything through hyper.
///
/// [`Server`]: ssekit_server::Server
async fn serve<F>(addr: SocketAddr, direct: bool, body: F)
where
    F: Fn(&http::Request<ssekit_server::RequestBody>) -> ssekit_server::SseBody
        + Clone
        + Send
        + Sync
        + 'static,
{
    let listener = listener(addr);
    eprintln!("listening on http://{}", listener.local_addr().unwrap());
    ssekit_server::Server::new()
        .direct_http1(direct)
        .serve(
            listener,
            move |request| std::future::ready(sse_response(body(&request))),
            std::future::pending(),
        )
        .await;
}

/// `--impl bare`: hyper alone, served as the ssekit server is, with an `SseBody` (keep-alive
/// included) that never has an event: the floor of memory per connection under hyper, for
/// comparison with the hub's figures.
async fn bare(args: Args, direct: bool) {
    serve(args.addr, direct, |_| {
        ssekit_server::SseBody::from_stream(futures_util::stream::pending::<bytes::Bytes>())
            .with_keep_alive(Duration::from_secs(15))
    })
    .await;
}

async fn axum_peer(args: Args) {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::routing::get;
    let (tx, _) = tokio::sync::broadcast::channel::<String>(1024);
    let sender = tx.clone();
    let pad = args.pad;
    tokio::spawn(ticker(args.rate, move || {
        let _ = sender.send(payload(pad));
    }));
    let app = axum::Router::new().route(
        "/sub",
        get(move || {
            let rx = tx.subscribe();
            async move {
                let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(data) => {
                                return Some((Ok::<_, Infallible>(Event::default().data(data)), rx))
                            }
                            // A lagging subscriber is skipped ahead: the events it missed are lost.
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                });
                Sse::new(stream).keep_alive(KeepAlive::default())
            }
        }),
    );
    let listener = listener(args.addr);
    eprintln!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        match args.implementation.as_str() {
            "ssekit" => ssekit(args, true).await,
            "ssekit-hyper" => ssekit(args, false).await,
            "axum" => axum_peer(args).await,
            "bare" => bare(args, false).await,
            "bare-direct" => bare(args, true).await,
            other => panic!("--impl ssekit|ssekit-hyper|axum|bare|bare-direct, not {other}"),
        }
    });
}
