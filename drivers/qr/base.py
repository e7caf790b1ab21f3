"""The QR decoder interface: text payloads found in one image."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class QrDecoderUnavailable(Exception):
    """The decoder's native library cannot be loaded."""


class QrDecoder(ABC):
    """Finds QR codes in an image and returns their text payloads."""

    @abstractmethod
    def decode(self, image: np.ndarray) -> list[str]:
        """Text of every QR code in a greyscale (H, W) or BGR (H, W, 3) ``uint8`` image.

        Codes whose payload is not ASCII text are skipped, never raised.
        """
