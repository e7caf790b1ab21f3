"""Each thing the screen must say right, in a real headless Chromium (Playwright) at the kiosk
sizes (800x480 and 1920x1080; the preview also in portrait), driven through the real server
(:class:`~drivers.display.web.WebDisplay`) with views made by the real
:class:`~terminal.output.screen.ScreenFeed` from pipeline decisions:

- a check-in, and the "already" after a check-out or at a training-room door, by direction;
- a head-turn request with its big arrow, and a hint;
- a 16:9 camera filling a preview box of its own shape;
- the face boxes coloured by state;
- the idle page in the configured language before the page has connected;
- the face-recognition notice ([privacy]): small at the bottom of the idle screen, clear of
  the idle texts, before and after the page connects; none where the kiosk reads no faces.

The tests assert on the DOM (texts, the arrow element, computed colours and sizes) and on the
screenshots' pixels (box colours), and save every screenshot as ``<case>-<w>x<h>.png`` in
``$KIOSK_SCREENSHOT_DIR`` (default: the test's ``tmp_path``) for a person to look at. Nothing
here asserts timing: the only waits are for conditions.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, FloatRect, Page, Route

from drivers.display.base import Box, BoxState, ResultView
from drivers.display.web import WebDisplay
from models.messages import CheckInEvent, Direction, Method
from terminal.checkin.decisions import Decision
from terminal.config import Config, parse_config
from terminal.output.screen import ScreenFeed, status_view
from tests.web_display_tools import wait_until

WAIT_MS = 10_000
LANDSCAPE = {"small": (800, 480), "large": (1920, 1080)}
PORTRAIT = {"portrait-small": (480, 800), "portrait-large": (1080, 1920)}
EVERY_SHAPE: dict[str, tuple[int, int]] = {**LANDSCAPE, **PORTRAIT}
BOTH_SIZES = pytest.mark.parametrize("size", list(LANDSCAPE.values()), ids=list(LANDSCAPE))
AT = datetime(2026, 11, 23, 17, 31, 5, tzinfo=UTC)
CJK = re.compile(r"[\u3000-\u9fff]")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: ``$KIOSK_SCREENSHOT_DIR``, else the test's ``tmp_path``."""
    wanted = os.environ.get("KIOSK_SCREENSHOT_DIR")
    directory = Path(wanted) if wanted else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def kiosk_config(language: str) -> Config:
    """A kiosk in ``language`` holding results 60 s (they stay while the test looks)."""
    return parse_config(
        f'[terminal]\nid = "kiosk-01"\nsite = "hq"\nlanguage = "{language}"\n'
        "[ui]\nresult_hold_s = 60\n"
    )


@contextmanager
def screen(language: str, *, status: bool = True, preview_width: int = 480) -> Iterator[WebDisplay]:
    """A served kiosk page in ``language`` (as :func:`build_display` makes it), with its status
    (``status=False``: none yet)."""
    config = kiosk_config(language)
    labels = status_view(config, None, 0, True, True).labels
    display = WebDisplay(
        "127.0.0.1:0",
        preview_fps=15,
        preview_width=preview_width,
        language=language,
        labels=labels,
    )
    display.start()
    try:
        if status:
            display.status(status_view(config, True, 0, True, True))
        yield display
    finally:
        display.close()


@contextmanager
def page_of(
    browser: Browser, url: str, size: tuple[int, int], *, hold_events: bool = False
) -> Iterator[Page]:
    """A fresh page of ``size``; ``hold_events``: its ``/events`` request is never answered
    (the page has not connected)."""
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    held: list[Route] = []
    if hold_events:

        def hold(route: Route) -> None:
            held.append(route)  # neither fulfilled nor aborted: the request stays pending

        context.route("**/events", hold)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(url)
        yield page
        assert errors == []
    finally:
        context.close()


def save(page: Page, shots: Path, name: str) -> Path:
    """Save a screenshot as ``<name>-<w>x<h>.png`` in ``shots``."""
    size = page.viewport_size or {"width": 0, "height": 0}
    path = shots / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path))
    return path


