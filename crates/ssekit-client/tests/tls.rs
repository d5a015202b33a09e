//! TLS against a server with a self-signed certificate (rcgen): trusted by an extra CA file,
//! refused without it, accepted by the insecure switch.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ssekit_client::{Client, ErrorKind, ReconnectPolicy, Request};
use tokio::net::TcpListener;

async fn tls_server() -> (std::net::SocketAddr, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    let chain = vec![cert.cert.der().clone()];
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(|_req| async {
                    let mut response = hyper::Response::new(http_body_util::Full::new(
                        Bytes::from_static(b"data: secure\n\n"),
                    ));
                    response.headers_mut().insert(
                        "content-type",
                        http::HeaderValue::from_static("text/event-stream"),
                    );
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, cert_pem)
}

async fn first_event(client: &Client, url: &str) -> Result<String, ssekit_client::Error> {
    let stream = client.stream(Request::get(url).unwrap(), ReconnectPolicy::never());
    let mut events = Box::pin(stream.events());
    let next = tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("bounded");
    next.expect("an item").map(|e| e.data().to_owned())
}

#[tokio::test]
async fn a_self_signed_server_is_trusted_only_when_told() {
    let (addr, pem) = tls_server().await;
    let url = format!("https://localhost:{}/", addr.port());

    let dir = std::env::temp_dir().join(format!("ssekit-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();

    let trusted = Client::builder()
        .add_root_certificates(&ca)
        .build()
        .unwrap();
    assert_eq!(first_event(&trusted, &url).await.unwrap(), "secure");

    let default = Client::new().unwrap();
    let error = first_event(&default, &url).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network, "{error}");

    let insecure = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert_eq!(first_event(&insecure, &url).await.unwrap(), "secure");
    let _ = std::fs::remove_dir_all(dir);
}
