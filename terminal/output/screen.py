"""What the screen says: the pipeline's decisions become :class:`ResultView` values.

The pipeline decides every frame, so the same decision comes many times a second while
someone stands there. :class:`ScreenFeed` turns that stream into the few results a person
should see: a result is shown once and held; the same one again is not a new result (no new
tone) until it has been on screen for :data:`SAME_AGAIN_S`; a request or hint (``prompt``)
never covers a check-in or a refusal in its first :data:`PROMPT_YIELDS_S`; and the "already
checked in" that follows every check-in while the person is still in view is not shown over
their own success. Every text comes from :data:`terminal.output.announcements.CATALOGUE`.

A head-turn request is a prompt with a big arrow (``ResultView.arrow``: ← or →, toward the
person's own left or right as they face the screen); a failed turn with attempts left comes as a
new request ("once more: please turn your head to your left"), never as a red refusal: "photo or
video detected" is shown only once the attempts are used up.

Hints about the face ("come closer", "look at the camera", "hold still"...) come with every
frame and change as the person moves; so that they do not flicker, a hint once shown stays for
at least :data:`HINT_MIN_S`, and a different hint replaces it only after it came
:data:`HINT_SETTLE_FRAMES` times in a row. Check-in results and requests replace a hint at once.

A check-in's title follows its direction (签到成功 / Checked in, 签退成功 / Checked out; at a
training-room door 进入：<session> / Entered: <session>, 离开：<session> / Left: <session>) and
its detail line is the time and the verdict the event carries (准时, 迟到 4 分钟, 早退 12 分钟,
时钟未同步，未判定). The "already" that follows says the same direction (已签到 / Already
checked in, 已签退 / Already checked out, 已进入：<session> / Already entered: <session>,
已离开：<session> / Already left: <session>), and the log says what the screen says
(:func:`checkin_sentence`).

A face enrollment at the kiosk (after an administrator showed an enrollment code) is an amber
prompt while the face is captured (正在录入 <name>：请看摄像头（2/5） / Enrolling <name>: look at
the camera (2/5)), a green success once the templates are stored (<name> 已录入人脸 / <name>
enrolled), and its refusals are red (the code expired, the capture failed, codes not accepted
here). An unknown face is told it may show its QR code instead where a code alone checks a
person in (:func:`unknown_phrase`). The idle screen carries the face-recognition notice of
``[privacy]`` where the kiosk reads faces (:func:`notice_text`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.display.base import Arrow, Icon, ResultKind, ResultView, Sound, StatusView
from models.messages import CheckInEvent, Direction
from terminal.checkin.badges import RefusalCode
from terminal.checkin.decisions import Decision
from terminal.config import Config
from terminal.output.announcements import CATALOGUE, Language, announce, is_phrase

SAME_AGAIN_S = 3.0
PROMPT_YIELDS_S = 2.0
HINT_MIN_S = 2.0
"""A hint on screen stays at least this long before another hint replaces it."""
HINT_SETTLE_FRAMES = 3
"""A different hint must come this many times in a row before it replaces the one shown."""

_QR_REFUSALS: dict[str, str] = {
    RefusalCode.EXPIRED: "qr_expired",
    RefusalCode.NOT_YET_VALID: "qr_not_yet_valid",
    RefusalCode.STATIC_DISABLED: "static_badge_off",
    RefusalCode.CLOCK_NOT_SYNCHRONISED: "clock_unsynced_code",
    RefusalCode.REPLAYED: "code_used",
    "not_enrolled": "not_enrolled",
}
_HINTS = ("move_closer", "look_at_camera", "hold_still", "center_face", "lower_mask")
ENROLLING = "enrolling"
"""A face enrollment in progress (``reason`` "<done>/<total>"): an amber prompt."""
ENROLLED = "enrolled"
"""A face enrollment done (the person's templates are stored): a green success."""
ENROLLMENT_REFUSALS = frozenset({"enrollment_expired", "enrollment_failed", "enroll_code_not_here"})
"""The ``refused`` reasons of a face enrollment (each a catalogue key, said in red)."""
QR_ALTERNATIVE_MODES = frozenset({"face_or_qr", "qr", "face"})
"""Verification modes where a QR code alone checks a person in: there an unknown face is told
it may show its QR code instead (``unknown_or_qr``). In ``face`` mode too: the faces it does
not know include the people with no face on file, whose codes it takes. In ``face_and_qr`` the
face is needed anyway."""
TURN_ARROWS: dict[str, Arrow] = {"left": "left", "right": "right"}
"""The arrow of a head-turn request (``turn_left...``, ``turn_right...``): toward the person's
own left or right as they face the screen, which is the screen's left or right as they see it;
the page draws ← for ``left`` and → for ``right`` (never mirrored, see
:data:`drivers.display.base.Arrow`)."""
ARROW_GLYPHS: dict[Arrow, str] = {"left": "←", "right": "→"}
"""The arrow as text, on the request's detail line (the page draws the big arrow instead)."""


@dataclass
class _Shown:
    view: ResultView
    key: tuple[str, str | None, str]
    at: float


class ScreenFeed:
    """Turns decisions into the results to show (``None``: nothing new to show)."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.language: Language = config.terminal.language
        self.hold_s = config.ui.result_hold_s
        self.speak = config.ui.spoken_prompts
        self.unknown_phrase = unknown_phrase(config)
        """What an unknown face is told (:func:`unknown_phrase`)."""
        self.clock = clock
        self._shown: _Shown | None = None
        self._sequence = 0
        self._hint_since = 0.0
        """When the hint on screen (if ``_shown`` is one) was first shown."""
        self._hint_run: tuple[str, int] = ("", 0)
        """The hint that came last, and how many times in a row."""

    def on_decision(self, decision: Decision) -> ResultView | None:
        """The result to show for ``decision`` now, or None."""
        made = self._view(decision)
        if made is None:
            return None
        view, key = made
        now = self.clock()
        hint = decision.kind == "adjust"
        if hint:
            run_reason, run = self._hint_run
            self._hint_run = (decision.reason, run + 1 if run_reason == decision.reason else 1)
        shown = self._shown
        if shown is not None and now - shown.at < self.hold_s:
            age = now - shown.at
            if key == shown.key and age < SAME_AGAIN_S:
                return None
            if view.kind == "prompt" and shown.view.kind != "prompt" and age < PROMPT_YIELDS_S:
                return None
            own_success = shown.view.kind == "success" and shown.key[1] == key[1]
            if view.kind == "repeat" and own_success:
                return None
            if hint and shown.key[0] == "adjust" and key != shown.key and not self._settled(now):
                return None
        if hint and (shown is None or shown.key != key or now - shown.at >= self.hold_s):
            self._hint_since = now  # a new hint (not the one on screen, said again)
        self._sequence += 1
        view = dataclasses.replace(view, sequence=self._sequence)
        self._shown = _Shown(view, key, now)
        return view

    def _settled(self, now: float) -> bool:
        """Whether the hint that came last may replace the hint on screen: that one has been
        shown :data:`HINT_MIN_S`, and the new one came :data:`HINT_SETTLE_FRAMES` in a row."""
        held = 0 <= now - self._hint_since < HINT_MIN_S
        return not held and self._hint_run[1] >= HINT_SETTLE_FRAMES

    def _view(self, d: Decision) -> tuple[ResultView, tuple[str, str | None, str]] | None:
        name = d.name or d.person_id
        key = (d.kind, d.person_id, d.refusal or d.reason)
        kind: str = d.kind  # also the kinds the pipeline's DecisionKind may not list yet
        if d.kind == "checked_in" and d.event is not None:
            title, detail, spoken = self._success(d.event, d.session_title, name or "")
            return self._result("success", title, name, detail, "ok", "success", spoken), key
        if d.kind == "repeat":
            title, detail = self._repeat(d)
            return self._result("repeat", title, name, detail, "info", "none", None), key
        if kind == ENROLLING:
            # Comes with every frame; a new step (2/5 -> 3/5) is a new key, so it is shown at
            # once, silently (the face is being captured: no tone per step).
            title = announce(ENROLLING, self.language, name=name or "", progress=d.reason)
            return self._result("prompt", title, None, "", "info", "none", None), key
        if kind == ENROLLED:
            title = announce(ENROLLED, self.language, name=name or "")
            return self._result("success", title, None, "", "ok", "success", title), key
        if d.kind == "unknown":
            return self._refusal(self.unknown_phrase, None), key
        if d.kind == "refused":
            return self._refusal(self._phrase_of(d), name), key
        if d.kind in ("challenge", "paired") or (d.kind == "adjust" and d.reason in _HINTS):
            title = announce(d.reason, self.language, name=name or "")
            sound: Sound = "none" if d.kind == "adjust" else "prompt"
            arrow = _turn_arrow(d.reason) if d.kind == "challenge" else None
            detail = ARROW_GLYPHS[arrow] if arrow is not None else ""
            view = self._result("prompt", title, None, detail, "info", sound, title)
            return dataclasses.replace(view, arrow=arrow), key
        return None  # pending, confirming: nothing to say yet

    def _success(self, event: CheckInEvent, session: str | None, name: str) -> tuple[str, str, str]:
        """Title, detail line and spoken sentence of a committed check-in."""
        out = event.direction is Direction.OUT
        if session is not None:
            title = announce("session_left" if out else "session_entered", self.language,
                             title=session)  # fmt: skip
        else:
            title = self._say("screen_checked_out" if out else "screen_checked_in")
        detail = event.captured_at.astimezone().strftime("%H:%M:%S")
        verdict = _verdict(event, self.language)
        if verdict:
            detail = f"{detail} · {verdict}"
        return title, detail, checkin_sentence(event, session, name, self.language)

    def _repeat(self, d: Decision) -> tuple[str, str]:
        """Title and detail of a repeat, in the direction of the check-in it repeats."""
        out = d.direction is Direction.OUT
        detail = self._say("screen_repeat_out_detail" if out else "screen_repeat_detail")
        if d.session_title is not None:
            key = "session_repeat_left" if out else "session_repeat_entered"
            return announce(key, self.language, title=d.session_title), detail
        return self._say("screen_repeat_out" if out else "screen_repeat"), detail

    def _phrase_of(self, d: Decision) -> str:
        """The catalogue key that says why ``d`` was refused."""
        if d.reason in ENROLLMENT_REFUSALS:
            return d.reason
        if d.refusal is not None:
            return _QR_REFUSALS.get(d.refusal, "qr_invalid")
        if is_phrase(d.reason):
            return d.reason
        if d.reason.startswith("liveness"):
            return "liveness_failed"
        if "disk full" in d.reason:
            return "store_full"
        return "store_error"

    def _refusal(self, phrase: str, name: str | None) -> ResultView:
        title = announce(phrase, self.language, name=name or "")
        return self._result("refused", title, name, "", "error", "failure", title)

    def _result(
        self,
        kind: ResultKind,
        title: str,
        name: str | None,
        detail: str,
        icon: Icon,
        sound: Sound,
        spoken: str | None,
    ) -> ResultView:
        return ResultView(
            kind=kind,
            title=title,
            name=name,
            detail=detail,
            icon=icon,
            sound=sound,
            speak=spoken if self.speak else None,
            hold_s=self.hold_s,
            decided_at=time.time(),
        )

    def _say(self, key: str) -> str:
        return announce(key, self.language)


def unknown_phrase(config: Config) -> str:
    """The catalogue key an unknown face is told: ``unknown_or_qr`` ("look at the camera, or
    show your QR code") where the kiosk reads QR codes and a code alone checks a person in
    (:data:`QR_ALTERNATIVE_MODES`), so that a person whose face is not on file (who did not
    consent) learns how to check in instead; else ``unknown``."""
    if config.qr.enabled and config.verification.mode in QR_ALTERNATIVE_MODES:
        return "unknown_or_qr"
    return "unknown"


def shows_notice(config: Config) -> bool:
    """Whether the idle screen shows the face-recognition notice: ``[privacy] notice`` is on
    and this kiosk reads faces (recognition enabled, verification mode not ``qr``)."""
    return config.privacy.notice and config.recognition.enabled and config.verification.mode != "qr"


def notice_text(config: Config) -> str:
    """The idle screen's face-recognition notice in the kiosk's language (``[privacy]
    notice_zh`` / ``notice_en``, configured text, not the catalogue's), or empty when it is
    not shown (:func:`shows_notice`)."""
    if not shows_notice(config):
        return ""
    privacy = config.privacy
    return privacy.notice_zh if config.terminal.language == "zh" else privacy.notice_en


def _turn_arrow(reason: str) -> Arrow | None:
    """The arrow for a ``turn_left...`` or ``turn_right...`` request, else None."""
    parts = reason.split("_")
    return TURN_ARROWS.get(parts[1]) if len(parts) > 1 and parts[0] == "turn" else None


def _verdict(event: CheckInEvent, language: Language) -> str:
    """The event's verdict in ``language`` (准时, late 4 min...), or empty without one."""
    if event.verdict is None:
        return ""
    return announce(f"verdict_{event.verdict.value}", language, minutes=event.verdict_minutes)


def checkin_sentence(
    event: CheckInEvent, session: str | None, name: str, language: Language
) -> str:
    """The sentence for a committed check-in, as the screen shows it and the log and the
    spoken prompt say it: "Checked in: 张三 at 08:59:07", "Checked out: ...", at a training-room
    door "Entered: Safety training: 张三 at 08:59:07" or "Left: ...", then the verdict."""
    out = event.direction is Direction.OUT
    if session is not None:
        key = "session_left_said" if out else "session_entered_said"
    else:
        key = "checked_out" if out else "checked_in"
    sentence = announce(key, language, name=name, at=event.captured_at, title=session or "")
    verdict = _verdict(event, language)
    return f"{sentence} {verdict}" if verdict else sentence


def status_view(
    config: Config, online: bool | None, backlog: int, clock_synced: bool, camera_ok: bool
) -> StatusView:
    """The status line and idle texts in the kiosk's language; ``notice`` is the
    face-recognition notice (:func:`notice_text`), empty when the idle screen shows none."""
    language: Language = config.terminal.language
    labels = {
        "idle": announce(f"idle_{config.verification.mode}", language),
        "online": announce("status_online", language),
        "offline": announce("status_offline", language),
        "offline_only": announce("status_offline_only", language),
        "backlog": CATALOGUE["status_backlog"][language],  # the page fills in {count}
        "clock": announce("status_clock", language),
        "camera": announce("camera_missing", language),
        "title": announce("screen_title", language),
        "notice": notice_text(config),
    }
    return StatusView(
        online=online,
        backlog=backlog,
        clock_synced=clock_synced,
        camera_ok=camera_ok,
        labels=labels,
        language=language,
        terminal_id=config.terminal.id,
        site=config.terminal.site,
    )
