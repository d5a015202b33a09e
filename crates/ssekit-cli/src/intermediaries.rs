//! `ssekit relay` and `ssekit proxy`: the intermediaries as standalone servers.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use ssekit_relay::{Proxy, Relay, RelayConfig};

use crate::serve::{
    accept_loop, listen, parse_headers, pipeline_factory, read_body, runtime, ProxyStream,
};
use crate::Failure;

#[derive(Debug, clap::Args)]
pub(crate) struct RelayArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8801")]
    listen: SocketAddr,
    /// The upstream SSE endpoint every request is relayed to.
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// A header sent upstream, `Name: value` (repeatable). Never sent to clients.
    #[arg(long, value_name = "HEADER")]
    upstream_header: Vec<String>,
    /// A client header forwarded upstream besides Content-Type and Accept-Language
    /// (repeatable). Cookies and Authorization are not forwarded unless named here.
    #[arg(long, value_name = "NAME")]
    forward_header: Vec<String>,
    /// A word removed from the stream, even when split across events (repeatable).
    #[arg(long, value_name = "WORD")]
    redact: Vec<String>,
    /// The largest accepted request body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    max_body: usize,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ProxyArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8802")]
    listen: SocketAddr,
    /// The upstream (http://host:port/base): requests go there, their path appended.
    #[arg(long, value_name = "URL")]
    upstream: String,
}

pub(crate) fn relay(args: &RelayArgs) -> Result<(), Failure> {
    let mut config =
        RelayConfig::new(args.upstream.clone()).pipeline(pipeline_factory(&args.redact));
    for (name, value) in parse_headers(&args.upstream_header, "--upstream-header")? {
        config = config.upstream_header(name, value);
    }
    for name in &args.forward_header {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Failure::Input(format!("--forward-header {name:?}: invalid header name"))
        })?;
        config = config.forward_header(name);
    }
    // Check the URL now, so that a typo is a usage error, not an error event per request.
    ssekit_client::Request::get(&args.upstream)
        .map_err(|e| Failure::Input(format!("relay: --upstream: {e}")))?;
    let max_body = args.max_body;
    runtime()?.block_on(async move {
        let client =
            ssekit_client::Client::new().map_err(|e| Failure::Input(format!("relay: {e}")))?;
        let relay = Arc::new(Relay::new(client, config));
        let listener = listen(args.listen)?;
        accept_loop(
            listener,
            move |request: http::Request<ssekit_server::RequestBody>| {
                let relay = Arc::clone(&relay);
                async move {
                    let (parts, body) = request.into_parts();
                    match read_body(body, max_body).await {
                        Ok(body) => relay
                            .relay(parts.method, &parts.headers, body)
                            .map(BodyExt::boxed),
                        Err(response) => response,
                    }
                }
            },
            || {},
        )
        .await;
        Ok(())
    })
}

pub(crate) fn proxy(args: &ProxyArgs) -> Result<(), Failure> {
    let proxy =
        Arc::new(Proxy::new(&args.upstream).map_err(|e| Failure::Input(format!("proxy: {e}")))?);
    runtime()?.block_on(async move {
        let listener = listen(args.listen)?;
        accept_loop(
            listener,
            move |request| {
                let proxy = Arc::clone(&proxy);
                async move {
                    let (parts, body) = proxy.forward(request).await.into_parts();
                    http::Response::from_parts(parts, ProxyStream(body).boxed())
                }
            },
            || {},
        )
        .await;
        Ok(())
    })
}
