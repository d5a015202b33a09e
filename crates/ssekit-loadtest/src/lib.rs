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
