"""What the kiosk tells the person in front of it, in Chinese or English.

All user-facing strings live in this one catalogue; the display and the log use it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Language = Literal["zh", "en"]

CATALOGUE: dict[str, dict[Language, str]] = {
    "checked_in": {"zh": "签到成功 {name} {time}", "en": "Checked in: {name} at {time}"},
    "repeat": {
        "zh": "{name} 已签到，无需重复 ({time})",
        "en": "{name} is already checked in ({time})",
    },
    "unknown": {"zh": "未识别，请看摄像头", "en": "Not recognised — look at the camera"},
    "refused": {"zh": "签到失败：{reason}", "en": "Check-in refused: {reason}"},
    "pending": {"zh": "请稍候…", "en": "One moment…"},
    "move_closer": {"zh": "请靠近一点", "en": "Please come closer"},
    "look_at_camera": {"zh": "请正对摄像头", "en": "Please look at the camera"},
    "hold_still": {"zh": "请保持不动", "en": "Please hold still"},
    "center_face": {"zh": "请站到画面中间", "en": "Please step into the middle"},
    "turn_left": {"zh": "{name}，请向左转头", "en": "{name}, please turn your head to your left"},
    "turn_right": {
        "zh": "{name}，请向右转头",
        "en": "{name}, please turn your head to your right",
    },
    "camera_missing": {"zh": "摄像头未连接", "en": "Camera not connected"},
    "store_full": {
        "zh": "存储已满，暂停签到，请联系管理员",
        "en": "Storage full: check-ins paused, call the administrator",
    },
}


def announce(
    kind: str,
    language: Language,
    *,
    name: str = "",
    at: datetime | None = None,
    reason: str = "",
) -> str:
    """The sentence for ``kind`` in ``language``; the time is shown in local time, HH:MM:SS."""
    template = CATALOGUE.get(kind, CATALOGUE["refused"])[language]
    time_text = at.astimezone().strftime("%H:%M:%S") if at is not None else ""
    return template.format(name=name, time=time_text, reason=reason)
