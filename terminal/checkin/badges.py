"""QR badges: the payload format, its parser, and printable badge PNGs.

Payload: ASCII ``ATT1:<kind>:<body>``. ``ATT1`` names the scheme and its version; ``kind`` is
``B`` for a static badge, whose body is the person id percent-encoded (UTF-8), e.g.
``ATT1:B:E1001``. ``S`` is a signed, short-lived code (format: ``models/signed_code.py``),
verified by :class:`terminal.checkin.code_checker.CodeChecker`, the one entry point that reads both
kinds; :func:`parse_qr` reads static badges only and refuses signed codes. Anything else is
refused with a reason and a machine code (:class:`RefusalCode`), never raised.

A static badge is as easy to copy as a photo of it: sites that need more set
``[qr] static_badges = false``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote

import segno
from PIL import Image, ImageDraw, ImageFont

from common.errors import EnrollmentError, KioskError
from terminal.store.gallery import check_person_id

log = logging.getLogger(__name__)

SCHEME = "ATT1"
KIND_STATIC = "B"
KIND_SIGNED = "S"
MAX_PAYLOAD = 1024
MODULE_PX = 24
"""Pixels per QR module: at 300 dpi a short id prints about 6 cm wide, readable by a 640x480
camera from about 50 cm (about 3 camera pixels per module)."""
QUIET_ZONE = 4
PRINT_DPI = 300
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


class RefusalCode(StrEnum):
    """Why a QR code was refused, for machines (logs, counters, the screen's message)."""

    NOT_A_BADGE = "not_a_badge"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    MALFORMED = "malformed"
    STATIC_DISABLED = "static_disabled"
    SIGNED_DISABLED = "signed_disabled"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    KEY_NOT_ALLOWED = "key_not_allowed"
    VALIDITY_TOO_LONG = "validity_too_long"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    CLOCK_NOT_SYNCHRONISED = "clock_not_synchronised"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class QrClaim:
    """A well-formed badge claiming to be ``person_id`` (not yet checked against the roster).

    A ``signed`` claim also carries its key id, nonce and expiry: the pipeline passes it to
    :meth:`terminal.checkin.code_checker.CodeChecker.consume` before committing the check-in.
    """

    person_id: str
    kind: Literal["static", "signed", "enroll"] = "static"
    """``enroll``: a signed enrollment code (:data:`models.signed_code.ENROLL_PREFIX`): the
    face in front of the kiosk is to be enrolled as ``person_id``, not checked in."""
    key_id: str | None = None
    nonce: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class QrRefusal:
    """A QR code that is not an acceptable badge: an English sentence and a machine code."""

    reason: str
    code: str = RefusalCode.NOT_A_BADGE


def badge_payload(person_id: str) -> str:
    """The static badge text for ``person_id``."""
    check_person_id(person_id)
    return f"{SCHEME}:{KIND_STATIC}:{quote(person_id, safe='')}"


def parse_qr(text: str) -> QrClaim | QrRefusal:
    """Read a decoded QR text as a badge; garbled or foreign codes give a :class:`QrRefusal`."""
    if len(text) > MAX_PAYLOAD:
        return QrRefusal("not an attendance badge (too long)")
    scheme, _, rest = text.partition(":")
    kind, _, body = rest.partition(":")
    if not scheme.startswith("ATT") or not rest:
        return QrRefusal("not an attendance badge")
    if scheme != SCHEME:
        return QrRefusal(
            f"badge version {scheme} is not supported by this terminal",
            RefusalCode.UNSUPPORTED_VERSION,
        )
    if kind == KIND_SIGNED:
        return QrRefusal(
            "signed badges are not supported by this terminal yet", RefusalCode.SIGNED_DISABLED
        )
    if kind != KIND_STATIC:
        return QrRefusal(f"unknown badge kind {kind!r}", RefusalCode.UNKNOWN_KIND)
    try:
        person_id = unquote(body, errors="strict")
        check_person_id(person_id)
    except (UnicodeDecodeError, EnrollmentError):
        return QrRefusal("garbled badge", RefusalCode.MALFORMED)
    if quote(person_id, safe="") != body:
        return QrRefusal("garbled badge", RefusalCode.MALFORMED)
    return QrClaim(person_id)


def write_badge_png(person_id: str, out: Path, name: str | None = None) -> Path:
    """Write a printable badge PNG (QR code with its quiet zone, id and name below)."""
    symbol = segno.make_qr(badge_payload(person_id), error="m")
    buffer = io.BytesIO()
    symbol.save(buffer, kind="png", scale=MODULE_PX, border=QUIET_ZONE)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    label = person_id if not name else f"{name}  {person_id}"
    font = _font_for(label, size=max(24, code.width // 14))
    if font is None:
        log.warning("no font can show %r; only the id is printed under the code", label)
        label = person_id
        font = _font_for(label, size=max(24, code.width // 14))
    badge = _with_label(code, label, font) if font is not None else code
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        badge.save(out, format="PNG", dpi=(PRINT_DPI, PRINT_DPI))
    except OSError as exc:
        raise KioskError(f"{out}: cannot write badge: {exc.strerror or exc}") from None
    return out


def _font_for(text: str, size: int) -> ImageFont.FreeTypeFont | None:
    """A font that can show ``text``: DejaVu for Latin, else the first CJK font installed."""
    candidates = (_LATIN_FONT, *_FONT_CANDIDATES) if text.isascii() else _FONT_CANDIDATES
    for path in candidates:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    fallback = ImageFont.load_default(size)
    return fallback if text.isascii() and isinstance(fallback, ImageFont.FreeTypeFont) else None


def _with_label(code: Image.Image, label: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    left, top, right, bottom = (round(value) for value in font.getbbox(label))
    margin = MODULE_PX * QUIET_ZONE
    width = max(code.width, right - left + 2 * margin)
    badge = Image.new("L", (width, code.height + bottom - top + margin), 255)
    badge.paste(code, ((width - code.width) // 2, 0))
    draw = ImageDraw.Draw(badge)
    draw.text(((width - (right - left)) // 2 - left, code.height - top), label, font=font, fill=0)
    return badge
