"""QR decoding with ZBar through ``pyzbar`` (needs the system library ``libzbar0``)."""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np

from drivers.qr.base import QrDecoder, QrDecoderUnavailable

log = logging.getLogger(__name__)


class PyzbarDecoder(QrDecoder):
    """Reads QR codes (only QR: no barcodes) with ZBar."""

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:  # OSError: libzbar missing
            raise QrDecoderUnavailable(f"pyzbar/libzbar not available: {exc}") from None
        self._decode: Any = pyzbar.decode
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, image: np.ndarray) -> list[str]:
        """ASCII payloads of the QR codes in ``image`` (greyscale or BGR ``uint8``)."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        texts = []
        for symbol in self._decode(np.ascontiguousarray(gray), symbols=self._symbols):
            try:
                texts.append(symbol.data.decode("ascii"))
            except UnicodeDecodeError:
                log.debug("skipped a QR code whose payload is not ASCII")
        return texts
