//! The chat page's SSE parser (JavaScript, in `src/chat.html`) against the decoding test data,
//! run by Node.js. It fails, rather than skips, when `node` is missing.

use std::path::PathBuf;
use std::process::Command;

const DRIVER: &str = r#"
const fs = require("fs");
const [pageFile, dataDir] = process.argv.slice(1);
const html = fs.readFileSync(pageFile, "utf8");
const start = html.indexOf("class SSEParser");
const end = html.indexOf("\n}\n", start) + 2;
const SSEParser = new Function(html.slice(start, end) + "\nreturn SSEParser;")();
let checked = 0, failed = [];
for (const file of fs.readdirSync(dataDir).filter((f) => f.endsWith(".json"))) {
  for (const c of JSON.parse(fs.readFileSync(dataDir + "/" + file, "utf8"))) {
    if (c.limits) continue; // the page has no limits
    const bytes = c.input_hex !== undefined ? Buffer.from(c.input_hex, "hex") : Buffer.from(c.input, "utf8");
    const want = c.expect.filter((e) => e.event !== undefined)
      .map((e) => JSON.stringify([e.event, e.data, e.id]));
    for (const size of [1, 2, 3, 5, bytes.length || 1]) {
      const got = [];
      const parser = new SSEParser((e) => got.push(JSON.stringify([e.type, e.data, e.id])));
      const decoder = new TextDecoder("utf-8"); // strips one BOM and replaces invalid bytes, as a browser's TextDecoderStream does
      for (let i = 0; i < bytes.length; i += size) {
        parser.push(decoder.decode(bytes.subarray(i, i + size), { stream: true }));
      }
      parser.push(decoder.decode());
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        failed.push(file + ": " + c.name + " (chunks of " + size + "): got " + JSON.stringify(got) + " want " + JSON.stringify(want));
      }
      checked++;
    }
  }
}
console.log(JSON.stringify({ checked, failed }));
"#;

#[test]
fn the_pages_sse_parser_agrees_with_the_test_data() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("node")
        .arg("-e")
        .arg(DRIVER)
        .arg(root.join("src/chat.html"))
        .arg(root.join("../../testdata/decode"))
        .output()
        .expect("Node.js (`node`) is needed to test the chat page's parser");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["checked"].as_u64().unwrap() > 200, "{report}");
    assert_eq!(report["failed"], serde_json::json!([]), "{report:#}");
}