def event(direction: str) -> CheckInEvent:
    """A committed check-in of E1001 at :data:`AT` in ``direction``."""
    return CheckInEvent.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "seq": 1,
            "terminal_id": "kiosk-01",
            "site": "hq",
            "person_id": "E1001",
            "method": "face",
            "distance": 0.3,
            "captured_at": AT,
            "clock_synced": True,
            "direction": direction,
        }
    )


def view_of(language: str, decision: Decision) -> ResultView:
    """What the kiosk's :class:`ScreenFeed` shows for ``decision``."""
    view = ScreenFeed(kiosk_config(language)).on_decision(decision)
    assert view is not None, decision
    return view


def shown(page: Page, display: WebDisplay, view: ResultView) -> None:
    """Show ``view`` and wait until the page has it on screen."""
    display.show(view)
    selector = f'#result[data-kind="{view.kind}"][data-sequence="{view.sequence}"]'
    page.wait_for_selector(selector, state="visible", timeout=WAIT_MS)


def connected(page: Page) -> None:
    page.wait_for_selector('#status [data-item="link"][data-state="online"]', timeout=WAIT_MS)


def background(page: Page, selector: str) -> str:
    value: str = page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")
    return value


def rect(page: Page, selector: str) -> FloatRect:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


# ---- check-ins and repeats, by direction ----


