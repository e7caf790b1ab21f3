"""QR badges: payload format, refusals instead of exceptions, and a PNG that really scans."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from drivers.qr.base import QrDecoder
from drivers.qr.pyzbar_decoder import PyzbarDecoder
from drivers.qr.zxing_decoder import ZxingDecoder
from terminal.checkin.badges import QrClaim, QrRefusal, badge_payload, parse_qr, write_badge_png


@pytest.fixture(params=[PyzbarDecoder, ZxingDecoder], ids=["pyzbar", "zxing"])
def decoder(request: pytest.FixtureRequest) -> QrDecoder:
    """Each QR decoder behind the driver interface."""
    built: QrDecoder = request.param()
    return built


def test_payload_is_versioned_ascii_and_round_trips() -> None:
    assert badge_payload("E1001") == "ATT1:B:E1001"
    assert parse_qr("ATT1:B:E1001") == QrClaim("E1001")
    unusual = "张三/01:a b"
    payload = badge_payload(unusual)
    assert payload.isascii()
    assert parse_qr(payload) == QrClaim(unusual)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not an attendance badge"),
        ("https://example.com/E1001", "not an attendance badge"),
        ("ATT1", "not an attendance badge"),
        ("ATT2:B:E1001", "badge version ATT2 is not supported"),
        ("ATT1:S:eyJhbGciOi.sig", "signed badges are not supported"),
        ("ATT1:X:E1001", "unknown badge kind"),
        ("ATT1:B:", "garbled badge"),
        ("ATT1:B:E1001%", "garbled badge"),
        ("ATT1:B:%FF%FE", "garbled badge"),  # not UTF-8
        ("ATT1:B:a%0Ab", "garbled badge"),  # a control character
        ("ATT1:B:E 1001", "garbled badge"),  # not in canonical (encoded) form
        ("ATT1:B:" + "x" * 65, "garbled badge"),
        ("ATT1:B:" + "x" * 5000, "too long"),
    ],
)
def test_garbled_or_foreign_codes_are_refused(text: str, reason: str) -> None:
    result = parse_qr(text)
    assert isinstance(result, QrRefusal)
    assert reason in result.reason


def test_badge_png_scans_back_even_when_small(tmp_path: Path, decoder: QrDecoder) -> None:
    out = write_badge_png("E1001", tmp_path / "badges" / "E1001.png", name="张三")
    image = cv2.imread(str(out))
    assert image is not None
    assert decoder.decode(image) == ["ATT1:B:E1001"]
    # Seen by a 640x480 camera from about 50 cm: about 3 pixels per module, greyscale.
    modules = segno.make_qr("ATT1:B:E1001", error="m").symbol_size(scale=1, border=4)[0]
    factor = 3 * modules / image.shape[1]
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640), 128, dtype=np.uint8)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    frame[100 : 100 + gray.shape[0], 200 : 200 + gray.shape[1]] = gray
    assert decoder.decode(frame) == ["ATT1:B:E1001"]


def test_decoder_skips_codes_that_are_not_ascii_and_finds_none_in_a_blank_frame(
    tmp_path: Path, decoder: QrDecoder
) -> None:
    segno.make_qr("张三的工牌", encoding="utf-8").save(str(tmp_path / "utf8.png"), scale=8)
    image = cv2.imread(str(tmp_path / "utf8.png"))
    assert image is not None
    assert decoder.decode(image) == []
    assert decoder.decode(np.full((240, 320, 3), 200, dtype=np.uint8)) == []
