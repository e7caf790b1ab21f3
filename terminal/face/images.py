"""Reading photos (enrollment, ``kiosk identify``) into RGB ``uint8`` arrays.

Any common photo works: JPEG/PNG/WebP/TIFF/BMP, with alpha (flattened onto white), greyscale,
palette, CMYK or 16 bits per channel; the EXIF orientation is applied, as a phone would show
the photo. A file that is missing, truncated or not an image raises :class:`ImageError`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from common.errors import ImageError

MAX_PIXELS = 100_000_000
"""Larger images are refused (a 100 MP photo is already far more than a face needs)."""


def load_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as an (H, W, 3) RGB ``uint8`` array; :class:`ImageError` if not."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # some libraries switch it on globally
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(f"{path}: {image.width}x{image.height} is too large")
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (or a format that is not supported)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image is too large") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ImageError(f"{path}: cannot read image: truncated or corrupt ({reason})") from None
    except (ValueError, SyntaxError) as exc:  # Pillow raises these for some damaged headers
        raise ImageError(f"{path}: cannot read image: corrupt ({exc})") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_grey(np.asarray(image))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _high_depth_grey(values: np.ndarray) -> np.ndarray:
    """16-bit or 32-bit greyscale scaled to 8 bits (full range, not clipped at 255)."""
    data = values.astype(np.float64)
    if values.dtype.kind == "f":
        top = max(float(data.max(initial=0.0)), 1e-9)
    elif values.dtype == np.uint16 or data.max(initial=0.0) > 255:
        top = 65535.0
    else:
        top = 255.0
    grey = np.clip(data / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
