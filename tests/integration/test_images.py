"""Reading photos: every common kind becomes RGB uint8; broken files raise ImageError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import ImageError
from terminal.face.images import load_rgb
from tests.recognition_tools import person_photo


def test_rgba_png_becomes_rgb(faces_dir: Path) -> None:
    path = faces_dir / "scenes" / "rgba_32bit.png"
    with Image.open(path) as original:
        assert original.mode == "RGBA"
        size = original.size
    rgb = load_rgb(path)
    assert rgb.dtype == np.uint8
    assert rgb.shape == (size[1], size[0], 3)


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)  # black, fully transparent
    Image.fromarray(pixels, "RGBA").save(tmp_path / "clear.png")
    assert (load_rgb(tmp_path / "clear.png") == 255).all()


def test_exif_orientation_is_applied(faces_dir: Path, tmp_path: Path) -> None:
    with Image.open(person_photo(faces_dir, "barack_obama")) as photo:
        exif = photo.getexif()
        exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
        photo.save(tmp_path / "rotated.jpg", exif=exif)
        width, height = photo.size
    assert load_rgb(tmp_path / "rotated.jpg").shape == (width, height, 3)


def test_16_bit_greyscale_keeps_its_contrast(faces_dir: Path, tmp_path: Path) -> None:
    grey8 = np.asarray(Image.open(person_photo(faces_dir, "barack_obama")).convert("L"))
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    rgb = load_rgb(tmp_path / "grey16.png")
    assert rgb.shape == (*grey8.shape, 3)
    assert np.abs(rgb[..., 0].astype(int) - grey8).max() <= 1


def test_truncated_jpeg_is_refused_with_its_name(faces_dir: Path, tmp_path: Path) -> None:
    data = person_photo(faces_dir, "barack_obama").read_bytes()
    broken = tmp_path / "half.jpg"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"half\.jpg: .*truncated or corrupt"):
        load_rgb(broken)


def test_non_image_and_missing_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image"):
        load_rgb(text)
    with pytest.raises(ImageError, match=r"absent\.png: no such file"):
        load_rgb(tmp_path / "absent.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_rgb(tmp_path)
