//! `ssekit serve` over loopback: the hub endpoints, auth, CORS, bad input, h2c, shutdown.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use ssekit_codec::Event;

/// A running `ssekit` server, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    start_command(&["serve", "--addr", "127.0.0.1:0"], args)
}

/// Starts `ssekit COMMAND...` and waits for its `listening on` line.
pub(crate) fn start_command(command: &[&str], args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssekit"))
        .args(command)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ssekit serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the listening line");
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

pub(crate) use ssekit_test::{events, request, text as body_text};

async fn publish(addr: SocketAddr, topic: &str, data: &str) -> String {
    let response = request(addr, "POST", &format!("/topics/{topic}"), &[], data).await;
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    json["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn publish_subscribe_and_resume() {
    let server = start(&[]);
    let addr = server.addr;
    let subscriber = request(addr, "GET", "/topics/news", &[], "").await;
    assert_eq!(subscriber.status(), 200);
    assert_eq!(
        subscriber.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let mut live = subscriber.into_body();

    let first = publish(addr, "news", "one").await;
    let typed = request(addr, "POST", "/topics/news?event=alert", &[], "two\nlines").await;
    assert_eq!(typed.status(), 200);
    let third = publish(addr, "news", "three").await;

    let got = events(&mut live, 3).await;
    assert_eq!(
        got.iter()
            .map(|e| (e.event_type(), e.data()))
            .collect::<Vec<_>>(),
        [
            ("message", "one"),
            ("alert", "two\nlines"),
            ("message", "three"),
        ]
    );
    assert!(
        got.iter().all(|e| e.id().is_some()),
        "every event carries an id"
    );
    assert_eq!(got[0].id(), Some(first.as_str()));

    // Resume with the header, and with the query parameter a browser's first connect uses.
    let resumed = request(
        addr,
        "GET",
        "/topics/news",
        &[("last-event-id", &first)],
        "",
    )
    .await;
    let got = events(&mut resumed.into_body(), 2).await;
    assert_eq!(
        got.iter().map(Event::data).collect::<Vec<_>>(),
        ["two\nlines", "three"]
    );
    let resumed = request(
        addr,
        "GET",
        &format!("/topics/news?lastEventId={first}"),
        &[],
        "",
    )
    .await;
    let got = events(&mut resumed.into_body(), 2).await;
    assert_eq!(got[1].id(), Some(third.as_str()));
}

#[tokio::test]
async fn publishing_needs_the_token_when_one_is_set() {
    let server = start(&["--publish-token", "s3cret"]);
    let denied = request(server.addr, "POST", "/topics/t", &[], "x").await;
    assert_eq!(denied.status(), 401);
    let wrong = request(
        server.addr,
        "POST",
        "/topics/t",
        &[("authorization", "Bearer nope")],
        "x",
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let allowed = request(
        server.addr,
        "POST",
        "/topics/t",
        &[("authorization", "Bearer s3cret")],
        "x",
    )
    .await;
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let server = start(&["--cors-origin", "https://app.example"]);
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/topics/t",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Last-Event-ID"));
    let other = request(
        server.addr,
        "OPTIONS",
        "/topics/t",
        &[("origin", "https://evil.example")],
        "",
    )
    .await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = request(
        server.addr,
        "GET",
        "/topics/t",
        &[("origin", "https://app.example")],
        "",
    )
    .await;
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

/// Method, path, headers, body, expected status.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, u16);

#[tokio::test]
async fn bad_requests_get_clean_4xx_answers() {
    let server = start(&["--max-publish-bytes", "16"]);
    let addr = server.addr;
    let cases: [Case<'_>; 7] = [
        ("GET", "/nowhere", &[], "", 404),
        ("GET", "/topics/bad%20name", &[], "", 404),
        ("PUT", "/topics/t", &[], "", 405),
        (
            "GET",
            "/topics/t",
            &[("last-event-id", "not-an-id")],
            "",
            400,
        ),
        (
            "POST",
            "/topics/t",
            &[],
            "this body is longer than sixteen bytes",
            413,
        ),
        ("POST", "/topics/t?event=a%0Ab", &[], "x", 400),
        ("POST", "/topics/t", &[], "", 200),
    ];
    for (method, path, headers, body, status) in cases {
        let response = request(addr, method, path, headers, body).await;
        assert_eq!(response.status(), status, "{method} {path}");
        if status >= 400 {
            assert!(
                !body_text(response).await.trim().is_empty(),
                "{method} {path}: a message"
            );
        }
    }
    // Oversized request headers: answered (431) or refused, never a hang.
    let huge = "x".repeat(100 * 1024);
    let mut send = ssekit_test::connect(addr).await;
    let req = hyper::Request::get("/topics/t")
        .header("host", "t")
        .header("x-big", huge)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), send.send_request(req))
        .await
        .expect("no hang");
    if let Ok(response) = answer {
        assert_eq!(response.status(), 431);
    } // else the server closed the connection
}

#[tokio::test]
async fn h2c_on_the_same_port() {
    let server = start(&[]);
    let mut send = ssekit_test::connect_h2c(server.addr).await;
    let id = publish(server.addr, "h2", "before").await;
    let req = hyper::Request::get(format!(
        "http://test/topics/h2?lastEventId={}",
        id.replace("-1", "-0")
    ))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let response = send.send_request(req).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("connection").is_none());
    let got = events(&mut response.into_body(), 1).await;
    assert_eq!(got[0].data(), "before");
}

#[tokio::test]
async fn sigterm_ends_streams_and_exits_cleanly() {
    let mut server = start(&[]);
    let subscriber = request(server.addr, "GET", "/topics/t", &[], "").await;
    let mut body = subscriber.into_body();
    publish(server.addr, "t", "last").await;
    assert_eq!(events(&mut body, 1).await.len(), 1);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The stream ends (cleanly or by the connection closing), within the bound.
    let end = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
    assert!(end.is_ok(), "the subscriber's stream ended");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ssekit serve did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
