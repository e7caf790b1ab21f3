"""The Pi camera module driver (picamera2) against a stand-in ``picamera2`` module.

The stand-in sits where the hardware edge is, like gpiozero's MockFactory for the GPIO tests:
it records what the driver asks of ``Picamera2`` and hands back arrays shaped as picamera2's
``capture_array`` returns them for the ``RGB888`` format (height x width x 3, uint8, B, G, R).
No Pi camera and no picamera2 are on this machine; what real hardware does is not tested here.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from drivers.camera import (
    CameraUnavailable,
    OpenCVCamera,
    Picamera2Camera,
    Picamera2Missing,
    ReplayCamera,
    is_picamera2_source,
    open_camera,
)
from drivers.camera.picamera2_capture import FORMAT, MISSING, parse_source


class FakePicamera2:
    """Records the calls; ``capture_array`` returns BGR frames numbered in the blue channel."""

    cameras: ClassVar[list[dict[str, Any]]] = [{"Model": "imx708", "Num": 0, "Id": "/base/i2c"}]
    made: ClassVar[list[FakePicamera2]] = []
    fail_start: ClassVar[Exception | None] = None

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.calls: list[str] = []
        self.config: dict[str, Any] = {}
        self.waits: list[object] = []
        self.stall = False
        self.captured = 0
        FakePicamera2.made.append(self)

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return FakePicamera2.cameras

    def create_video_configuration(self, **options: Any) -> dict[str, Any]:
        self.calls.append("create_video_configuration")
        return dict(options)

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append("configure")
        self.config = config

    def camera_configuration(self) -> dict[str, Any]:
        return self.config

    def start(self) -> None:
        self.calls.append("start")
        if FakePicamera2.fail_start is not None:
            raise FakePicamera2.fail_start

    def capture_array(self, name: str = "main", wait: object = None) -> np.ndarray:
        self.waits.append(wait)
        if self.stall:
            raise TimeoutError()
        width, height = self.config["main"]["size"]
        image = np.zeros((height, width, 3), np.uint8)
        image[:, :, 0] = 200  # blue, first in memory for RGB888
        image[0, 0, 1] = self.captured
        self.captured += 1
        return image

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakePicamera2]]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    # Set through monkeypatch so that what a test changes is undone after it.
    monkeypatch.setattr(FakePicamera2, "made", [])
    monkeypatch.setattr(FakePicamera2, "fail_start", None)
    monkeypatch.setattr(FakePicamera2, "cameras", list(FakePicamera2.cameras))
    yield FakePicamera2


def test_configures_a_bgr_video_stream_at_the_size_and_frame_rate(picamera2):
    camera = Picamera2Camera(0, width=1280, height=720, fps=20)
    camera.open()
    try:
        [device] = picamera2.made
        assert device.calls == ["create_video_configuration", "configure", "start"]
        assert device.config["main"] == {"size": (1280, 720), "format": "RGB888"}
        assert FORMAT == "RGB888"
        assert device.config["controls"] == {"FrameDurationLimits": (50_000, 50_000)}
        assert device.config["queue"] is False  # a read waits for a fresh frame
        assert camera.description == "Pi camera 0 (imx708, picamera2)"
    finally:
        camera.close()


def test_default_size_is_640x480_and_odd_sizes_are_made_even(picamera2):
    with Picamera2Camera() as camera:
        assert picamera2.made[-1].config["main"]["size"] == (640, 480)
        frame = camera.read()
        assert frame is not None and frame.image.shape == (480, 640, 3)
    with Picamera2Camera(width=641, height=361):
        assert picamera2.made[-1].config["main"]["size"] == (640, 360)


def test_frames_are_bgr_uint8_numbered_and_stamped(picamera2):
    camera = Picamera2Camera(0, width=64, height=48, fps=15)
    camera.open()
    try:
        before_mono, before_wall = time.monotonic(), datetime.now(UTC)
        frames = [camera.read() for _ in range(3)]
        after_mono, after_wall = time.monotonic(), datetime.now(UTC)
    finally:
        camera.close()
    assert [f.index for f in frames if f is not None] == [0, 1, 2]
    for n, frame in enumerate(frames):
        assert frame is not None
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        assert frame.image.flags["C_CONTIGUOUS"]
        assert frame.image[0, 0, 0] == 200 and frame.image[0, 0, 2] == 0  # B, G, R untouched
        assert frame.image[0, 0, 1] == n
        assert before_mono <= frame.monotonic <= after_mono
        assert before_wall <= frame.wall <= after_wall and frame.wall.tzinfo is UTC
    assert frames[0].monotonic <= frames[1].monotonic <= frames[2].monotonic  # type: ignore[union-attr]
    # Each read is bounded: picamera2 gives up after this many seconds (a stalled camera).
    assert picamera2.made[0].waits == [camera.read_timeout_s] * 3


def test_reopening_starts_the_count_again(picamera2):
    camera = Picamera2Camera()
    camera.open()
    camera.read()
    camera.open()  # the first device is released first
    assert picamera2.made[0].calls[-2:] == ["stop", "close"]
    frame = camera.read()
    assert frame is not None and frame.index == 0
    camera.close()


def test_close_stops_and_releases_once_and_is_idempotent(picamera2):
    camera = Picamera2Camera()
    camera.close()  # never opened: nothing to do
    camera.open()
    camera.close()
    camera.close()
    assert picamera2.made[0].calls == [
        "create_video_configuration", "configure", "start", "stop", "close",
    ]  # fmt: skip
    with pytest.raises(CameraUnavailable, match="is not open"):
        camera.read()


def test_a_stalled_camera_is_unavailable_so_the_loop_reopens_it(picamera2):
    camera = Picamera2Camera(fps=10)
    camera.open()
    picamera2.made[0].stall = True
    with pytest.raises(CameraUnavailable, match=r"no frame for 2 s"):
        camera.read()
    camera.close()


def test_a_camera_that_cannot_start_is_released_and_named(picamera2):
    picamera2.fail_start = RuntimeError("Failed to acquire camera: Device or\nresource busy")
    camera = Picamera2Camera()
    with pytest.raises(CameraUnavailable) as raised:
        camera.open()
    message = str(raised.value)
    assert "\n" not in message and "resource busy" in message and "imx708" in message
    assert picamera2.made[0].calls[-2:] == ["stop", "close"]


def test_a_camera_number_past_the_attached_ones_lists_what_is_there(picamera2):
    found = r"no Pi camera number 1: libcamera found 0: imx708"
    with pytest.raises(CameraUnavailable, match=found):
        Picamera2Camera(1).open()
    picamera2.cameras = []
    with pytest.raises(CameraUnavailable, match="no camera"):
        Picamera2Camera(0).open()
    assert picamera2.made == []


def test_missing_picamera2_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    camera = Picamera2Camera()
    with pytest.raises(Picamera2Missing) as raised:
        camera.open()
    message = str(raised.value)
    assert message == MISSING and "\n" not in message
    assert "sudo apt install python3-picamera2" in message
    assert "--system-site-packages" in message
    assert isinstance(raised.value, CameraUnavailable)  # the camera loop retries it like any
    camera.close()


def test_picamera2_built_for_another_numpy_says_so(monkeypatch, tmp_path: Path):
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(
        'raise ValueError("numpy.dtype size changed, may indicate binary incompatibility.'
        ' Expected 96 from C header, got 88 from PyObject")\n'
    )  # what apt's simplejpeg, built for numpy 1.x, does under numpy 2
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Picamera2Missing) as raised:
        Picamera2Camera().open()
    message = str(raised.value)
    assert message.startswith("picamera2 cannot be imported: numpy.dtype size changed")
    assert "install simplejpeg from PyPI into the venv" in message and "\n" not in message


@pytest.mark.parametrize(
    ("source", "number"),
    [("picamera2", 0), ("picamera2:0", 0), ("picamera2:1", 1), ("CSI", 0), (" csi:3 ", 3)],
)
def test_pi_camera_sources(source, number):
    assert parse_source(source) == number and is_picamera2_source(source)
    camera = open_camera(source, 12.5, loop=False, width=800, height=600)
    assert isinstance(camera, Picamera2Camera)
    assert (camera.camera_num, camera.size, camera.fps) == (number, (800, 600), 12.5)
    assert camera.frame_us == 80_000


@pytest.mark.parametrize("source", ["0", "/dev/video0", "picamera2:x", "csi.mp4", "picamera"])
def test_other_sources_are_not_pi_cameras(source):
    assert parse_source(source) is None and not is_picamera2_source(source)


def test_open_camera_still_chooses_replay_and_opencv(tmp_path: Path):
    assert isinstance(open_camera(str(tmp_path), 15, False), ReplayCamera)
    assert isinstance(open_camera("csi.mp4", 15, False), ReplayCamera)
    assert isinstance(open_camera("0", 15, False), OpenCVCamera)
    assert isinstance(open_camera("rtsp://cam.local/csi", 15, False), OpenCVCamera)
