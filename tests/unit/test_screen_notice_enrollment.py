"""The idle screen's face-recognition notice (``[privacy]``), the face enrollment's results and
the unknown face's text where a QR code checks people in: the page served at ``GET /`` (no
browser, no socket), the screen's views and the log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from drivers.display.base import NullDisplay
from drivers.display.web_hub import Hub
from drivers.display.web_limits import ConnectionGuard, StreamSlots
from drivers.display.web_preview import FrameSlot, PreviewEncoder
from drivers.display.web_routes import build_app, render_index
from terminal.checkin.decisions import Decision
from terminal.config import Config, parse_config
from terminal.config.privacy import DEFAULT_NOTICE_EN, DEFAULT_NOTICE_ZH
from terminal.output.announcements import CATALOGUE, announce
from terminal.output.kiosk_output import KioskOutput
from terminal.output.screen import ScreenFeed, notice_text, status_view, unknown_phrase

NOTICE = {"zh": DEFAULT_NOTICE_ZH, "en": DEFAULT_NOTICE_EN}


def config(language: str = "zh", extra: str = "") -> Config:
    """A kiosk in ``language`` (``extra``: more of kiosk.toml)."""
    return parse_config(f'[terminal]\nlanguage = "{language}"\n{extra}')


def decision(
    kind: str, person_id: str | None = None, name: str | None = None, **fields: Any
) -> Decision:
    """A decision of ``kind``, which the pipeline's ``DecisionKind`` may not list yet
    (``enrolling``, ``enrolled``)."""
    return Decision(cast(Any, kind), person_id, name, **fields)


def page(labels: dict[str, str], language: str = "zh", status: Config | None = None) -> str:
    """The page ``GET /`` serves before any status, with the idle texts ``labels`` (as
    :func:`~terminal.output.kiosk_output.build_display` hands them to the display); with
    ``status``, after that kiosk's first status."""
    hub = Hub({"sounds": False, "spoken_prompts": False, "preview": False})
    hub.language = language
    hub.labels = labels
    if status is not None:
        hub.set_status(status_view(status, True, 0, True, True))
    app = build_app(
        hub,
        PreviewEncoder(FrameSlot(), 1.0, 320),
        StreamSlots(2),
        ConnectionGuard(cast(Any, None), 4, 1.0),
    )

    async def get() -> str:
        request = make_mocked_request("GET", "/", app=app)
        match = await app.router.resolve(request)
        response = await match.handler(request)
        assert isinstance(response, web.Response)
        assert response.status == 200 and response.content_type == "text/html"
        return str(response.text)

    return asyncio.run(get())


def idle_labels(kiosk: Config) -> dict[str, str]:
    """The idle texts the display is built with (``build_display``)."""
    return status_view(kiosk, None, 0, True, True).labels


# ---- the face-recognition notice ----


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_page_served_at_get_root_carries_the_notice_in_the_kiosk_language(
    language: str,
) -> None:
    kiosk = config(language)
    assert idle_labels(kiosk)["notice"] == NOTICE[language]
    html = page(idle_labels(kiosk), language)
    assert f'<p id="idle-notice">{NOTICE[language]}</p>' in html
    other = NOTICE["en" if language == "zh" else "zh"]
    assert other not in html
    # After the first status too (the status's labels then fill the page).
    assert f'<p id="idle-notice">{NOTICE[language]}</p>' in page({}, language, status=kiosk)


def test_the_configured_notice_text_is_shown_escaped() -> None:
    extra = '[privacy]\nnotice_en = "Faces are <b>recognised</b> & kept: show a QR code"\n'
    html = page(idle_labels(config("en", extra)), "en")
    assert "Faces are &lt;b&gt;recognised&lt;/b&gt; &amp; kept: show a QR code" in html
    assert "<b>" not in html


