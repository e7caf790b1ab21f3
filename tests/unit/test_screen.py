"""What the screen says: decisions, many a second, become the few results a person sees."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from models.messages import CheckInEvent, Method
from terminal.checkin.badges import RefusalCode
from terminal.checkin.decisions import Decision
from terminal.config import Config, parse_config
from terminal.output.screen import PROMPT_YIELDS_S, SAME_AGAIN_S, ScreenFeed, status_view

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
    assert first.title == "Not recognised — look at the camera"
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
