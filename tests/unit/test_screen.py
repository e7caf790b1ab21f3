"""What the screen says: decisions, many a second, become the few results a person sees."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.camera.base import Frame
from drivers.display.base import NullDisplay
from models.messages import CheckInEvent, Direction, Method
from terminal.checkin.badges import RefusalCode
from terminal.checkin.decisions import Decision
from terminal.checkin.rules import RepeatGuard
from terminal.config import Config, parse_config
from terminal.output.kiosk_output import KioskOutput
from terminal.output.screen import (
    HINT_MIN_S,
    HINT_SETTLE_FRAMES,
    PROMPT_YIELDS_S,
    SAME_AGAIN_S,
    ScreenFeed,
    status_view,
)
from tests.attendance_tools import Kiosk, local

AT = datetime(2026, 11, 23, 8, 59, 7, tzinfo=UTC)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config(language: str = "zh", extra: str = "") -> Config:
    """A config in ``language`` with results held 4 s."""
    return parse_config(f'[terminal]\nlanguage = "{language}"\n[ui]\nresult_hold_s = 4\n{extra}')


def checked_in(person_id: str = "E1001", name: str = "张三", **fields: object) -> Decision:
    """A committed check-in of ``person_id`` at :data:`AT` (``fields``: attendance fields)."""
    event = CheckInEvent.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "seq": 1,
            "terminal_id": "kiosk-01",
            "site": "hq",
            "person_id": person_id,
            "method": "face",
            "distance": 0.3,
            "captured_at": AT,
            "clock_synced": True,
            **fields,
        }
    )
    return Decision("checked_in", person_id, name, Method.FACE, 0.3, (10, 60, 60, 10), event)


def test_a_check_in_is_shown_with_name_and_time_then_not_again_for_every_frame() -> None:
    clock = Clock()
    feed = ScreenFeed(config(), clock)
    view = feed.on_decision(checked_in())
    assert view is not None
    assert (view.kind, view.title, view.name, view.icon, view.sound) == (
        "success", "签到成功", "张三", "ok", "success"
    )  # fmt: skip
    assert view.detail == AT.astimezone().strftime("%H:%M:%S")
    assert view.sequence == 1 and view.hold_s == 4 and view.speak is None
    # The person is still in view: "already checked in" every frame, never over their success.
    repeat = Decision("repeat", "E1001", "张三", Method.FACE)
    for step in range(10):
        clock.now += 0.3
        assert feed.on_decision(repeat) is None, step
    clock.now += 2.0  # the success has been held
    later = feed.on_decision(repeat)
    assert later is not None and (later.kind, later.title) == ("repeat", "已签到")
    assert later.sequence == 2


def test_the_same_refusal_is_shown_once_and_again_only_after_a_while() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    unknown = Decision("unknown", box=(1, 2, 3, 4))
    first = feed.on_decision(unknown)
    assert first is not None and first.kind == "refused" and first.sound == "failure"
    assert first.title == "Not recognised — look at the camera, or show your QR code"
    clock.now += SAME_AGAIN_S - 0.1
    assert feed.on_decision(unknown) is None
    clock.now += 0.2
    again = feed.on_decision(unknown)
    assert again is not None and again.sequence == first.sequence + 1


def test_a_prompt_does_not_cover_a_fresh_result_but_a_new_person_does() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    assert feed.on_decision(checked_in()) is not None
    turn = Decision("challenge", "E1002", "Li Si", Method.FACE, reason="turn_left")
    assert feed.on_decision(turn) is None
    clock.now += PROMPT_YIELDS_S + 0.1
    view = feed.on_decision(turn)
    assert view is not None and view.kind == "prompt" and view.sound == "prompt"
    assert view.title == "Li Si, please turn your head to your left"
    other = feed.on_decision(checked_in("E1003", "王五"))  # a result covers a prompt at once
    assert other is not None and other.name == "王五"


@pytest.mark.parametrize(
    ("decision", "title"),
    [
        (Decision("refused", reason="expired", refusal=RefusalCode.EXPIRED), "QR code expired"),
        (Decision("refused", refusal=RefusalCode.BAD_SIGNATURE), "Invalid QR code"),
        (Decision("refused", refusal=RefusalCode.REPLAYED), "This code was already used"),
        (Decision("refused", refusal=RefusalCode.STATIC_DISABLED), "Printed badges are not"),
        (Decision("refused", refusal="not_enrolled"), "Not registered"),
        (Decision("refused", reason="liveness: no turn"), "Photo or video detected"),
        (Decision("refused", reason="face_mismatch"), "Face does not match the code"),
        (Decision("refused", reason="/x/kiosk.db: disk full, new check-ins"), "Storage full"),
        (Decision("refused", reason="database is locked"), "The check-in could not"),
        (Decision("adjust", reason="move_closer"), "Please come closer"),
        (Decision("adjust", reason="lower_mask"), "Please lower your mask"),
    ],
)
def test_each_reason_is_said_in_the_kiosk_language(decision: Decision, title: str) -> None:
    view = ScreenFeed(config("en"), Clock()).on_decision(decision)
    assert view is not None and view.title.startswith(title), view
    zh = ScreenFeed(config("zh"), Clock()).on_decision(decision)
    assert zh is not None and zh.title != view.title and not zh.title.isascii()


def test_nothing_is_shown_while_a_face_is_still_being_confirmed() -> None:
    feed = ScreenFeed(config(), Clock())
    assert feed.on_decision(Decision("pending", "E1001", "张三", reason="confirming")) is None


def test_a_check_out_is_titled_by_its_direction_and_spoken() -> None:
    extra = "spoken_prompts = true\n"
    view = ScreenFeed(config("zh", extra), Clock()).on_decision(checked_in(direction="out"))
    assert view is not None and view.title == "签退成功"
    assert view.speak is not None and "张三" in view.speak and "签退成功" in view.speak
    english = ScreenFeed(config("en"), Clock()).on_decision(checked_in(direction="out"))
    assert english is not None and english.title == "Checked out"
    arrival = ScreenFeed(config("en"), Clock()).on_decision(checked_in(direction="in"))
    assert arrival is not None and arrival.title == "Checked in"


@pytest.mark.parametrize(
    ("fields", "zh", "en"),
    [
        ({"verdict": "on_time"}, "准时", "on time"),
        ({"verdict": "late", "verdict_minutes": 4}, "迟到 4 分钟", "late 4 min"),
        ({"verdict": "early_leave", "verdict_minutes": 12}, "早退 12 分钟", "early leave 12 min"),
        ({"verdict": "left_on_time"}, "准时", "on time"),
        (
            {"verdict": "no_verdict_clock"},
            "时钟未同步，未判定",
            "clock not synchronised: no verdict",
        ),
    ],
)
def test_the_detail_line_says_the_time_and_the_verdict(
    fields: dict[str, Any], zh: str, en: str
) -> None:
    time_text = AT.astimezone().strftime("%H:%M:%S")
    for language, said in (("zh", zh), ("en", en)):
        feed = ScreenFeed(config(language, "spoken_prompts = true\n"), Clock())
        view = feed.on_decision(checked_in(**fields))
        assert view is not None and view.detail == f"{time_text} · {said}"
        assert view.speak is not None and view.speak.endswith(said)


def test_a_training_room_door_shows_the_session_entered_and_left() -> None:
    entered = dataclasses.replace(checked_in(direction="in"), session_title="安全培训")
    view = ScreenFeed(config("zh"), Clock()).on_decision(entered)
    assert view is not None and view.title == "进入：安全培训" and view.name == "张三"
    left = dataclasses.replace(checked_in(direction="out"), session_title="Safety training")
    view = ScreenFeed(config("en"), Clock()).on_decision(left)
    assert view is not None and view.title == "Left: Safety training"
    late = checked_in(direction="in", verdict="late", verdict_minutes=3)
    view = ScreenFeed(config("en"), Clock()).on_decision(
        dataclasses.replace(late, session_title="Safety training")
    )
    assert view is not None and view.title == "Entered: Safety training"
    assert view.detail.endswith("late 3 min")


def test_the_status_labels_follow_the_language_and_the_verification_mode() -> None:
    qr_only = config("en", '[verification]\nmode = "qr"\n[recognition]\nenabled = false\n')
    view = status_view(qr_only, None, 3, False, True)
    assert view.labels["idle"] == "Show your QR code to check in"
    assert view.labels["backlog"] == "{count} waiting to send"
    assert (view.online, view.backlog, view.clock_synced, view.language) == (None, 3, False, "en")
    zh = status_view(config(), True, 0, True, False)
    assert (
        zh.labels["camera"] == "摄像头未连接" and zh.labels["idle"] == "请看摄像头或出示二维码签到"
    )


def test_the_repeat_after_a_check_out_says_checked_out_and_a_session_its_title() -> None:
    for language, title in (("zh", "已签退"), ("en", "Already checked out")):
        feed = ScreenFeed(config(language), Clock())
        repeat = Decision("repeat", "E1001", "张三", Method.FACE, direction=Direction.OUT)
        view = feed.on_decision(repeat)
        assert view is not None and view.kind == "repeat" and view.title == title
    cases = [
        (Direction.IN, "zh", "已进入：安全培训"),
        (Direction.OUT, "zh", "已离开：安全培训"),
        (Direction.IN, "en", "Already entered: 安全培训"),
        (Direction.OUT, "en", "Already left: 安全培训"),
    ]
    for direction, language, title in cases:
        repeat = Decision("repeat", "E1001", "张三", direction=direction, session_title="安全培训")
        view = ScreenFeed(config(language), Clock()).on_decision(repeat)
        assert view is not None and view.title == title
    plain = ScreenFeed(config("en"), Clock()).on_decision(Decision("repeat", "E1001", "张三"))
    assert plain is not None and plain.title == "Already checked in"


def test_the_desk_repeats_the_direction_of_the_check_in(tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path / "kiosk.db", None, direction="out")
    kiosk.desk.repeats = RepeatGuard(60.0)
    try:
        kiosk.check_in("E1002", local(23, 18, 0))
        frame = Frame(np.zeros((4, 4, 3), np.uint8), 9, 2.0, local(23, 18, 0, 1))
        repeat = kiosk.desk.repeat("E1002", Method.QR, frame)
    finally:
        kiosk.close()
    assert repeat is not None and repeat.direction is Direction.OUT
    assert repeat.reason.startswith("already checked out")
    view = ScreenFeed(config("en"), Clock()).on_decision(repeat)
    assert view is not None and view.title == "Already checked out"


def test_the_log_says_what_the_screen_says(caplog: pytest.LogCaptureFixture) -> None:
    entered = dataclasses.replace(checked_in(direction="in"), session_title="Safety training")
    left = dataclasses.replace(checked_in(direction="out"), session_title="Safety training")
    out = checked_in(direction="out", verdict="early_leave", verdict_minutes=12)
    output = KioskOutput(config("en"), display=NullDisplay())
    time_text = AT.astimezone().strftime("%H:%M:%S")
    with caplog.at_level(logging.INFO, logger="terminal.output.kiosk_output"):
        output.decided([entered])
        output.decided([left])
        output.decided([out])
    said = [r.getMessage() for r in caplog.records if r.name == "terminal.output.kiosk_output"]
    assert said == [
        f"Entered: Safety training: 张三 at {time_text}",
        f"Left: Safety training: 张三 at {time_text}",
        f"Checked out: 张三 at {time_text} early leave 12 min",
    ]
    view = ScreenFeed(config("en"), Clock()).on_decision(entered)
    assert view is not None and said[0].startswith(view.title)


def test_a_head_turn_request_carries_its_arrow() -> None:
    feed = ScreenFeed(config("en"), Clock())
    left = feed.on_decision(Decision("challenge", "E1", "Li Si", reason="turn_left"))
    assert left is not None and left.arrow == "left" and left.detail == "←"
    right = ScreenFeed(config("en"), Clock()).on_decision(
        Decision("challenge", "E1", "Li Si", reason="turn_right")
    )
    assert right is not None and right.arrow == "right" and right.detail == "→"
    look = ScreenFeed(config("en"), Clock()).on_decision(
        Decision("paired", "E1", "Li Si", reason="look_now")
    )
    assert look is not None and look.arrow is None
    hint = ScreenFeed(config("en"), Clock()).on_decision(Decision("adjust", reason="hold_still"))
    assert hint is not None and hint.arrow is None


def _hints(feed: ScreenFeed, clock: Clock, script: list[tuple[float, str]]) -> list[str]:
    """Feed ``(time, hint)`` pairs, one a frame at that clock time (``done``: a check-in); the
    ones shown."""
    shown = []
    for at, reason in script:
        clock.now = 1000.0 + at
        decision = checked_in() if reason == "done" else Decision("adjust", reason=reason)
        view = feed.on_decision(decision)
        if view is not None:
            shown.append(reason)
    return shown


def test_hints_do_not_flicker() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    # A hint per frame, 5 frames a second, alternating as a person shifts about: the first
    # stays; a different one replaces it only once it has come HINT_SETTLE_FRAMES in a row
    # and the first has been shown HINT_MIN_S.
    flicker = ["look_at_camera", "hold_still", "center_face", "hold_still", "look_at_camera"]
    script = [(i * 0.2, flicker[i % len(flicker)]) for i in range(10)]
    assert _hints(feed, clock, script) == ["look_at_camera"]
    settled = [(2.0 + i * 0.2, "hold_still") for i in range(HINT_SETTLE_FRAMES)]
    assert _hints(feed, clock, settled) == ["hold_still"]


def test_a_new_hint_waits_for_the_shown_one_to_have_been_seen_long_enough() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    assert _hints(feed, clock, [(0.0, "move_closer")]) == ["move_closer"]
    early = [(0.2 + i * 0.2, "hold_still") for i in range(5)]  # up to 1.0 s: too soon
    assert _hints(feed, clock, early) == []
    assert HINT_MIN_S <= 2.2
    assert _hints(feed, clock, [(2.2, "hold_still")]) == ["hold_still"]  # 6 in a row by now


def test_a_check_in_replaces_a_hint_at_once() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    assert _hints(feed, clock, [(0.0, "hold_still"), (0.2, "done")]) == ["hold_still", "done"]


def test_the_same_hint_is_said_again_after_a_while_and_keeps_its_place() -> None:
    clock = Clock()
    feed = ScreenFeed(config("en"), clock)
    script = [(i * 0.5, "hold_still") for i in range(8)]  # 0 .. 3.5 s
    assert _hints(feed, clock, script) == ["hold_still", "hold_still"]  # at 0 and SAME_AGAIN_S


class _Recording(NullDisplay):
    """A display that keeps the box states it is offered."""

    def __init__(self) -> None:
        self.states: list[list[str]] = []

    def wants_preview(self) -> bool:
        return True

    def preview(self, image: Any, faces: Any, states: Any = None) -> None:
        self.states.append(list(states or []))


def test_the_live_view_boxes_are_coloured_by_the_decision() -> None:
    display = _Recording()
    output = KioskOutput(config("en"), display=display)
    box = (10, 60, 60, 10)
    decisions = [
        Decision("unknown", box=box),
        Decision("adjust", box=box, reason="hold_still"),
        Decision("pending", "E1", box=box),
        Decision("challenge", "E1", box=box, reason="turn_left"),
        dataclasses.replace(checked_in(), box=box),
        Decision("repeat", "E1", box=box),
        Decision("refused", "E1", box=box, reason="liveness: no turn"),
        Decision("refused", reason="qr"),  # no box: not drawn
    ]
    output.decided(decisions, np.zeros((80, 80, 3), np.uint8))
    assert display.states == [
        ["tracking", "tracking", "checking", "checking", "ok", "ok", "refused"]
    ]