@pytest.mark.parametrize(
    "extra",
    [
        "[privacy]\nnotice = false\n",
        '[verification]\nmode = "qr"\n',
        '[recognition]\nenabled = false\n[verification]\nmode = "qr"\n',
    ],
    ids=["notice-off", "qr-only", "no-recognition"],
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_notice_when_it_is_off_or_the_kiosk_reads_no_faces(extra: str, language: str) -> None:
    kiosk = config(language, extra)
    assert notice_text(kiosk) == ""
    assert idle_labels(kiosk)["notice"] == ""
    for html in (page(idle_labels(kiosk), language), page({}, language, status=kiosk)):
        assert '<p id="idle-notice"></p>' in html  # empty: hidden by kiosk.css
        assert NOTICE[language] not in html


def test_the_page_works_without_a_notice_label() -> None:
    """An older caller's labels (no ``notice``): the page is served, with an empty notice."""
    html = page({"title": "考勤签到", "idle": "请看摄像头签到"})
    assert '<div id="idle-text">请看摄像头签到</div>' in html
    assert '<p id="idle-notice"></p>' in html and "{{" not in html
    template = "<p>{{idle}}</p>"  # an older template without the notice
    served = render_index(template, "zh", idle_labels(config()))
    assert served == "<p>请看摄像头或出示二维码签到</p>"


# ---- face enrollment ----

ENROLLMENT: list[tuple[Decision, str, str, str]] = [
    (
        decision("enrolling", "E1001", "张三", reason="2/5"),
        "prompt",
        "正在录入 张三：请看摄像头（2/5）",
        "Enrolling 张三: look at the camera (2/5)",
    ),
    (
        decision("enrolled", "E1001", "张三", reason="enrolled"),
        "success",
        "张三 已录入人脸",
        "张三 enrolled",
    ),
    (
        decision("refused", reason="enrollment_expired"),
        "refused",
        "录入码已过期，请重新获取",
        "Enrollment code expired — ask for a new one",
    ),
    (
        decision("refused", "E1001", "张三", reason="enrollment_failed"),
        "refused",
        "人脸录入失败，请重试",
        "Enrollment failed — try again",
    ),
    (
        decision("refused", reason="enroll_code_not_here"),
        "refused",
        "本机不接受录入码",
        "Enrollment codes are not accepted here",
    ),
]


@pytest.mark.parametrize(("made", "kind", "zh", "en"), ENROLLMENT, ids=lambda v: str(v)[:24])
def test_each_enrollment_decision_is_said_in_zh_and_en(
    made: Decision, kind: str, zh: str, en: str
) -> None:
    for language, text in (("zh", zh), ("en", en)):
        view = ScreenFeed(config(language)).on_decision(made)
        assert view is not None
        assert (view.kind, view.title) == (kind, text)
        if kind != "refused":  # the name is in the title: not again, big, below it
            assert view.name is None


def test_enrollment_colours_and_sounds() -> None:
    """Enrolling: amber prompt, silent; enrolled: green with the success tone; refused: red."""
    for made, kind, _, _ in ENROLLMENT:
        view = ScreenFeed(config("en", "[ui]\nspoken_prompts = true\n")).on_decision(made)
        assert view is not None
        expected = {
            "prompt": ("info", "none"),
            "success": ("ok", "success"),
            "refused": ("error", "failure"),
        }[kind]
        assert (view.icon, view.sound) == expected
        assert view.speak == (None if kind == "prompt" else view.title)


def test_each_enrollment_step_is_shown_once_and_the_next_at_once() -> None:
    now = [1000.0]
    feed = ScreenFeed(config("en"), lambda: now[0])
    step2 = decision("enrolling", "E1001", "Zhang San", reason="2/5")
    assert feed.on_decision(step2) is not None
    now[0] += 0.1
    assert feed.on_decision(step2) is None  # the same step, every frame: not again
    now[0] += 0.1
    step3 = feed.on_decision(decision("enrolling", "E1001", "Zhang San", reason="3/5"))
    assert step3 is not None and step3.title.endswith("(3/5)")
    now[0] += 0.1
    done = feed.on_decision(decision("enrolled", "E1001", "Zhang San", reason="enrolled"))
    assert done is not None and done.kind == "success"


def test_the_enrollment_catalogue_keys_have_both_languages() -> None:
    for key in ("enrolling", "enrolled", "enrollment_expired", "enrollment_failed",
                "enroll_code_not_here", "unknown_or_qr"):  # fmt: skip
        assert set(CATALOGUE[key]) == {"zh", "en"}
    assert announce("enrolling", "en", name="Li Si", progress="5/5") == (
        "Enrolling Li Si: look at the camera (5/5)"
    )


class _Recording(NullDisplay):
    """A display that keeps the box states it is offered."""

    def __init__(self) -> None:
        self.states: list[list[str]] = []

    def wants_preview(self) -> bool:
        return True

    def preview(self, image: Any, faces: Any, states: Any = None) -> None:
        self.states.append(list(states or []))


def test_enrollment_boxes_are_amber_then_green_and_each_step_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    display = _Recording()
    output = KioskOutput(config("en"), display=display)
    box = (10, 60, 60, 10)
    image = np.zeros((80, 80, 3), np.uint8)
    with caplog.at_level(logging.INFO, logger="terminal.output.kiosk_output"):
        for reason in ("1/5", "1/5", "2/5"):
            output.decided([decision("enrolling", "E1", "Li Si", box=box, reason=reason)], image)
        output.decided([decision("enrolled", "E1", "Li Si", box=box, reason="enrolled")], image)
    assert display.states == [["checking"], ["checking"], ["checking"], ["ok"]]
    said = [r.getMessage() for r in caplog.records if r.name == "terminal.output.kiosk_output"]
    assert said == [
        "Enrolling Li Si: look at the camera (1/5)",
        "Enrolling Li Si: look at the camera (2/5)",
        "Li Si enrolled",
    ]


# ---- an unknown face where QR codes check people in ----


OR_QR = (
    "未识别，请看摄像头或出示二维码",
    "Not recognised — look at the camera, or show your QR code",
)
FACE = ("未识别，请看摄像头", "Not recognised — look at the camera")


@pytest.mark.parametrize(
    ("extra", "zh", "en"),
    [
        ("", *OR_QR),
        ('[qr]\nenabled = false\n[verification]\nmode = "face"\n', *FACE),
        # face mode takes the codes of people with no face on file (no consent)
        ('[verification]\nmode = "face"\n', *OR_QR),
    ],
    ids=["face-or-qr", "no-qr", "face-only"],
)
def test_an_unknown_face_is_told_it_may_show_its_qr_code(extra: str, zh: str, en: str) -> None:
    for language, text in (("zh", zh), ("en", en)):
        kiosk = config(language, extra)
        view = ScreenFeed(kiosk).on_decision(decision("unknown", box=(1, 2, 3, 4)))
        assert view is not None and view.kind == "refused" and view.title == text
        assert announce(unknown_phrase(kiosk), "zh" if language == "zh" else "en") == text
