// End-to-end test of the chat page in headless Chromium, driven by playwright-core.
// Usage: node chat.mjs BASE_URL   (a running `ssekit serve --redact secret`)
// Prints a JSON report; exits non-zero on any failure.
import { chromium } from "playwright-core";

const base = process.argv[2];
if (!base) {
  console.error("usage: node chat.mjs BASE_URL");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const fail = (message) => {
  throw new Error(message);
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const report = {};
try {
  const page = await browser.newPage();
  await page.goto(base + "/", { timeout: 20000 });

  // 1. An answer that grows token by token, with the redacted word never shown.
  await page.fill("[data-testid=prompt]", "tell me a secret");
  await page.click("[data-testid=send]");
  const states = [];
  const deadline = Date.now() + 30000;
  for (;;) {
    const text = (await page.locator("[data-testid=assistant]").last().textContent()) || "";
    if (/secret/i.test(text)) fail("the redacted word reached the page: " + JSON.stringify(text));
    if (states.length === 0 || states[states.length - 1] !== text) states.push(text);
    const status = await page.textContent("[data-testid=status]");
    if (status === "done") break;
    if (status === "error") fail("the page reported an error");
    if (Date.now() > deadline) fail("the answer did not finish in 30 s; last status " + status);
    await page.waitForTimeout(40);
  }
  const answer = states[states.length - 1];
  if (states.length < 5) fail("the answer did not grow over several states: " + states.length);
  for (let i = 1; i < states.length; i++) {
    if (!states[i].startsWith(states[i - 1])) fail("the answer was rewritten instead of growing");
  }
  if (!answer.includes("[redacted]")) fail("the answer lacks the redaction marker: " + answer);
  report.states = states.length;
  report.answer = answer;

  // 2. Stop cancels the generation (and with it the upstream request).
  await page.fill("[data-testid=prompt]", "a second question");
  await page.click("[data-testid=send]");
  await page.waitForFunction(() => {
    const all = document.querySelectorAll("[data-testid=assistant]");
    return all.length === 2 && all[1].textContent.length > 10;
  }, null, { timeout: 20000 });
  const generation = await page.evaluate(() => generation);
  if (!generation) fail("the page has no generation id");
  await page.click("[data-testid=stop]");
  await page.waitForFunction(() => document.querySelector("[data-testid=status]").textContent === "stopped", null, { timeout: 10000 });
  // The server no longer runs it: a second DELETE finds nothing to stop.
  let stopped = false;
  for (let i = 0; i < 40 && !stopped; i++) {
    const response = await fetch(base + "/chat/" + generation, { method: "DELETE" });
    stopped = response.status === 404;
    if (!stopped) await new Promise((r) => setTimeout(r, 100));
  }
  if (!stopped) fail("the generation was still running after Stop");
  const stoppedText = await page.locator("[data-testid=assistant]").last().textContent();
  if (!stoppedText.endsWith("[stopped]")) fail("the stopped answer is not marked: " + stoppedText);
  report.stopped = true;
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
