//! The floor of a hop: a TCP relay that knows nothing of HTTP or SSE. Each accepted
//! connection gets a connection of its own to the upstream, and bytes are copied both ways as
//! they come (`tokio::io::copy_bidirectional`): one read and one write per event, the least
//! that any user-space proxy does. Its added latency in `scripts/hop.sh tcp` is what the
//! kernel's two extra loopback legs cost, with no parsing at all.
//!
//! Usage: `tcp-hop --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT`. It prints
//! `listening on http://ADDR` on stderr once it accepts connections.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut upstream: Option<SocketAddr> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = value.parse().expect("--listen HOST:PORT"),
            "--upstream" => upstream = Some(value.parse().expect("--upstream HOST:PORT")),
            other => panic!("unknown flag {other}"),
        }
    }
    let upstream = upstream.expect("--upstream HOST:PORT");
    // The same runtime as `ssekit proxy`: tokio's multi-threaded scheduler.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.unwrap();
        eprintln!("listening on http://{}", listener.local_addr().unwrap());
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                // Out of file descriptors, say: wait rather than spin on the error.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
}
