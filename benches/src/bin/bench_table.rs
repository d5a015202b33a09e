//! Turns the results of one `cargo bench -p ssekit-benches` run into the Markdown tables of
//! `docs/performance.md`.
//!
//! Usage: `bench_table [CRITERION_DIR]`; the default is `$CARGO_TARGET_DIR/criterion`, else
//! `target/criterion`. Each benchmark's time is criterion's typical estimate (the regression
//! slope when it has one, else the mean), the figure it prints as `time:`. Ratios are rounded
//! down, and each target is judged on the unrounded ratio.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, process};

use serde_json::Value;

/// One benchmark's result.
struct Measured {
    /// Seconds per iteration.
    seconds: f64,
    /// Bytes processed per iteration.
    bytes: f64,
    /// Elements processed per iteration, if the group counts them.
    elements: Option<f64>,
}

impl Measured {
    fn mib_per_s(&self) -> f64 {
        self.bytes / self.seconds / (1024.0 * 1024.0)
    }
}

/// Results by group, then by function.
type Results = BTreeMap<String, BTreeMap<String, Measured>>;

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| fail(&format!("cannot parse {}: {e}", path.display())))
}

fn fail(message: &str) -> ! {
    eprintln!("bench_table: {message}");
    process::exit(1)
}

/// Collects every `new/benchmark.json` (with its `new/estimates.json`) under `dir`.
fn collect(dir: &Path, results: &mut Results) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            let benchmark = path.join("benchmark.json");
            let estimates = path.join("estimates.json");
            if benchmark.is_file() && estimates.is_file() {
                add(&read_json(&benchmark), &read_json(&estimates), results);
            }
        } else {
            collect(&path, results);
        }
    }
}

fn add(benchmark: &Value, estimates: &Value, results: &mut Results) {
    let (Some(group), Some(function)) = (
        benchmark["group_id"].as_str(),
        benchmark["function_id"].as_str(),
    ) else {
        return;
    };
    let throughput = &benchmark["throughput"];
    let (bytes, elements) = if let Some(bytes) = throughput["Bytes"].as_f64() {
        (bytes, None)
    } else if let Some(elements) = throughput["Elements"].as_f64() {
        (0.0, Some(elements))
    } else if let Some(both) = throughput.get("ElementsAndBytes") {
        (
            both["bytes"].as_f64().unwrap_or(0.0),
            both["elements"].as_f64(),
        )
    } else {
        return;
    };
    let estimate = if estimates["slope"].is_object() {
        &estimates["slope"]
    } else {
        &estimates["mean"]
    };
    let Some(nanos) = estimate["point_estimate"].as_f64() else {
        return;
    };
    results.entry(group.to_owned()).or_default().insert(
        function.to_owned(),
        Measured {
            seconds: nanos / 1e9,
            bytes,
            elements,
        },
    );
}

/// A ratio rounded down to two decimals, so a rounded figure never flatters ssekit.
fn ratio(value: f64) -> String {
    format!("{:.2}", (value * 100.0).floor() / 100.0)
}

const PEERS: [&str; 3] = ["sse-stream", "eventsource-stream", "sse-codec"];

