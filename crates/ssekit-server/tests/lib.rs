//! Integration tests of the server crate: the body, the hub, HTTP over loopback, and
//! `Server`'s connection handling.

mod body;
mod http;
mod hub;
mod server;

/// Sends a `tick` event every 20 ms until the client goes away; the number sent.
async fn ticks_until_closed(sender: ssekit_server::Sender) -> usize {
    let mut sent = 0;
    let tick = ssekit_server::Event::new("tick");
    loop {
        tokio::select! {
            () = sender.closed() => return sent,
            r = sender.send(&tick) => {
                if r.is_err() { return sent }
                sent += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}
