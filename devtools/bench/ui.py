"""``kiosk bench ui``: how long from a decision to the result on the kiosk screen.

The kiosk's own page (Server-Sent Events: the result is pushed the moment the daemon decides)
is measured against the naive page a kiosk is often given instead, which asks the server for
the state every 500 ms, in the same run, in a real headless Chromium on this machine. Both
pages report when they painted each result (two animation frames after the DOM update) and
the server records ``painted - decided`` (:meth:`drivers.display.base.Display.latencies`);
both run on one machine, so one clock.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from typing import Any

from common.errors import KioskError
from drivers.display.base import ResultView, StatusView
from drivers.display.web import WebDisplay

POLL_MS = 500
NAIVE_PAGE = """<!doctype html><html><body><h1 id="title">…</h1><h2 id="name"></h2><script>
let last = 0;
async function poll() {
  try {
    const state = await (await fetch("/state")).json();
    const r = state.result;
    if (r && r.sequence !== last) {
      last = r.sequence;
      document.getElementById("title").textContent = r.title;
      document.getElementById("name").textContent = r.name || "";
      requestAnimationFrame(() => requestAnimationFrame(() => fetch("/rendered", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({sequence: r.sequence, shown_at: Date.now()})})));
    }
  } catch (e) {}
  setTimeout(poll, POLL_MS);
}
poll();
</script></body></html>""".replace("POLL_MS", str(POLL_MS))


def _chromium() -> str:
    wanted = os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium")
    found = shutil.which(wanted)
    if found is None:
        raise KioskError(f"kiosk bench ui needs Chromium at {wanted} (apt-get install chromium)")
    return found


def _figures(latencies: list[float]) -> dict[str, Any]:
    ms = sorted(value * 1000 for value in latencies)
    if not ms:
        return {"results_shown": 0}
    cut = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) > 1 else ms * 19
    return {
        "results_shown": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(cut[18], 1),
        "max_ms": round(ms[-1], 1),
    }


def _push(display: WebDisplay, count: int, first: int, interval_s: float) -> None:
    for number in range(count):
        view = ResultView(
            "success", "签到成功", f"测试{number:03d}", "09:00:00", "ok", "none",
            hold_s=interval_s, decided_at=time.time(), sequence=first + number,
        )  # fmt: skip
        display.show(view)
        time.sleep(interval_s)


def _measure(display: WebDisplay, browser: Any, path: str, count: int, first: int) -> list[float]:
    """Open ``path`` in a fresh page, push ``count`` results, the latencies recorded for them."""
    before = len(display.latencies())
    context = browser.new_context(viewport={"width": 800, "height": 480})
    page = context.new_page()
    if path == "/naive":
        page.route(
            f"{display.url}naive", lambda r: r.fulfill(body=NAIVE_PAGE, content_type="text/html")
        )
    page.goto(f"{display.url}{path.lstrip('/')}")
    page.wait_for_timeout(1500)  # connected and idle before the first result
    _push(display, count, first, interval_s=0.7)
    page.wait_for_timeout(POLL_MS * 3)  # the last report of the slowest page
    context.close()
    return display.latencies()[before:]


def bench_ui(results: int = 30) -> dict[str, Any]:
    """The decision-to-screen latency of the kiosk page and of the naive polling page."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise KioskError("kiosk bench ui needs playwright (pip install playwright)") from None
    executable = _chromium()
    display = WebDisplay("127.0.0.1:0", preview=False, sounds=False)
    display.start()
    try:
        display.status(StatusView(online=True, backlog=0, clock_synced=True, camera_ok=True))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                version = browser.version
                pushed = _measure(display, browser, "/", results, 1)
                polled = _measure(display, browser, "/naive", results, 1 + results)
            finally:
                browser.close()
    finally:
        display.close()
    return {
        "benchmark": "ui",
        "chromium": version,
        "results": results,
        "kiosk_page_sse": _figures(pushed),
        "naive_poll_500ms": _figures(polled),
    }
