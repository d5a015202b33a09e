//! `ssekit get URL`: the fetch-style client; Event JSON on stdout.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use ssekit_client::{Client, ErrorKind, Item, Limits, ReconnectPolicy, Request};
use ssekit_codec::{Frame, Limits as CodecLimits};

use crate::{ndjson, Failure};

// Command-line switches are independent flags by nature.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URL of the event stream (http:// or https://).
    url: String,
    /// The method (default GET, or POST when a body is given).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The request body, or `@FILE` to read it from a file. Sent again on every reconnection.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    data: Option<String>,
    /// Start from this last event ID.
    #[arg(long, value_name = "ID")]
    last_event_id: Option<String>,
    /// Exit 0 after this many events.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Do not reconnect: exit 0 when the stream ends, 1 when it fails.
    #[arg(long)]
    no_reconnect: bool,
    /// Reconnect at most this many times.
    #[arg(long, value_name = "N")]
    max_reconnects: Option<u32>,
    /// Stop after this many seconds in all (exit 0).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Treat a connection silent for this many seconds (no bytes, not even comments) as dead.
    #[arg(long, value_name = "SECONDS")]
    read_timeout: Option<f64>,
    /// Accept any TLS certificate (test servers only).
    #[arg(long)]
    insecure: bool,
    /// Trust the certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Speak HTTP/2 without TLS (h2c prior knowledge).
    #[arg(long)]
    http2_prior_knowledge: bool,
    /// Also print comment lines as `{"comment": TEXT}`.
    #[arg(long)]
    comments: bool,
    /// The longest accepted line in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = CodecLimits::DEFAULT_MAX_LINE_LENGTH)]
    max_line_length: usize,
    /// The largest accepted event data in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = CodecLimits::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

fn seconds(value: f64, flag: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        Failure::Input(format!(
            "get: {flag} needs a non-negative number of seconds"
        ))
    })
}

fn build_request(args: &Args) -> Result<Request, Failure> {
    let body = match &args.data {
        None => None,
        Some(data) => Some(match data.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|e| {
                Failure::Input(format!("get: cannot read the body file {path}: {e}"))
            })?,
            None => data.clone().into_bytes(),
        }),
    };
    let method = match &args.method {
        Some(m) => m.to_ascii_uppercase(),
        None if body.is_some() => "POST".to_owned(),
        None => "GET".to_owned(),
    };
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| Failure::Input(format!("get: invalid method {method:?}")))?;
    let mut request =
        Request::new(method, &args.url).map_err(|e| Failure::Input(format!("get: {e}")))?;
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::Input(format!(
                "get: invalid header {header:?}: use 'Name: value'"
            )));
        };
        request = request
            .header(name.trim(), value.trim())
            .map_err(|e| Failure::Input(format!("get: {e}")))?;
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    if let Some(id) = &args.last_event_id {
        request = request.last_event_id(id.clone());
    }
    Ok(request)
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let request = build_request(args)?;
    let mut builder = Client::builder()
        .danger_accept_invalid_certs(args.insecure)
        .http2_prior_knowledge(args.http2_prior_knowledge)
        .comments(args.comments)
        .limits(
            Limits::default()
                .with_max_line_length(args.max_line_length)
                .with_max_event_size(args.max_event_size),
        );
    if let Some(file) = &args.cacert {
        builder = builder.add_root_certificates(file);
    }
    if let Some(t) = args.read_timeout {
        builder = builder.read_timeout(seconds(t, "--read-timeout")?);
    }
    let timeout = args.timeout.map(|t| seconds(t, "--timeout")).transpose()?;
    let mut policy = if args.no_reconnect {
        ReconnectPolicy::never()
    } else {
        ReconnectPolicy::default()
    };
    if let Some(max) = args.max_reconnects {
        policy = policy.with_max_reconnects(max);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Io)?;
    runtime.block_on(async {
        let client = builder.build().map_err(|e| match e.kind() {
            ErrorKind::InvalidRequest => Failure::Input(format!("get: {e}")),
            _ => Failure::Remote(format!("get: {e}")),
        })?;
        let stream = client.stream(request, policy);
        let run = consume(stream, args.max_events);
        let Some(limit) = timeout else {
            return run.await;
        };
        if let Ok(result) = tokio::time::timeout(limit, run).await {
            result
        } else {
            let _ = writeln!(io::stderr(), "ssekit get: stopped after --timeout");
            Ok(())
        }
    })
}

async fn consume(
    mut stream: ssekit_client::EventStream,
    max_events: Option<u64>,
) -> Result<(), Failure> {
    if max_events == Some(0) {
        return Ok(());
    }
    let mut stdout = io::stdout().lock();
    let mut events = 0u64;
    while let Some(item) = stream.next().await {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let mut message = format!("get: {e}");
                if let Some(body) = e.body().filter(|b| !b.is_empty()) {
                    let _ = write!(message, "\nssekit: the response began: {body}");
                }
                if e.kind() == ErrorKind::InvalidRequest {
                    return Err(Failure::Input(message));
                }
                return Err(Failure::Remote(message));
            }
        };
        match item {
            Item::Event(event) => {
                ndjson::write_frame(&mut stdout, &Frame::Event(event))?;
                stdout.flush()?;
                events += 1;
                if max_events.is_some_and(|max| events >= max) {
                    return Ok(());
                }
            }
            Item::Retry(retry) => {
                let ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
                ndjson::write_frame(&mut stdout, &Frame::Retry(ms))?;
                stdout.flush()?;
            }
            Item::Comment(comment) => {
                ndjson::write_frame(&mut stdout, &Frame::Comment(comment))?;
                stdout.flush()?;
            }
            Item::Reconnecting {
                attempt,
                delay,
                cause,
            } => {
                let _ = writeln!(
                    io::stderr(),
                    "ssekit get: reconnecting in {} ms (reconnection {attempt}) after {cause:?}",
                    delay.as_millis()
                );
            }
            _ => {}
        }
    }
    Ok(())
}
