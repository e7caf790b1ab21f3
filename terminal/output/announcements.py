"""What the kiosk tells the person in front of it, in Chinese or English.

All user-facing strings live in this one catalogue; the display and the log use it. A
decision's ``reason`` that is a key of :data:`CATALOGUE` is said as that sentence (see
:func:`is_phrase`); any other reason is shown inside the ``refused`` sentence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Language = Literal["zh", "en"]

CATALOGUE: dict[str, dict[Language, str]] = {
    "checked_in": {"zh": "签到成功 {name} {time}", "en": "Checked in: {name} at {time}"},
    "checked_out": {"zh": "签退成功 {name} {time}", "en": "Checked out: {name} at {time}"},
    "repeat": {
        "zh": "{name} 已签到，无需重复 ({time})",
        "en": "{name} is already checked in ({time})",
    },
    "unknown": {"zh": "未识别，请看摄像头", "en": "Not recognised — look at the camera"},
    # An unknown face where a QR code would check the person in instead (their face may not be
    # on file: no consent to face recognition).
    "unknown_or_qr": {
        "zh": "未识别，请看摄像头或出示二维码",
        "en": "Not recognised — look at the camera, or show your QR code",
    },
    "refused": {"zh": "签到失败：{reason}", "en": "Check-in refused: {reason}"},
    "pending": {"zh": "请稍候…", "en": "One moment…"},
    "move_closer": {"zh": "请靠近一点", "en": "Please come closer"},
    "look_at_camera": {"zh": "请正对摄像头", "en": "Please look at the camera"},
    "hold_still": {"zh": "请保持不动", "en": "Please hold still"},
    "center_face": {"zh": "请站到画面中间", "en": "Please step into the middle"},
    "lower_mask": {"zh": "请摘下口罩", "en": "Please lower your mask"},
    "turn_left": {"zh": "{name}，请向左转头", "en": "{name}, please turn your head to your left"},
    "turn_right": {
        "zh": "{name}，请向右转头",
        "en": "{name}, please turn your head to your right",
    },
    # A head-turn request asked again after a failed or wrong-way turn (attempts left): a
    # request, never an accusation; "liveness_failed" only once the attempts are used up.
    "turn_left_again": {
        "zh": "{name}，请再试一次：请向左转头",
        "en": "{name}, once more: please turn your head to your left",
    },
    "turn_right_again": {
        "zh": "{name}，请再试一次：请向右转头",
        "en": "{name}, once more: please turn your head to your right",
    },
    "turn_left_last": {
        "zh": "{name}，最后一次：请向左转头",
        "en": "{name}, one last time: please turn your head to your left",
    },
    "turn_right_last": {
        "zh": "{name}，最后一次：请向右转头",
        "en": "{name}, one last time: please turn your head to your right",
    },
    "look_now": {"zh": "{name}，请看摄像头", "en": "{name}: now look at the camera"},
    "show_code_first": {"zh": "请先出示二维码", "en": "Show your QR code first"},
    "qr_not_accepted": {
        "zh": "本终端不接受二维码",
        "en": "QR codes are not accepted at this terminal",
    },
    "face_mismatch": {"zh": "人脸与二维码不符", "en": "Face does not match the code"},
    "pair_expired": {
        "zh": "等待人脸超时，请重新出示二维码",
        "en": "Timed out waiting for your face: show your QR code again",
    },
    "no_face_to_confirm": {
        "zh": "{name} 未录入人脸，无法核对二维码",
        "en": "{name} has no enrolled face: the code cannot be confirmed",
    },
    "code_used": {
        "zh": "二维码已被使用，请出示新的二维码",
        "en": "This code was already used: show a fresh one",
    },
    # Face enrollment at the kiosk, after an administrator showed an enrollment code:
    # ``progress`` is "<done>/<total>" (the decision's reason).
    "enrolling": {
        "zh": "正在录入 {name}：请看摄像头（{progress}）",
        "en": "Enrolling {name}: look at the camera ({progress})",
    },
    "enrolled": {"zh": "{name} 已录入人脸", "en": "{name} enrolled"},
    "enrollment_expired": {
        "zh": "录入码已过期，请重新获取",
        "en": "Enrollment code expired — ask for a new one",
    },
    "enrollment_failed": {"zh": "人脸录入失败，请重试", "en": "Enrollment failed — try again"},
    "enroll_code_not_here": {
        "zh": "本机不接受录入码",
        "en": "Enrollment codes are not accepted here",
    },
    "camera_missing": {"zh": "摄像头未连接", "en": "Camera not connected"},
    "show_provisioning_code": {
        "zh": "未配置，请出示配置二维码",
        "en": "Not set up: show a provisioning code",
    },
    "provisioning": {"zh": "正在配置…", "en": "Setting up…"},
    "provisioned": {"zh": "配置完成：{name}", "en": "Set up as {name}"},
    "provisioning_refused": {
        "zh": "配置码无效：{reason}",
        "en": "Provisioning code refused: {reason}",
    },
    "provisioning_failed": {
        "zh": "配置失败：{reason}，请重试",
        "en": "Setup failed: {reason}; try again",
    },
    "not_set_up": {
        "zh": "本终端尚未配置，暂不能签到",
        "en": "This kiosk is not set up yet: check-in is not possible",
    },
    "store_full": {
        "zh": "存储已满，暂停签到，请联系管理员",
        "en": "Storage full: check-ins paused, call the administrator",
    },
    # The screen (terminal/output/screen.py): short titles, refusal reasons and the status line.
    "screen_checked_in": {"zh": "签到成功", "en": "Checked in"},
    "screen_checked_out": {"zh": "签退成功", "en": "Checked out"},
    "session_entered": {"zh": "进入：{title}", "en": "Entered: {title}"},
    "session_left": {"zh": "离开：{title}", "en": "Left: {title}"},
    # The log line and spoken sentence of a training-room check-in: what the screen shows.
    "session_entered_said": {
        "zh": "进入：{title} {name} {time}",
        "en": "Entered: {title}: {name} at {time}",
    },
    "session_left_said": {
        "zh": "离开：{title} {name} {time}",
        "en": "Left: {title}: {name} at {time}",
    },
    # The verdict after the time on a check-in's detail line (terminal/checkin/attendance.py).
    "verdict_on_time": {"zh": "准时", "en": "on time"},
    "verdict_left_on_time": {"zh": "准时", "en": "on time"},
    "verdict_late": {"zh": "迟到 {minutes} 分钟", "en": "late {minutes} min"},
    "verdict_early_leave": {"zh": "早退 {minutes} 分钟", "en": "early leave {minutes} min"},
    "verdict_no_verdict_clock": {
        "zh": "时钟未同步，未判定",
        "en": "clock not synchronised: no verdict",
    },
    # The screen's "already" after a check-in, by the direction of the check-in it repeats.
    "screen_repeat": {"zh": "已签到", "en": "Already checked in"},
    "screen_repeat_detail": {"zh": "无需重复签到", "en": "No need to check in again"},
    "screen_repeat_out": {"zh": "已签退", "en": "Already checked out"},
    "screen_repeat_out_detail": {"zh": "无需重复签退", "en": "No need to check out again"},
    "session_repeat_entered": {"zh": "已进入：{title}", "en": "Already entered: {title}"},
    "session_repeat_left": {"zh": "已离开：{title}", "en": "Already left: {title}"},
    "qr_expired": {
        "zh": "二维码已过期，请刷新后重新出示",
        "en": "QR code expired: refresh it and show it again",
    },
    "qr_not_yet_valid": {
        "zh": "二维码尚未生效，请检查手机时间",
        "en": "QR code not valid yet: check your phone's clock",
    },
    "qr_invalid": {"zh": "无效的二维码", "en": "Invalid QR code"},
    "static_badge_off": {
        "zh": "本终端不接受工牌二维码，请出示动态二维码",
        "en": "Printed badges are not accepted here: show your live QR code",
    },
    "clock_unsynced_code": {
        "zh": "终端时钟未同步，暂不能验证二维码，请用人脸签到",
        "en": "Kiosk clock not synchronised: codes cannot be checked, use your face",
    },
    "not_enrolled": {
        "zh": "未登记的人员，请联系管理员",
        "en": "Not registered: ask the administrator",
    },
    "liveness_failed": {
        "zh": "疑似照片或视频，签到失败：请本人正对摄像头",
        "en": "Photo or video detected: face the camera yourself",
    },
    "store_error": {
        "zh": "签到未能保存，请重试或联系管理员",
        "en": "The check-in could not be saved: try again or call the administrator",
    },
    "idle_face": {"zh": "请看摄像头签到", "en": "Look at the camera to check in"},
    "idle_qr": {"zh": "请出示二维码签到", "en": "Show your QR code to check in"},
    "idle_face_or_qr": {
        "zh": "请看摄像头或出示二维码签到",
        "en": "Look at the camera or show your QR code",
    },
    "idle_face_and_qr": {
        "zh": "请先出示二维码，再看摄像头",
        "en": "Show your QR code, then look at the camera",
    },
    "status_online": {"zh": "在线", "en": "Online"},
    "status_offline": {"zh": "离线（签到已保存）", "en": "Offline (check-ins are kept)"},
    "status_offline_only": {"zh": "单机模式", "en": "Stand-alone"},
    "status_backlog": {"zh": "待上传 {count} 条", "en": "{count} waiting to send"},
    "status_clock": {"zh": "时钟未同步", "en": "Clock not synchronised"},
    "screen_title": {"zh": "考勤签到", "en": "Attendance"},
}


def announce(
    kind: str,
    language: Language,
    *,
    name: str = "",
    at: datetime | None = None,
    reason: str = "",
    minutes: int | None = None,
    title: str = "",
    progress: str = "",
) -> str:
    """The sentence for ``kind`` in ``language``; the time is shown in local time, HH:MM:SS;
    ``minutes`` (late or early) and ``title`` (a training session) fill verdicts and titles,
    ``progress`` ("2/5") a face enrollment's."""
    template = CATALOGUE.get(kind, CATALOGUE["refused"])[language]
    time_text = at.astimezone().strftime("%H:%M:%S") if at is not None else ""
    return template.format(
        name=name,
        time=time_text,
        reason=reason,
        minutes=minutes or 0,
        title=title,
        progress=progress,
    )


def is_phrase(reason: str) -> bool:
    """Whether a decision's ``reason`` is a catalogue key (a sentence for the person)."""
    return reason in CATALOGUE
