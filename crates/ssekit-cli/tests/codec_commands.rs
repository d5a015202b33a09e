//! `ssekit decode` and `ssekit encode`: test data cases, round trips, errors, streaming.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// `ssekit ARGS` with all three standard streams piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ssekit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ssekit")
}

fn ssekit(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args);
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().expect("wait for ssekit");
    writer.join().unwrap();
    output
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The command failed on bad input: exit 2, and stderr names every one of `mentions`.
fn assert_input_error(out: &Output, mentions: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    for mention in mentions {
        assert!(stderr.contains(mention), "{mention:?} not in {stderr:?}");
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every case of `testdata/decode`, through the binary: the items up to the first error, then
/// exit 2 with a message naming the limit's flag; exit 0 otherwise.
#[test]
fn decode_runs_the_test_data() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/decode");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let input = match case.get("input") {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => hex(case["input_hex"].as_str().unwrap()),
            };
            let mut args = vec!["decode".to_owned()];
            if case.get("comments").and_then(Value::as_bool) == Some(true) {
                args.push("--comments".into());
            }
            if let Some(limits) = case.get("limits") {
                for (key, flag) in [
                    ("max_line_length", "--max-line-length"),
                    ("max_event_size", "--max-event-size"),
                ] {
                    if let Some(n) = limits.get(key) {
                        args.push(flag.into());
                        args.push(n.to_string());
                    }
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = ssekit(&args, &input);
            let expect = case["expect"].as_array().unwrap();
            let first_error = expect.iter().position(|v| v.get("error").is_some());
            let got = json_lines(&out.stdout);
            match first_error {
                None => {
                    assert_eq!(&got, expect, "case {name:?}");
                    assert_eq!(out.status.code(), Some(0), "case {name:?}");
                }
                Some(at) => {
                    assert_eq!(got, expect[..at], "case {name:?}");
                    assert_eq!(out.status.code(), Some(2), "case {name:?}");
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let flag = if expect[at]["error"] == "line_too_long" {
                        "--max-line-length"
                    } else {
                        "--max-event-size"
                    };
                    assert!(stderr.contains(flag), "case {name:?}: stderr {stderr:?}");
                }
            }
            count += 1;
        }
    }
    assert!(count > 50);
}

#[test]
fn encode_then_decode_gives_every_event_back() {
    let input = concat!(
        r#"{"data":"plain"}"#,
        "\n",
        r#"{"event":"update","data":"a\nb\rc\r\nd","id":"7"}"#,
        "\n",
        "\n",
        r#"{"retry":2500}"#,
        "\n",
        r#"{"comment":"keep-alive"}"#,
        "\n",
        r#"{"data":"","id":""}"#,
        "\n",
        r#"{"data":"ünï 🎉 \u0000 tail\n"}"#,
        "\n",
    );
    let encoded = ssekit(&["encode"], input.as_bytes());
    assert_eq!(
        encoded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&encoded.stderr)
    );
    let decoded = ssekit(&["decode", "--comments"], &encoded.stdout);
    assert_eq!(decoded.status.code(), Some(0));
    let expect: Vec<Value> = [
        r#"{"event":"message","data":"plain","id":""}"#,
        r#"{"event":"update","data":"a\nb\nc\nd","id":"7"}"#,
        r#"{"retry":2500}"#,
        r#"{"comment":"keep-alive"}"#,
        r#"{"event":"message","data":"","id":""}"#,
        r#"{"event":"message","data":"ünï 🎉 \u0000 tail\n","id":""}"#,
    ]
    .iter()
    .map(|s| serde_json::from_str(s).unwrap())
    .collect();
    assert_eq!(json_lines(&decoded.stdout), expect);
}

