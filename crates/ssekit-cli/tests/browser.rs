//! The chat page in headless Chromium (see `e2e/README.md`). Ignored by default because it
//! needs Chromium, Node.js and playwright-core; `.ci/run` installs them and runs it with
//! `--ignored`, and then it fails, rather than skips, if any is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::serve::start_command;

#[test]
#[ignore = "needs Chromium, Node.js and playwright-core; .ci/run installs them and runs it"]
fn browser_chat_page_streams_redacts_and_stops() {
    let server = start_command(
        &["serve", "--addr", "127.0.0.1:0"],
        &["--redact", "secret", "--mock-delay-ms", "25"],
    );
    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm install --no-save playwright-core@1.65.1` in e2e/"
    );
    let mut child = Command::new("node")
        .arg("chat.mjs")
        .arg(format!("http://{}", server.addr))
        .current_dir(&e2e)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("Node.js (`node`) is needed for the browser test");
    // Bounded in time: the script's own waits add up to well under this.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the browser test did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(report["states"].as_u64().unwrap() >= 5);
    assert_eq!(report["stopped"], true);
}
