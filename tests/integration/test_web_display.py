"""The kiosk page's server (drivers/display/web.py) over real HTTP, without a browser:
the page, the event stream, the live view, the paint reports, the address handling, and the
bounds on what clients can hold (streams, connections, time) and on the log."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest

from devtools.local_broker import free_port
from drivers.display import web_routes
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


def _state(display: WebDisplay) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(get(f"{display.url}state")[1])
    return state


def _health(display: WebDisplay) -> dict[str, Any]:
    health: dict[str, Any] = json.loads(get(f"{display.url}healthz")[1])
    return health


def _raw(display: WebDisplay, request: bytes = b"") -> socket.socket:
    """A plain TCP connection to the page server, ``request`` sent."""
    connection = socket.create_connection(("127.0.0.1", display.port), timeout=10)
    if request:
        connection.sendall(request)
    return connection


def _read_to_end(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(4096):
            received += chunk
    return received


def test_streams_past_max_stream_clients_are_refused_with_503_and_a_reason() -> None:
    with started(max_stream_clients=2, max_connections=8) as display:
        first, second = stream(f"{display.url}events"), stream(f"{display.url}preview.mjpg")
        try:
            next_event(first)
            for path in ("events", "preview.mjpg"):
                try:
                    urllib.request.urlopen(f"{display.url}{path}", timeout=10)
                    raise AssertionError(f"/{path} was served past the limit")
                except urllib.error.HTTPError as refused:
                    assert refused.code == 503 and refused.headers["Retry-After"] == "5"
                    assert refused.headers["Connection"] == "close"
                    reason = refused.read().decode()
                    assert reason.count("\n") == 1 and "[ui] max_stream_clients" in reason
            health = _health(display)
            assert (health["streams"], health["max_stream_clients"]) == (2, 2)
            assert health["refused_streams"] == 2
            assert get(display.url)[0] == 200  # the page itself is still served
        finally:
            first.close()
        again = None
        deadline = time.monotonic() + 10
        while again is None:  # once the server has seen the first stream go
            try:
                again = stream(f"{display.url}events")
            except urllib.error.HTTPError as refused:
                assert refused.code == 503 and time.monotonic() < deadline
                time.sleep(0.05)
        try:
            assert next_event(again)["type"] == "config"
        finally:
            again.close()
            second.close()


def test_connections_past_max_connections_get_503_and_are_closed_at_once() -> None:
    with started(max_stream_clients=1, max_connections=4, head_timeout_s=60) as display:
        idle = [_raw(display) for _ in range(3)]
        try:
            assert _health(display)["connections"] == 4  # the three idle ones and this one
            idle.append(_raw(display))
            wait_until(lambda: display._guard.open == 4, what="four connections held")
            extra = _raw(display, b"GET /healthz HTTP/1.1\r\nHost: kiosk\r\n\r\n")
            answer = _read_to_end(extra)
            extra.close()
            assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in answer
            assert answer.endswith(b"kiosk page: too many connections, try again later\n")
        finally:
            for connection in idle:
                connection.close()
        wait_until(lambda: get(f"{display.url}healthz")[0] == 200, what="served again")
        assert _health(display)["refused_connections"] >= 1


def test_a_connection_without_a_request_head_in_time_is_dropped() -> None:
    with started(head_timeout_s=0.5) as display:
        slow = _raw(display, b"GET / HTTP/1.1\r\nHost: ki")  # and nothing more
        assert _read_to_end(slow) == b""
        slow.close()
        silent = _raw(display)
        assert _read_to_end(silent) == b""
        silent.close()
        assert _health(display)["dropped_slow_connections"] == 2
        events = stream(f"{display.url}events")  # a head in time: its stream lives on
        try:
            next_event(events)
            time.sleep(1.0)
            display.status(zh_status(backlog=5))
            assert next_event(events)["backlog"] == 5
        finally:
            events.close()


def test_a_request_body_that_never_comes_is_answered_408(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_routes, "REQUEST_TIMEOUT_S", 0.5)
    with started() as display:
        head = b"POST /rendered HTTP/1.1\r\nHost: kiosk\r\nContent-Length: 100\r\n\r\n{"
        trickle = _raw(display, head)
        answer = trickle.recv(4096)
        trickle.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert get(f"{display.url}healthz")[0] == 200


def test_a_stream_client_that_stops_reading_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_routes, "WRITE_TIMEOUT_S", 0.5)
    with started(max_stream_clients=1, max_connections=4) as display:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", display.port))
        stuck.sendall(b"GET /events HTTP/1.1\r\nHost: kiosk\r\n\r\n")  # and never reads
        wait_until(lambda: _health(display)["streams"] == 1, what="the stream served")
        big = zh_status(labels={**zh_status().labels, "idle": "请看摄像头" * 2000})
        for backlog in range(1000):  # 30 MB: more than the socket buffers hold
            display.status(dataclasses.replace(big, backlog=backlog))
            time.sleep(0.002)  # each one written before the next, until the writes block
        wait_until(lambda: _health(display)["streams"] == 0, what="the stuck stream dropped")
        stuck.close()
        events = stream(f"{display.url}events")  # its place is free again
        try:
            assert next_event(events)["type"] == "config"
        finally:
            events.close()


def test_the_camera_is_shown_as_not_working_once_frames_stop() -> None:
    with started(camera_stale_s=0.5) as display:
        display.status(zh_status(camera_ok=True))
        wait_until(lambda: _state(display)["status"] is not None)
        camera = _state(display)["camera"]
        assert camera["ok"] is True and camera["frames"] == 0 and camera["last_frame_at"] is None
        events = stream(f"{display.url}events")
        try:
            assert [next_event(events)["type"] for _ in range(2)] == ["config", "status"]
            before = time.time()
            display.frame_arrived()
            display.frame_arrived()
            camera = _state(display)["camera"]
            assert camera["ok"] is True and camera["frames"] == 2
            assert before - 0.001 <= camera["last_frame_at"] <= time.time() + 0.001
            # No more frames: the page is told, and /state says so, whatever the last status said.
            assert next_event(events)["camera_ok"] is False
            state = _state(display)
            assert state["status"]["camera_ok"] is False and state["camera"]["ok"] is False
            assert state["camera"]["last_frame_age_s"] >= 0.5
            display.frame_arrived()
            assert next_event(events)["camera_ok"] is True
            assert _state(display)["camera"]["frames"] == 3
        finally:
            events.close()


def test_the_servers_own_errors_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    with started() as display:
        loop = display._loop
        assert loop is not None
        error = OSError(errno.EMFILE, "Too many open files")
        context = {"message": "socket.accept() out of system resource", "exception": error}
        done = threading.Event()

        def fail_many_accepts() -> None:
            for _ in range(500):
                loop.call_exception_handler(context)
            done.set()

        with caplog.at_level(logging.WARNING):
            loop.call_soon_threadsafe(fail_many_accepts)
            assert done.wait(10)
        lines = [r for r in caplog.records if "out of system resource" in r.getMessage()]
        assert len(lines) == 1 and "Too many open files" in lines[0].getMessage()
