//! `ssekit get`: Event JSON from a stream, exit codes, request options.

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// A small server: `/401`, `/204`, `/json`, `/two` (two events, then the end), and `/echo`
/// (one event describing the request, then the end).
async fn server() -> SocketAddr {
    ssekit_test::serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let path = req.uri().path().to_owned();
        let method = req.method().to_string();
        let token = req
            .headers()
            .get("x-token")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let (status, content_type, text) = match path.as_str() {
            "/401" => (401, "text/plain", "denied: bad token".to_owned()),
            "/204" => (204, "text/plain", String::new()),
            "/json" => (200, "application/json", "{}".to_owned()),
            "/two" => (
                200,
                "text/event-stream",
                "retry: 1500\nid: 1\ndata: a\n\nevent: x\ndata: b\n\n".to_owned(),
            ),
            "/echo" => (
                200,
                "text/event-stream",
                format!(
                    "data: {method} {token} {}\n\n",
                    String::from_utf8_lossy(&body)
                ),
            ),
            _ => (404, "text/plain", "no".to_owned()),
        };
        let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        response
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        response
    })
    .await
}

async fn get(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let child = Command::new(env!("CARGO_BIN_EXE_ssekit"))
            .arg("get")
            .args(&args)
            .args(["--timeout", "20"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn events_as_event_json_then_exit_0_when_the_stream_ends() {
    let addr = server().await;
    let out = get(vec![format!("http://{addr}/two"), "--no-reconnect".into()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lines(&out),
        vec![
            serde_json::json!({"retry": 1500}),
            serde_json::json!({"event": "message", "data": "a", "id": "1"}),
            serde_json::json!({"event": "x", "data": "b", "id": "1"}),
        ]
    );
}

#[tokio::test]
async fn max_events_exits_0_after_n_events_even_while_reconnecting() {
    let addr = server().await;
    // /two ends after two events; the default policy reconnects (after its retry: 1.5 s).
    let out = get(vec![
        format!("http://{addr}/two"),
        "--max-events".into(),
        "3".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0));
    let events = lines(&out)
        .into_iter()
        .filter(|l| l.get("data").is_some())
        .count();
    assert_eq!(events, 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("reconnecting"));
}

#[tokio::test]
async fn a_fatal_status_exits_1_with_the_status_and_body_on_stderr() {
    let addr = server().await;
    let out = get(vec![format!("http://{addr}/401")]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("denied: bad token"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "diagnostics never go to stdout");
}

#[tokio::test]
async fn a_204_exits_0_and_a_wrong_content_type_exits_1() {
    let addr = server().await;
    let out = get(vec![format!("http://{addr}/204")]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let out = get(vec![format!("http://{addr}/json")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("application/json"));
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let addr = server().await;
    let url = format!("http://{addr}/echo");
    let out = get(vec![
        url.clone(),
        "-H".into(),
        "X-Token: abc".into(),
        "-d".into(),
        "hello".into(),
        "--no-reconnect".into(),
    ])
    .await;
    assert_eq!(
        lines(&out)[0]["data"],
        "POST abc hello",
        "a body makes it a POST"
    );
    let file = std::env::temp_dir().join(format!("ssekit-get-body-{}", std::process::id()));
    std::fs::write(&file, "from a file").unwrap();
    let out = get(vec![
        url.clone(),
        "-X".into(),
        "PUT".into(),
        "-d".into(),
        format!("@{}", file.display()),
        "--no-reconnect".into(),
    ])
    .await;
    assert_eq!(lines(&out)[0]["data"], "PUT  from a file");
    let _ = std::fs::remove_file(file);
    let out = get(vec![url, "--no-reconnect".into()]).await;
    assert_eq!(lines(&out)[0]["data"], "GET  ");
}

#[tokio::test]
async fn bad_usage_exits_2() {
    for args in [
        vec!["not a url".to_owned()],
        vec!["ftp://example.com/".to_owned()],
        vec![
            "http://127.0.0.1:1/".to_owned(),
            "-H".to_owned(),
            "no colon".to_owned(),
        ],
        vec![
            "http://127.0.0.1:1/".to_owned(),
            "-d".to_owned(),
            "@/nonexistent/body".to_owned(),
        ],
    ] {
        let out = get(args.clone()).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn a_refused_connection_after_the_budget_exits_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let started = std::time::Instant::now();
    let out = get(vec![url, "--max-reconnects".into(), "0".into()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(15));
}
