"""serve from a real browser (slow; headless Chromium driven by Selenium): a page from another site
cannot read an answer from serve, nor have it do work; a page on http://localhost:<other port> can,
a streamed chat included (the preflight, the CORS headers and the exposed X-Taskprof headers as a
browser client meets them)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recommender import serve
from tests.serve_support import start

pytestmark = pytest.mark.slow

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage")
FOREIGN = "evil.test"  # mapped to 127.0.0.1 inside the browser only

# Runs in the page: three requests a browser client makes, each reported (or its failure).
SCRIPT = """
const [url, model, done] = arguments;
const ask = (stream) => JSON.stringify({model, stream, messages: [{role: "user", content: "hi"}]});
(async () => {
  const out = {};
  try {
    const r = await fetch(url + "/api/chat", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: ask(false)});
    out.json = {status: r.status, profile: r.headers.get("X-Taskprof-Profile"), body: await r.json()};
  } catch (e) { out.json = {error: String(e)}; }
  try {  // text/plain: a "simple" request, sent without a preflight
    const r = await fetch(url + "/api/chat", {method: "POST", headers: {"Content-Type": "text/plain"},
                                             body: ask(false)});
    out.plain = {status: r.status, body: await r.text()};
  } catch (e) { out.plain = {error: String(e)}; }
  try {  // as the OpenAI SDK sends it: a key and its x-stainless headers, streamed
    const r = await fetch(url + "/v1/chat/completions", {method: "POST", body: ask(true), headers: {
      "Content-Type": "application/json", "Authorization": "Bearer sk-local", "X-Stainless-OS": "Linux",
      "X-Stainless-Retry-Count": "0"}});
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let reads = 0, text = "";
    for (;;) {
      const {done: end, value} = await reader.read();
      if (end) break;
      reads += 1;
      text += decoder.decode(value, {stream: true});
    }
    out.stream = {status: r.status, reads, text};
  } catch (e) { out.stream = {error: String(e)}; }
  done(out);
})();
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = b"<!doctype html><html><head><title>a page</title></head><body>a page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def page_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="taskprof-chromium-")
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}", f"--host-resolver-rules=MAP {FOREIGN} 127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_page_from_another_site_cannot_use_serve_a_localhost_page_can(fake, browser):
    fake.line_delay = 0.05
    fake.reply = "alpha beta gamma delta"
    url, _app, stop = start(serve.ServeSession(host=fake.host, memory="128GB"))
    try:
        with page_server() as port:
            browser.get(f"http://{FOREIGN}:{port}/")
            chats_before = [p for _, p, _ in fake.requests if p != "/api/tags"]
            foreign = browser.execute_async_script(SCRIPT, url, "taskprof/programming:fast")
            assert set(foreign) == {"json", "plain", "stream"}
            for kind in ("json", "plain", "stream"):
                assert "error" in foreign[kind], (kind, foreign[kind])  # nothing readable
            assert [p for _, p, _ in fake.requests if p != "/api/tags"] == chats_before  # no work done

            browser.get(f"http://localhost:{port}/")
            local = browser.execute_async_script(SCRIPT, url, "taskprof/programming:fast")
    finally:
        stop()
    assert local["json"]["status"] == 200, local
    assert local["json"]["profile"] == "programming"  # an exposed header
    assert local["json"]["body"]["message"]["content"].startswith("[coder-fast:7b]")
    assert local["plain"]["status"] == 200
    stream = local["stream"]
    assert stream["status"] == 200 and stream["reads"] > 1, stream
    assert stream["text"].rstrip().endswith("data: [DONE]") and "alpha" in stream["text"]
