"""The kiosk page's server (drivers/display/web.py) over real HTTP, without a browser:
the page, the event stream, the live view, the paint reports, the address handling."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest

from devtools.local_broker import free_port
from drivers.display.base import DisplayUnavailable
from drivers.display.web import WebDisplay
from tests.web_display_tools import (
    get,
    next_event,
    next_jpeg,
    post,
    started,
    stream,
    success,
    wait_until,
    zh_status,
)


def test_page_static_files_and_health_are_served() -> None:
    with started() as display:
        status, body, kind = get(display.url)
        assert status == 200 and kind.startswith("text/html")
        for hook in ('id="result"', 'id="result-title"', 'id="idle"', 'id="status"'):
            assert hook.encode() in body
        for name, expected in (("kiosk.js", "javascript"), ("kiosk.css", "text/css")):
            status, body, kind = get(f"{display.url}static/{name}")
            assert status == 200 and expected in kind and body
        assert get(f"{display.url}static/../web.py")[0] in (403, 404)
        assert get(f"{display.url}static/missing.js")[0] == 404
        status, body, _ = get(f"{display.url}healthz")
        assert status == 200 and json.loads(body)["ok"] is True
    for off in ({"preview": False}, {"preview_fps": 0.0}):
        with started(**off) as display:
            assert get(f"{display.url}preview.mjpg")[0] == 404
            assert json.loads(get(f"{display.url}state")[1])["config"]["preview"] is False
            assert display.wants_preview() is False


def test_events_deliver_status_then_a_result_pushed_from_another_thread() -> None:
    with started(sounds=False, spoken_prompts=True) as display:
        display.status(zh_status(online=False, backlog=3))
        events = stream(f"{display.url}events")
        try:
            config = next_event(events)
            assert config == {
                "type": "config",
                "sounds": False,
                "spoken_prompts": True,
                "preview": True,
            }
            status = next_event(events)
            assert status["type"] == "status" and status["online"] is False
            assert status["backlog"] == 3 and status["lang"] == "zh-Hans"
            assert status["labels"]["backlog"] == "待上传 {count} 条"

            pusher = threading.Thread(target=display.show, args=(success(7),))
            pusher.start()
            pusher.join()
            result = next_event(events)
            assert result["type"] == "result" and result["kind"] == "success"
            assert (result["name"], result["sequence"], result["replay"]) == ("张三", 7, False)
            assert result["title"] == "签到成功" and result["sound"] == "success"

            display.status(zh_status(online=None, language="en"))
            later = next_event(events)
            assert later["online"] is None and later["lang"] == "en"
        finally:
            events.close()


def test_a_late_client_gets_the_held_result_until_hold_s_has_passed() -> None:
    with started() as display:
        display.status(zh_status())
        display.show(success(1, hold_s=1.0))
        wait_until(lambda: json.loads(get(f"{display.url}state")[1])["result"] is not None)
        events = stream(f"{display.url}events")
        try:
            kinds = [next_event(events)["type"] for _ in range(3)]
            assert kinds == ["config", "status", "result"]
        finally:
            events.close()
        state = json.loads(get(f"{display.url}state")[1])
        assert state["status"]["labels"]["idle"] == "请看摄像头或出示二维码"
        assert state["result"]["name"] == "张三"
        wait_until(lambda: json.loads(get(f"{display.url}state")[1])["result"] is None, 5.0)


def test_the_event_stream_sends_keepalive_comments() -> None:
    with started(keepalive_s=0.2) as display:
        events = stream(f"{display.url}events")
        try:
            comments: list[bytes] = []
            next_event(events)  # config
            display.status(zh_status())
            time.sleep(0.6)
            display.status(zh_status(backlog=1))
            next_event(events, comments)
            while not comments:
                next_event(events, comments)
            assert comments[0].startswith(b": keepalive")
        finally:
            events.close()


def test_rendered_records_one_latency_per_result() -> None:
    with started() as display:
        view = success(3)
        display.show(view)
        wait_until(lambda: json.loads(get(f"{display.url}state")[1])["result"] is not None)
        shown_at = (view.decided_at + 0.25) * 1000
        body = json.dumps({"sequence": 3, "shown_at": shown_at}).encode()
        assert post(f"{display.url}rendered", body) == (200, b'{"recorded": true}')
        assert display.latencies() == [pytest.approx(0.25, abs=0.002)]
        assert post(f"{display.url}rendered", body) == (200, b'{"recorded": false}')
        unknown = json.dumps({"sequence": 99, "shown_at": shown_at}).encode()
        assert post(f"{display.url}rendered", unknown) == (200, b'{"recorded": false}')
        assert len(display.latencies()) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"sequence": 1}',
        b'{"sequence": "1", "shown_at": 1700000000000}',
        b'{"sequence": 1, "shown_at": "now"}',
        b'{"sequence": true, "shown_at": 1700000000000}',
        b"\xff\xfe",
        b'{"sequence": 1, "shown_at": 1' + b"0" * 400 + b"}",
        b'{"sequence": 1' + b"0" * 400 + b', "shown_at": 1700000000000}',
        b'{"sequence": -1, "shown_at": 1700000000000}',
        b'{"sequence": 1, "shown_at": Infinity}',
        b'{"sequence": 1, "shown_at": NaN}',
    ],
)
def test_a_bad_rendered_body_is_refused_and_the_server_keeps_serving(body: bytes) -> None:
    with started() as display:
        status, text = post(f"{display.url}rendered", body)
        assert status == 400 and b"sequence" in text
        assert get(f"{display.url}healthz")[0] == 200
        assert display.latencies() == []


def test_the_live_view_streams_scaled_frames_with_boxes_only_while_watched() -> None:
    with started(preview_width=320, preview_fps=4.0) as display:
        frame = np.zeros((480, 640, 3), np.uint8)
        assert display.wants_preview() is False
        display.preview(frame, [])
        viewer = stream(f"{display.url}preview.mjpg")
        try:
            assert viewer.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            wait_until(display.wants_preview, what="wants_preview with a viewer")
            display.preview(frame, [(100, 400, 300, 200)])  # top, right, bottom, left
            image = next_jpeg(viewer)
            assert image.shape == (240, 320, 3)
            blue, green, red = (int(v) for v in image[100, 100])  # on the box's left edge
            assert green > 150 and red < 120 and blue < 120
            assert image[100, 150].max() < 40  # inside the box: the black frame

            done = threading.Event()
            offerer = threading.Thread(target=_offer_until, args=(display, frame, done))
            offerer.start()  # offers far faster than preview_fps
            parts, stop = 0, time.monotonic() + 1.5
            try:
                while time.monotonic() < stop:
                    next_jpeg(viewer)
                    parts += 1
            finally:
                done.set()
                offerer.join()
            assert 2 <= parts <= 4 * 1.5 + 2
        finally:
            viewer.close()
        wait_until(lambda: not display.wants_preview(), what="no viewer, no preview")


def _offer_until(display: WebDisplay, frame: np.ndarray, done: threading.Event) -> None:
    """Offer ``frame`` every 5 ms until ``done``."""
    while not done.wait(0.005):
        display.preview(frame, [])


def test_a_taken_address_raises_display_unavailable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        display = WebDisplay(f"127.0.0.1:{port}")
        with pytest.raises(DisplayUnavailable) as caught:
            display.start()
        message = str(caught.value)
        assert str(port) in message and "in use" in message and "\n" not in message
        display.close()
    with pytest.raises(DisplayUnavailable, match="host:port"):
        WebDisplay("no-port-here").start()


def test_close_ends_the_streams_and_frees_the_port() -> None:
    port = free_port()
    display = WebDisplay(f"127.0.0.1:{port}")
    display.start()
    assert display.port == port
    events = stream(f"{display.url}events")
    next_event(events)
    display.close()
    assert events.read().strip() == b""  # the stream ended rather than hanging
    events.close()
    display.show(success(1))  # after close: dropped, no error
    again = WebDisplay(f"127.0.0.1:{port}")
    again.start()
    try:
        assert get(f"{again.url}healthz")[0] == 200
    finally:
        again.close()
