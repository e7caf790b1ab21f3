"""The ``[privacy]`` section: the face-data notice, the processing log's retention, and the key
that seals face templates at rest.

What each setting answers to in the Face Recognition Technology Application Security
Management Measures (人脸识别技术应用安全管理办法) and the PIPL is in ``docs/face-data.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from terminal.config.base import Section

DEFAULT_NOTICE_ZH = "本机使用人脸识别考勤。不同意人脸识别的员工可出示个人二维码签到。"
DEFAULT_NOTICE_EN = (
    "Face recognition is in use for attendance. If you do not consent, show your personal QR"
    " code instead."
)
MIN_PROCESSING_LOG_DAYS = 1095
"""Three years: PIPL article 56 has processing records kept at least that long."""


class PrivacySection(Section):
    """How the kiosk informs people and accounts for the face data it processes."""

    notice: bool = Field(
        True,
        description="Show the face-recognition notice on the idle screen (turn off only where"
        " the notice is posted at the door another way).",
    )
    notice_zh: str = Field(
        DEFAULT_NOTICE_ZH,
        min_length=1,
        max_length=200,
        description="The notice in Chinese: that face recognition is in use and how to opt out.",
    )
    notice_en: str = Field(
        DEFAULT_NOTICE_EN,
        min_length=1,
        max_length=200,
        description="The notice in English.",
    )
    processing_log_days: int = Field(
        MIN_PROCESSING_LOG_DAYS,
        ge=MIN_PROCESSING_LOG_DAYS,
        le=36500,
        strict=True,
        description="Days the face processing log is kept (at least 1095, the three years of"
        " PIPL article 56); older entries are deleted daily.",
    )
    template_key_file: Path | None = Field(
        None,
        description="A file of 32 random bytes that seals (AES-256-GCM) every face template in"
        " kiosk.db; created (mode 0600) when missing. Keep it off the SD card (e.g. a USB key"
        " or a credential store) for the seal to protect a stolen card; unset: templates are"
        " stored in the clear, protected by file permissions only.",
    )
