"""Helpers for the kiosk page tests: plain HTTP (urllib) against a started WebDisplay, reading
Server-Sent Events and MJPEG parts, and sample status and result views."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPResponse
from typing import Any

import cv2
import numpy as np

from drivers.display.base import ResultView, StatusView
from drivers.display.web import WebDisplay

ZH_LABELS = {
    "title": "前台考勤",
    "idle": "请看摄像头或出示二维码",
    "online": "在线",
    "offline": "离线",
    "offline_only": "仅本地",
    "backlog": "待上传 {count} 条",
    "clock": "时钟未同步",
    "camera": "摄像头未连接",
}


def zh_status(**changes: Any) -> StatusView:
    """A Chinese status: online, nothing waiting, clock synchronised, camera present."""
    values: dict[str, Any] = {
        "online": True,
        "backlog": 0,
        "clock_synced": True,
        "camera_ok": True,
        "labels": ZH_LABELS,
        "language": "zh",
        "terminal_id": "kiosk-01",
        "site": "上海",
    }
    values.update(changes)
    return StatusView(**values)


def success(sequence: int, name: str = "张三", hold_s: float = 30.0) -> ResultView:
    """A successful check-in decided now."""
    return ResultView(
        kind="success",
        title="签到成功",
        name=name,
        detail="08:59:30",
        icon="ok",
        sound="success",
        hold_s=hold_s,
        decided_at=time.time(),
        sequence=sequence,
    )


def refusal(sequence: int, reason: str = "未识别，请再试一次", hold_s: float = 30.0) -> ResultView:
    """A refused check-in with its reason."""
    return ResultView(
        kind="refused",
        title=reason,
        detail="请正对摄像头",
        icon="error",
        sound="failure",
        hold_s=hold_s,
        decided_at=time.time(),
        sequence=sequence,
    )


@contextmanager
def started(**kwargs: Any) -> Iterator[WebDisplay]:
    """A WebDisplay on a port the system picks, closed afterwards."""
    display = WebDisplay(kwargs.pop("listen", "127.0.0.1:0"), **kwargs)
    display.start()
    try:
        yield display
    finally:
        display.close()


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers["Content-Type"]


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """(status, body) of a JSON POST; HTTP errors are returned, not raised."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def stream(url: str, timeout: float = 10.0) -> HTTPResponse:
    """An open streaming response (``/events``, ``/preview.mjpg``); close it when done."""
    response: HTTPResponse = urllib.request.urlopen(url, timeout=timeout)
    return response


def next_event(response: HTTPResponse, comments: list[bytes] | None = None) -> dict[str, Any]:
    """The next ``data:`` message of an SSE stream (comments collected when asked)."""
    while True:
        line = response.readline()
        if not line:
            raise AssertionError("the event stream ended")
        if line.startswith(b"data: "):
            message: dict[str, Any] = json.loads(line[len(b"data: ") :])
            return message
        if line.startswith(b":") and comments is not None:
            comments.append(line)


def next_jpeg(response: HTTPResponse) -> np.ndarray:
    """The next part of an MJPEG stream, decoded (BGR)."""
    length = None
    while True:
        line = response.readline()
        if not line:
            raise AssertionError("the MJPEG stream ended")
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif line in (b"\r\n", b"\n") and length is not None:
            data = response.read(length)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None, "a part is not a JPEG"
            return image


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {what or condition}")
        time.sleep(0.02)