#[test]
fn encode_splits_every_line_break_once() {
    let out = ssekit(&["encode"], br#"{"data":"a\r\nb\rc\nd"}"#);
    assert_eq!(out.stdout, b"data: a\ndata: b\ndata: c\ndata: d\n\n");
}

#[test]
fn encode_rejects_bad_input_naming_the_line() {
    let cases: [(&str, &str); 7] = [
        ("{\"data\":\"ok\"}\n{\"event\":\"a\\nb\"}\n", "input line 2"),
        ("{\"data\":\"ok\"}\n{\"event\":\"a\\rb\"}\n", "input line 2"),
        ("{\"data\":\"ok\"}\n{\"id\":\"a\\nb\"}\n", "input line 2"),
        (
            "{\"data\":\"ok\"}\n{\"id\":\"a\\u0000b\"}\n",
            "input line 2",
        ),
        ("{\"id\":\"a\\rb\"}\n", "input line 1"),
        ("{\"data\":\"ok\"}\n\nnot json\n", "input line 3"),
        ("{\"dta\":\"typo\"}\n", "input line 1"),
    ];
    for (input, line) in cases {
        let out = ssekit(&["encode"], input.as_bytes());
        assert_eq!(out.status.code(), Some(2), "input {input:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(line), "input {input:?}: stderr {stderr:?}");
        // What came before the bad line was encoded and written.
        if input.starts_with("{\"data\":\"ok\"}") {
            assert_eq!(out.stdout, b"data: ok\n\n", "input {input:?}");
        }
    }
    let out = ssekit(&["encode"], br#"{"retry":-1}"#);
    assert_eq!(out.status.code(), Some(2));
}

/// A rejected line writes nothing of itself, not even the comment or retry time it holds
/// before the bad field; what came before it is written.
#[test]
fn encode_writes_nothing_of_a_rejected_line() {
    for bad in [
        r#"{"comment":"c","retry":5,"id":"a\nb","data":"x"}"#,
        r#"{"retry":5,"event":"a\rb","data":"x"}"#,
        r#"{"comment":"c","id":"a\u0000b"}"#,
    ] {
        let input = format!("{{\"data\":\"ok\"}}\n{bad}\n{{\"data\":\"never\"}}\n");
        let out = ssekit(&["encode"], input.as_bytes());
        assert_input_error(&out, &["input line 2"]);
        assert_eq!(out.stdout, b"data: ok\n\n", "{bad}");
    }
}

/// Input that is not UTF-8 is bad input on its line (exit 2), after the lines before it.
#[test]
fn encode_rejects_invalid_utf8_naming_the_line() {
    let out = ssekit(&["encode"], b"{\"data\":\"ok\"}\n{\"data\":\"\xff\"}\n");
    assert_input_error(&out, &["input line 2", "UTF-8"]);
    assert_eq!(out.stdout, b"data: ok\n\n");
}

/// A limit error names the line that is too long, or the event whose data is too large, and
/// comes after the events before it.
#[test]
fn decode_limit_errors_name_the_line_or_event() {
    let input = b"data: a\n\n: note\r\ndata: 0123456789\n\n";
    let out = ssekit(&["decode", "--max-line-length", "10"], input);
    assert_input_error(&out, &["line 4 ", "--max-line-length"]);
    assert_eq!(json_lines(&out.stdout).len(), 1);

    let input = b"data: a\n\nretry: 5\n\ndata: 012\ndata: 3456789\n\n";
    let out = ssekit(&["decode", "--max-event-size", "8"], input);
    assert_input_error(&out, &["event 2:", "--max-event-size"]);
    assert_eq!(json_lines(&out.stdout).len(), 2); // the event, and the retry time
}

/// The default limits take an event of 9 MiB of data and stop at a line of 16 MiB + 1 byte.
#[test]
fn decode_default_limits() {
    let mut input = b"data: ".to_vec();
    input.resize(input.len() + 9 * 1024 * 1024, b'x');
    input.extend_from_slice(b"\n\n");
    let out = ssekit(&["decode"], &input);
    assert_eq!(out.status.code(), Some(0));
    let events = json_lines(&out.stdout);
    assert_eq!(
        events[0]["data"].as_str().map(str::len),
        Some(9 * 1024 * 1024)
    );

    let mut input = b"data: a\n\n".to_vec();
    input.resize(input.len() + 16 * 1024 * 1024 + 1, b'y');
    input.extend_from_slice(b"\n\n");
    let out = ssekit(&["decode"], &input);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out.stdout).len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3 ") && stderr.contains("16777216"),
        "{stderr}"
    );
}

/// A reader that goes away (`ssekit decode | head -1`) ends the command quietly, with success.
#[test]
fn decode_and_encode_end_quietly_when_the_reader_goes_away() {
    for (command, item) in [
        ("decode", &b"data: x\n\n"[..]),
        ("encode", &b"{\"data\":\"x\"}\n"[..]),
    ] {
        let mut child = spawn(&[command]);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdin.write_all(item).unwrap();
        stdin.flush().unwrap();
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "{command}");
        drop(stdout);
        // Keep writing until the command has noticed (bounded: 64 MiB at most).
        let chunk = item.repeat(64 * 1024 / item.len());
        for _ in 0..1024 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}");
        assert!(out.stderr.is_empty(), "{command}: {:?}", out.stderr);
    }
}

#[test]
fn decode_replaces_invalid_utf8() {
    let out = ssekit(&["decode"], b"data: a\xffb\n\n");
    assert_eq!(
        json_lines(&out.stdout),
        vec![serde_json::json!({"event":"message","data":"a\u{fffd}b","id":""})]
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = ssekit(&["decode", "--max-line-length", "lots"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = ssekit(&["no-such-command"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = ssekit(&["encode", "extra"], b"");
    assert_eq!(out.status.code(), Some(2));
}

/// Reads lines from `reader` on a thread, so that each can be awaited with a timeout.
fn line_reader(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// An event is written as soon as its bytes arrive, while the input is still open.
#[test]
fn decode_streams_event_by_event() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssekit"))
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    stdin.write_all(b"data: one\n\ndata: tw").unwrap();
    stdin.flush().unwrap();
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("the first event before the input ends");
    assert_eq!(first, r#"{"event":"message","data":"one","id":""}"#);
    stdin.write_all(b"o\n\n").unwrap();
    stdin.flush().unwrap();
    let second = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("the second event");
    assert_eq!(second, r#"{"event":"message","data":"two","id":""}"#);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn encode_streams_event_by_event() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssekit"))
        .arg("encode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    stdin.write_all(b"{\"data\":\"one\"}\n").unwrap();
    stdin.flush().unwrap();
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("the first event before the input ends");
    assert_eq!(first, "data: one");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
