"""QR decoding with zxing-cpp (PyPI wheels for x86-64 and aarch64, no system library)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from drivers.qr.base import QrDecoder, QrDecoderUnavailable

log = logging.getLogger(__name__)


class ZxingDecoder(QrDecoder):
    """Reads QR codes (only QR) with zxing-cpp; tolerant of blur and small codes."""

    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise QrDecoderUnavailable(f"zxing-cpp not available: {exc}") from None
        self._read: Any = zxingcpp.read_barcodes
        self._formats = zxingcpp.BarcodeFormat.QRCode

    def decode(self, image: np.ndarray) -> list[str]:
        """ASCII payloads of the QR codes in ``image`` (greyscale or BGR ``uint8``)."""
        texts = []
        for barcode in self._read(np.ascontiguousarray(image), formats=self._formats):
            text = barcode.text
            if text.isascii():
                texts.append(text)
            else:
                log.debug("skipped a QR code whose payload is not ASCII")
        return texts
