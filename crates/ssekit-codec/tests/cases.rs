//! The cases in `testdata/decode/*.json`, each decoded whole and in every small chunking.

use std::path::PathBuf;

use serde_json::Value;
use ssekit_codec::Limits;

use crate::support::decode_chunks;

struct Case {
    name: String,
    input: Vec<u8>,
    comments: bool,
    limits: Limits,
    expect: Vec<Value>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex input"))
        .collect()
}

fn load() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/decode");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/decode")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read case file");
        let list: Vec<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in list {
            let input = match (case.get("input"), case.get("input_hex")) {
                (Some(Value::String(s)), None) => s.as_bytes().to_vec(),
                (None, Some(Value::String(h))) => hex(h),
                _ => panic!("{}: a case needs input or input_hex", file.display()),
            };
            let mut limits = Limits::default();
            if let Some(l) = case.get("limits") {
                if let Some(n) = l.get("max_line_length").and_then(Value::as_u64) {
                    limits = limits.with_max_line_length(n as usize);
                }
                if let Some(n) = l.get("max_event_size").and_then(Value::as_u64) {
                    limits = limits.with_max_event_size(n as usize);
                }
            }
            cases.push(Case {
                name: format!(
                    "{}: {}",
                    file.file_name().unwrap().to_string_lossy(),
                    case["name"].as_str().unwrap()
                ),
                input,
                comments: case
                    .get("comments")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                limits,
                expect: case["expect"].as_array().expect("expect").clone(),
            });
        }
    }
    assert!(
        cases.len() > 50,
        "expected the test data to hold many cases"
    );
    cases
}

#[test]
fn cases_decode_whole() {
    for case in load() {
        let got = decode_chunks(case.limits, case.comments, [&case.input[..]]);
        assert_eq!(got, case.expect, "case {:?}", case.name);
    }
}

#[test]
fn cases_decode_in_every_chunk_size() {
    for case in load() {
        for size in 1..=7 {
            let got = decode_chunks(case.limits, case.comments, case.input.chunks(size));
            assert_eq!(got, case.expect, "case {:?} in chunks of {size}", case.name);
        }
    }
}

#[test]
fn cases_decode_with_every_single_split() {
    for case in load() {
        for at in 0..=case.input.len() {
            let (a, b) = case.input.split_at(at);
            let got = decode_chunks(case.limits, case.comments, [a, b]);
            assert_eq!(got, case.expect, "case {:?} split at {at}", case.name);
        }
    }
}

#[test]
fn cases_agree_with_the_oracle() {
    for case in load() {
        if case.limits != Limits::default() {
            continue; // the oracle has no limits
        }
        let oracle = crate::oracle::decode(&case.input, case.comments);
        assert_eq!(oracle, case.expect, "oracle on case {:?}", case.name);
    }
}