@BOTH_SIZES
def test_a_check_in_is_green_with_the_name(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    decision = Decision("checked_in", "E1001", "Zhang San", Method.FACE, event=event("in"))
    with screen("en") as display, page_of(browser, display.url, size) as page:
        connected(page)
        shown(page, display, view_of("en", decision))
        assert page.inner_text("#result-title") == "Checked in"
        assert page.inner_text("#result-name") == "Zhang San"
        assert background(page, "#result") == "rgb(20, 108, 46)"  # --success
        save(page, shots, "checked-in")


@BOTH_SIZES
def test_the_repeat_after_a_check_out_says_checked_out(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    out = Decision("repeat", "E1001", "Zhang San", Method.FACE, direction=Direction.OUT)
    with screen("en") as display, page_of(browser, display.url, size) as page:
        connected(page)
        shown(page, display, view_of("en", out))
        assert page.inner_text("#result-title") == "Already checked out"
        assert page.inner_text("#result-detail") == "No need to check out again"
        assert background(page, "#result") == "rgb(13, 63, 143)"  # --repeat
        assert "checked in" not in page.inner_text("#result").lower()
        save(page, shots, "already-checked-out")
    zh = Decision("repeat", "E1001", "张三", Method.FACE, direction=Direction.OUT)
    with screen("zh") as display, page_of(browser, display.url, size) as page:
        connected(page)
        shown(page, display, view_of("zh", zh))
        assert page.inner_text("#result-title") == "已签退"
        assert page.inner_text("#result-name") == "张三"
        save(page, shots, "already-checked-out-zh")


@BOTH_SIZES
def test_the_repeat_at_a_training_room_door_names_the_session(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    left = Decision(
        "repeat", "E1001", "Zhang San", direction=Direction.OUT, session_title="Safety training"
    )
    with screen("en") as display, page_of(browser, display.url, size) as page:
        connected(page)
        shown(page, display, view_of("en", left))
        assert page.inner_text("#result-title") == "Already left: Safety training"
        save(page, shots, "already-left-session")


@BOTH_SIZES
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_refusal_as_photo_or_video_is_red_and_fits(
    browser: Browser, shots: Path, size: tuple[int, int], language: str
) -> None:
    refused = Decision("refused", "E1001", "Zhang San", Method.FACE, reason="liveness: no turn")
    with screen(language) as display, page_of(browser, display.url, size) as page:
        connected(page)
        view = view_of(language, refused)
        shown(page, display, view)
        assert page.inner_text("#result-title") == view.title
        assert background(page, "#result") == "rgb(142, 20, 20)"  # --refused
        overflow = page.eval_on_selector("#result", "e => e.scrollHeight - e.clientHeight")
        assert overflow <= 0, overflow  # the whole text is on screen
        save(page, shots, f"refused-photo-{language}")


# ---- requests and hints ----


@BOTH_SIZES
@pytest.mark.parametrize("side", ["left", "right"])
def test_a_head_turn_request_shows_a_big_arrow(
    browser: Browser, shots: Path, size: tuple[int, int], side: str
) -> None:
    turn = Decision("challenge", "E1001", "Zhang San", Method.FACE, reason=f"turn_{side}")
    with screen("en") as display, page_of(browser, display.url, size) as page:
        connected(page)
        view = view_of("en", turn)
        shown(page, display, view)
        assert page.inner_text("#result-title") == (
            f"Zhang San, please turn your head to your {side}"
        )
        arrow = page.locator("#result-arrow")
        assert arrow.is_visible() and arrow.get_attribute("data-direction") == side
        assert page.is_hidden("#result-icon") and page.is_hidden("#result-detail")
        box = rect(page, "#result-arrow svg")
        assert box["height"] >= 0.18 * size[1], box  # big: about a fifth of the screen or more
        # The arrow is drawn pointing left; "right" is the same arrow flipped (a negative
        # horizontal scale, whatever the nudge animation adds).
        scale_x = page.eval_on_selector(
            "#result-arrow svg", "e => new DOMMatrix(getComputedStyle(e).transform).a"
        )
        assert (scale_x < 0) == (side == "right"), scale_x
        assert background(page, "#result") == "rgb(107, 67, 0)"  # --prompt (amber)
        save(page, shots, f"turn-{side}")
        # The next result has no arrow.
        hint = view_of("en", Decision("adjust", reason="hold_still"))
        shown(page, display, ResultView(**{**hint.__dict__, "sequence": view.sequence + 1}))
        assert page.is_hidden("#result-arrow") and page.is_visible("#result-icon")


@BOTH_SIZES
def test_a_hint_is_a_prompt_without_an_arrow(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    with screen("en") as display, page_of(browser, display.url, size) as page:
        connected(page)
        shown(page, display, view_of("en", Decision("adjust", reason="center_face")))
        assert page.inner_text("#result-title") == "Please step into the middle"
        assert page.is_hidden("#result-arrow")
        assert page.get_attribute("#result-icon use", "href") == "#i-prompt"
        save(page, shots, "hint")


# ---- the live view: its shape and its boxes ----


def camera_frame(width: int, height: int) -> np.ndarray:
    """A dim room with four head-like shapes (BGR)."""
    x = np.linspace(40, 90, width, dtype=np.float32)
    frame = np.repeat(np.repeat(x[None, :, None], height, axis=0), 3, axis=2).astype(np.uint8)
    for index in range(4):
        centre = (round(width * (0.15 + 0.23 * index)), round(height * 0.5))
        axes = (round(width * 0.06), round(height * 0.14))
        cv2.ellipse(frame, centre, axes, 0, 0, 360, (120, 140, 170), -1)
    return frame


def face_boxes(width: int, height: int) -> list[Box]:
    """Boxes (top, right, bottom, left) around :func:`camera_frame`'s four heads."""
    boxes = []
    for index in range(4):
        cx, cy = width * (0.15 + 0.23 * index), height * 0.5
        half_w, half_h = width * 0.08, height * 0.2
        boxes.append(
            (round(cy - half_h), round(cx + half_w), round(cy + half_h), round(cx - half_w))
        )
    return boxes


@contextmanager
def feeding(
    display: WebDisplay, frame: np.ndarray, faces: list[Box], states: list[BoxState]
) -> Iterator[None]:
    """Offer ``frame`` to the live view until the block ends (as the capture loop would)."""
    done = threading.Event()

    def offer() -> None:
        while not done.wait(0.05):
            display.preview(frame, faces, states)

    offerer = threading.Thread(target=offer)
    offerer.start()
    try:
        yield
    finally:
        done.set()
        offerer.join()


def live(page: Page) -> None:
    page.wait_for_selector('#camera[data-state="live"][data-aspect]', timeout=WAIT_MS)


@pytest.mark.parametrize("size", list(EVERY_SHAPE.values()), ids=list(EVERY_SHAPE))
def test_a_16_9_camera_fills_a_preview_of_its_shape(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    width, height = size
    frame = camera_frame(1280, 720)
    with (
        screen("en") as display,
        feeding(display, frame, [], []),
        page_of(browser, display.url, size) as page,
    ):
        live(page)
        camera = rect(page, "#camera")
        panel = rect(page, "#panel")
        ratio = camera["width"] / camera["height"]
        assert abs(ratio - 16 / 9) < 0.04, camera  # the box has the camera's shape
        # The picture fills the box (object-fit: contain in a box of its own shape).
        shown_w, shown_h = page.eval_on_selector(
            "#preview",
            """img => {
                const r = img.getBoundingClientRect();
                const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
                return [img.naturalWidth * s, img.naturalHeight * s];
            }""",
        )
        fill = shown_w * shown_h / (camera["width"] * camera["height"])
        assert fill > 0.95, fill
        if width > height:  # landscape: side by side, the camera about half the width
            assert camera["width"] >= 0.45 * width, camera
            assert panel["x"] >= camera["x"] + camera["width"]
        else:  # portrait: on top, the whole width
            assert camera["width"] >= 0.9 * width, camera
            assert panel["y"] >= camera["y"] + camera["height"]
        assert panel["width"] * panel["height"] >= 0.3 * width * height  # room for results
        save(page, shots, "preview-16x9")


EXPECTED_RGB: dict[BoxState, tuple[int, int, int]] = {
    "tracking": (150, 200, 255),
    "checking": (255, 190, 0),
    "ok": (80, 220, 80),
    "refused": (240, 60, 60),
}


def nearest_on_edge(
    shot: np.ndarray, x: float, top: float, bottom: float, wanted: tuple[int, int, int]
) -> float:
    """The smallest colour distance to ``wanted`` (RGB) on a vertical edge at ``x`` (a few
    pixels either side, the middle half of the edge) in a screenshot (BGR)."""
    x0, x1 = max(0, round(x) - 3), round(x) + 4
    y0, y1 = round(top + (bottom - top) / 4), round(bottom - (bottom - top) / 4)
    patch = shot[y0:y1, x0:x1, ::-1].astype(np.float32)
    distances = np.linalg.norm(patch - np.array(wanted, np.float32), axis=2)
    return float(distances.min())


@BOTH_SIZES
def test_face_boxes_are_coloured_by_state(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    frame = camera_frame(1280, 720)
    faces = face_boxes(1280, 720)
    states: list[BoxState] = ["tracking", "checking", "ok", "refused"]
    with (
        screen("en", preview_width=960) as display,
        feeding(display, frame, faces, states),
        page_of(browser, display.url, size) as page,
    ):
        live(page)
        path = save(page, shots, "face-boxes")
        preview = rect(page, "#preview")
        shot = cv2.imread(str(path))
        assert shot is not None
        scale = preview["width"] / 1280
        for (top, _right, bottom, left), state in zip(faces, states, strict=True):
            x = preview["x"] + left * scale
            y_top, y_bottom = preview["y"] + top * scale, preview["y"] + bottom * scale
            near = nearest_on_edge(shot, x, y_top, y_bottom, EXPECTED_RGB[state])
            assert near < 60, (state, near)
            for other, rgb in EXPECTED_RGB.items():
                if other != state:  # and not another state's colour
                    assert nearest_on_edge(shot, x, y_top, y_bottom, rgb) > near, other


# ---- the idle page before it connects ----


@BOTH_SIZES
def test_the_idle_page_is_in_the_kiosk_language_before_it_connects(
    browser: Browser, shots: Path, size: tuple[int, int]
) -> None:
    with (
        screen("en", status=False) as display,
        page_of(browser, display.url, size, hold_events=True) as page,
    ):
        wait_until(lambda: page.inner_text("#date") != "", what="the date is shown")
        assert page.get_attribute("html", "lang") == "en"
        assert page.get_attribute("#status", "data-state") == "connecting"  # not connected
        date = page.inner_text("#date")
        assert not CJK.search(date), date
        assert re.search(r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day", date), date
        assert page.inner_text("#idle-title") == "Attendance"
        assert page.inner_text("#idle-text") == "Look at the camera or show your QR code"
        assert page.title() == "Attendance"
        assert not CJK.search(page.inner_text("body"))
        save(page, shots, "idle-before-connect-en")
    with (
        screen("zh", status=False) as display,
        page_of(browser, display.url, size, hold_events=True) as page,
    ):
        wait_until(lambda: page.inner_text("#date") != "", what="the date is shown")
        assert page.get_attribute("html", "lang") == "zh-Hans"
        assert CJK.search(page.inner_text("#date"))
        assert page.inner_text("#idle-text") == "请看摄像头或出示二维码签到"


# ---- the face-recognition notice on the idle screen ----


def overlaps(a: FloatRect, b: FloatRect) -> bool:
    """Whether two boxes share any area."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@BOTH_SIZES
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("connect", [False, True], ids=["before-connect", "connected"])
def test_the_idle_screen_shows_the_notice_small_at_the_bottom(
    browser: Browser, shots: Path, size: tuple[int, int], language: str, connect: bool
) -> None:
    notice = status_view(kiosk_config(language), None, 0, True, True).labels["notice"]
    assert notice  # the default config reads faces and shows the notice
    with (
        screen(language, status=connect) as display,
        page_of(browser, display.url, size, hold_events=not connect) as page,
    ):
        if connect:
            connected(page)
        else:
            assert page.get_attribute("#status", "data-state") == "connecting"
        assert page.is_visible("#idle-notice")
        assert page.inner_text("#idle-notice") == notice
        box = rect(page, "#idle-notice")
        idle = rect(page, "#idle")
        # Inside the idle panel, in its lower part, below and clear of every idle text.
        assert idle["y"] <= box["y"] and box["y"] + box["height"] <= idle["y"] + idle["height"]
        assert box["y"] + box["height"] / 2 > idle["y"] + idle["height"] * 0.6, (box, idle)
        for other in ("#idle-title", "#clock", "#date", "#idle-text"):
            other_box = rect(page, other)
            assert not overlaps(box, other_box), (other, box, other_box)
            assert box["y"] >= other_box["y"] + other_box["height"], (other, box, other_box)
        # Small: a fraction of the idle text's size, yet readable.
        sizes = page.evaluate(
            """() => ["#idle-notice", "#idle-text"].map(
                s => parseFloat(getComputedStyle(document.querySelector(s)).fontSize))"""
        )
        assert 12 <= sizes[0] <= 0.5 * sizes[1], sizes
        overflow = page.eval_on_selector("#idle", "e => e.scrollHeight - e.clientHeight")
        assert overflow <= 0, overflow  # the whole notice is on screen
        save(page, shots, f"idle-notice-{language}-{'connected' if connect else 'before'}")
        # A result covers the idle screen, notice and all.
        if connect:
            shown(page, display, view_of(language, Decision("unknown")))
            assert page.is_hidden("#idle-notice")


def test_no_notice_where_the_kiosk_reads_no_faces(browser: Browser, shots: Path) -> None:
    config = parse_config(
        '[terminal]\nlanguage = "en"\n[verification]\nmode = "qr"\n[ui]\nresult_hold_s = 60\n'
    )
    labels = status_view(config, None, 0, True, True).labels
    display = WebDisplay("127.0.0.1:0", preview_fps=15, language="en", labels=labels)
    display.start()
    try:
        with page_of(browser, display.url, LANDSCAPE["small"], hold_events=True) as page:
            wait_until(lambda: page.inner_text("#date") != "", what="the date is shown")
            assert page.inner_text("#idle-text") == "Show your QR code to check in"
            assert page.is_hidden("#idle-notice")
            # Without the notice the idle texts stay centred (no space kept for it).
            idle, text = rect(page, "#idle"), rect(page, "#idle-text")
            assert text["y"] + text["height"] < idle["y"] + idle["height"] * 0.9
            save(page, shots, "idle-no-notice")
    finally:
        display.close()
