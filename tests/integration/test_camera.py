"""Replay and OpenCV cameras: every frame in order, end of stream, looping, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.camera import (
    CameraUnavailable,
    Frame,
    OpenCVCamera,
    ReplayCamera,
    open_camera,
)
from drivers.camera.base import Camera
from tests.recognition_tools import write_image

CLIP_FRAMES = 275


def _solid(value: int) -> np.ndarray:
    return np.full((48, 64, 3), value, dtype=np.uint8)


def _read_all(camera: Camera, limit: int = 1000) -> list[Frame]:
    frames: list[Frame] = []
    with camera:
        while len(frames) < limit and (frame := camera.read()) is not None:
            frames.append(frame)
    return frames


def test_video_file_plays_every_frame_then_ends(faces_dir: Path) -> None:
    camera = ReplayCamera(faces_dir / "video" / "short_hamilton_clip.mp4", fps=25, realtime=False)
    frames = _read_all(camera)
    assert len(frames) == CLIP_FRAMES
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    assert frames[0].image.shape == (360, 640, 3)
    assert frames[0].image.dtype == np.uint8
    # Without realtime, frames carry media time: index / fps after the start.
    assert frames[25].monotonic - frames[0].monotonic == pytest.approx(1.0)
    assert (frames[50].wall - frames[0].wall).total_seconds() == pytest.approx(2.0)
    assert frames[-1].wall.tzinfo is not None


def test_folder_plays_images_by_name_and_skips_broken_ones(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    write_image(folder / "b.png", _solid(20))
    write_image(folder / "a.png", _solid(10))
    write_image(folder / "c.jpg", _solid(30))
    (folder / "b2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    camera = ReplayCamera(folder, fps=10, realtime=False)
    with camera:
        values = [int(camera.read().image.mean()) for _ in range(3)]  # type: ignore[union-attr]
        assert camera.read() is None
        assert camera.read() is None  # stays at the end
        assert camera.skipped == [folder / "b2.png"]
    assert values[:2] == [10, 20]
    assert abs(values[2] - 30) <= 1  # JPEG


def test_folder_loops(tmp_path: Path) -> None:
    write_image(tmp_path / "1.png", _solid(1))
    write_image(tmp_path / "2.png", _solid(2))
    frames = _read_all(ReplayCamera(tmp_path, fps=10, loop=True, realtime=False), limit=5)
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 1, 2, 1]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]


def test_video_loops(faces_dir: Path) -> None:
    clip = faces_dir / "video" / "short_hamilton_clip.mp4"
    frames = _read_all(ReplayCamera(clip, fps=30, loop=True, realtime=False), limit=CLIP_FRAMES + 3)
    assert len(frames) == CLIP_FRAMES + 3
    assert np.array_equal(frames[CLIP_FRAMES].image, frames[0].image)


def test_a_folder_of_only_broken_images_ends_even_when_looping(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    assert _read_all(ReplayCamera(tmp_path, fps=10, loop=True, realtime=False)) == []


def test_missing_source_and_empty_folder_are_unavailable(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no such file"):
        ReplayCamera(tmp_path / "absent.mp4", fps=10).open()
    with pytest.raises(CameraUnavailable, match="no image files"):
        ReplayCamera(tmp_path, fps=10).open()


def test_open_camera_chooses_replay_or_capture(tmp_path: Path) -> None:
    assert isinstance(open_camera(str(tmp_path), 15, False), ReplayCamera)
    assert isinstance(open_camera("clip.mp4", 15, False), ReplayCamera)
    assert isinstance(open_camera("photo.JPG", 15, False), ReplayCamera)
    assert isinstance(open_camera("0", 15, False), OpenCVCamera)
    assert isinstance(open_camera("/dev/video0", 15, False), OpenCVCamera)
    assert isinstance(open_camera("rtsp://cam.local/stream.mp4", 15, False), OpenCVCamera)


def test_opencv_camera_reads_a_file_and_reports_a_missing_device(
    faces_dir: Path, tmp_path: Path
) -> None:
    frames = _read_all(OpenCVCamera(str(faces_dir / "video" / "short_hamilton_clip.mp4")))
    assert len(frames) == CLIP_FRAMES
    with pytest.raises(CameraUnavailable, match="cannot open"):
        OpenCVCamera(str(tmp_path / "video99")).open()
    camera = OpenCVCamera("0")
    with pytest.raises(CameraUnavailable, match="not open"):
        camera.read()
