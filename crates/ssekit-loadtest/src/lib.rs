//! Shared pieces of the load tests: the event payload carries its send time, so the load
//! generator measures delivery latency end to end.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// An event's data: `{"t":MICROS,"pad":"xxx…"}`, `pad` bytes long in all (at least the JSON).
pub fn payload(pad: usize) -> String {
    let head = format!("{{\"t\":{},\"pad\":\"", now_micros());
    let fill = pad.saturating_sub(head.len() + 2);
    let mut s = String::with_capacity(head.len() + fill + 2);
    s.push_str(&head);
    s.extend(std::iter::repeat_n('x', fill));
    s.push_str("\"}");
    s
}

/// The send time in a payload, if it has one.
pub fn sent_micros(data: &str) -> Option<u64> {
    let rest = data.strip_prefix("{\"t\":")?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

/// The resident memory of a process in KiB, from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time a process has used so far (user and system), in seconds, from
/// `/proc/PID/stat` (clock ticks of 1/100 s, as on every Linux this runs on).
// Tick counts stay far below 2^52: the cast loses nothing.
#[allow(clippy::cast_precision_loss)]
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}