fn decode_table(results: &Results) -> String {
    let mut out = String::new();
    out.push_str(
        "| corpus / chunk | ssekit | ssekit-copy | sse-stream | eventsource-stream | sse-codec \
         | memchr2 scan | ssekit / fastest peer | ssekit / memchr2 | targets |\n",
    );
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for corpus in ["tokens", "ticker", "multiline", "mixed"] {
        for chunk in ["16KiB", "64B"] {
            let Some(group) = results.get(&format!("decode/{corpus}/{chunk}")) else {
                continue;
            };
            let speed = |name: &str| group.get(name).map(Measured::mib_per_s);
            let cell = |speed: Option<f64>| speed.map_or("n/a".to_owned(), |s| format!("{s:.0}"));
            let ours = speed("ssekit");
            let floor = speed("memchr2_scan");
            let fastest = PEERS
                .iter()
                .filter_map(|&peer| speed(peer).map(|s| (peer, s)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let _ = write!(
                out,
                "| {corpus} / {chunk} | {} | {} ",
                cell(ours),
                cell(speed("ssekit-copy"))
            );
            for peer in PEERS {
                let _ = write!(out, "| {} ", cell(speed(peer)));
            }
            let _ = write!(out, "| {} ", cell(floor));
            let mut verdicts = Vec::new();
            match (ours, fastest) {
                (Some(ours), Some((peer, best))) => {
                    let r = ours / best;
                    let _ = write!(out, "| {} ({peer}) ", ratio(r));
                    verdicts.push(if r >= 2.0 {
                        "2x peer: met"
                    } else {
                        "2x peer: MISSED"
                    });
                }
                _ => out.push_str("| n/a "),
            }
            match (ours, floor) {
                (Some(ours), Some(floor)) => {
                    let r = ours / floor;
                    let _ = write!(out, "| {} ", ratio(r));
                    if chunk == "16KiB" && (corpus == "tokens" || corpus == "multiline") {
                        verdicts.push(if r >= 0.5 {
                            "0.5x memchr2: met"
                        } else {
                            "0.5x memchr2: MISSED"
                        });
                    }
                }
                _ => out.push_str("| n/a "),
            }
            let _ = writeln!(out, "| {} |", verdicts.join("; "));
        }
    }
    out
}

fn encode_table(results: &Results) -> String {
    let mut out = String::new();
    out.push_str("| events | encoder | events/s | MiB/s | ssekit / this |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: |\n");
    for (group_id, group) in results.range("encode/".to_owned().."encode0".to_owned()) {
        let name = group_id.trim_start_matches("encode/");
        let ours = group.get("ssekit").map(Measured::mib_per_s);
        for encoder in ["ssekit", "naive_split", "fmt_write"] {
            let Some(result) = group.get(encoder) else {
                continue;
            };
            let events = result.elements.map_or("n/a".to_owned(), |n| {
                let rate = n / result.seconds;
                if rate >= 1e6 {
                    format!("{:.2} M", rate / 1e6)
                } else {
                    format!("{:.1} k", rate / 1e3)
                }
            });
            let versus = ours.map_or("n/a".to_owned(), |o| ratio(o / result.mib_per_s()));
            let _ = writeln!(
                out,
                "| {name} | {encoder} | {events} | {:.0} | {versus} |",
                result.mib_per_s()
            );
        }
    }
    out
}

/// The client peers, by benchmark id.
const CLIENT_PEERS: [&str; 2] = ["reqwest-eventsource", "eventsource-client"];

/// A rate in events per second, as `1.23 M` or `456.7 k`.
fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else {
        format!("{:.1} k", per_second / 1e3)
    }
}

fn client_table(results: &Results) -> String {
    let mut out = String::new();
    for (group_id, group) in results.range("client/".to_owned().."client0".to_owned()) {
        let name = group_id.trim_start_matches("client/");
        let speed = |client: &str| {
            group
                .get(client)
                .and_then(|m| m.elements.map(|n| n / m.seconds))
        };
        let ours = speed("ssekit");
        out.push_str("| corpus | client | ms per request | events/s | ssekit / this |\n");
        // `hyper-body` is the floor (a bare hyper client, no parsing); its events/s is the
        // same event count over its time.
        out.push_str("| --- | --- | ---: | ---: | ---: |\n");
        for client in std::iter::once("ssekit")
            .chain(CLIENT_PEERS)
            .chain(["hyper-body"])
        {
            let (Some(result), Some(theirs)) = (group.get(client), speed(client)) else {
                continue;
            };
            let versus = ours.map_or("n/a".to_owned(), |o| ratio(o / theirs));
            let _ = writeln!(
                out,
                "| {name} | {client} | {:.1} | {} | {versus} |",
                result.seconds * 1e3,
                rate(theirs)
            );
        }
        let fastest = CLIENT_PEERS
            .iter()
            .filter_map(|&peer| speed(peer).map(|s| (peer, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(ours), Some((peer, best))) = (ours, fastest) {
            let r = ours / best;
            let _ = writeln!(
                out,
                "\n{name}: ssekit / fastest peer ({peer}) = {} (unrounded {r:.4}); 2x peer: {}\n",
                ratio(r),
                if r >= 2.0 { "met" } else { "MISSED" }
            );
        }
    }
    out
}

fn main() {
    let dir = env::args_os().nth(1).map_or_else(
        || {
            env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("criterion")
        },
        PathBuf::from,
    );
    let mut results = Results::new();
    collect(&dir, &mut results);
    if results.is_empty() {
        fail(&format!("no criterion results under {}", dir.display()));
    }
    println!("Decoding, MiB/s of input (higher is better):\n");
    println!("{}", decode_table(&results));
    println!("Encoding:\n");
    print!("{}", encode_table(&results));
    let clients = client_table(&results);
    if !clients.is_empty() {
        println!("\nClient, events/s over loopback (higher is better):\n");
        print!("{clients}");
    }
}
