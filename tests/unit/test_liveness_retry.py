"""A failed head turn with attempts left is asked again, judged from where the face was first
asked, once the head is back there; only the last failure is a refusal."""

from __future__ import annotations

import numpy as np

from drivers.display.base import ResultView
from models.messages import Method
from terminal.checkin.decisions import Decision
from terminal.config import Config, LivenessSection
from terminal.face.liveness import HeadTurnLiveness
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.matcher import Match
from terminal.face.tracks import FaceTrack
from terminal.output.screen import ScreenFeed
from tests.recognition_tools import ScriptedChoices

BOX = (100, 300, 300, 100)


def marks(sideways: float) -> np.ndarray:
    """Five landmarks whose nose sits ``sideways`` eye distances right of the eyes' middle."""
    return np.array(
        [[150.0, 150.0], [250.0, 150.0], [200.0 + 100.0 * sideways, 200.0], [160, 250], [240, 250]]
    )


def asked_person(*directions: str, **settings: object) -> tuple[LivenessRequests, FaceTrack]:
    """Requests with scripted directions, and a track already asked the first of them."""
    liveness = HeadTurnLiveness(LivenessSection.model_validate(settings),
                                ScriptedChoices(*directions))  # fmt: skip
    requests = LivenessRequests(liveness)
    track = FaceTrack(box=BOX, last_seen=0.0)
    match = Match(person_id="E1", name="Li Si", distance=0.3, runner_up_distance=None)
    first = requests.ask(track, match, BOX, marks(0.0), 0.0)
    assert first is not None
    assert first.kind == "challenge" and first.reason == f"turn_{directions[0]}"
    return requests, track


def play(requests: LivenessRequests, track: FaceTrack, poses: list[float]) -> list[Decision]:
    """The decisions for ``poses`` seen 0.1 s apart, stopping at a pass or a refusal."""
    seen: list[Decision] = []
    for index, pose in enumerate(poses, start=1):
        outcome = requests.answer(track, BOX, marks(pose), index / 10)
        if not isinstance(outcome, Decision):
            seen.append(Decision("checked_in", outcome.person_id))
            break
        seen.append(outcome)
        if outcome.kind == "refused":
            break
    return seen


def test_a_wrong_way_turn_is_asked_again_and_passes_only_after_coming_back() -> None:
    requests, track = asked_person("right", "left")
    # Asked right, turns left (positive) by 0.5: asked again, to the left. Still turned left,
    # which would pass a request judged from there; it counts only once the head is back.
    seen = play(requests, track, [0.5, 0.5, 0.5, 0.5, 0.05, 0.4, 0.45])
    assert [d.reason for d in seen[:5]] == ["turn_left_again"] * 5
    assert not any(d.kind == "refused" for d in seen)
    assert seen[-1].kind == "checked_in" and len(seen) == 7


def test_the_failure_that_uses_the_last_attempt_is_refused() -> None:
    requests, track = asked_person("left", "left", "right", max_attempts=3, timeout_s=1.0)
    seen = play(requests, track, [-0.5, 0.0, -0.5, 0.0] + [0.0] * 12)
    reasons = [d.reason for d in seen]
    assert reasons[:3] == ["turn_left_again", "turn_left_again", "turn_right_last"]
    assert reasons[-1] == "liveness: no turn within 1 s"
    assert [d.kind for d in seen].count("refused") == 1


def test_the_screen_asks_again_with_an_arrow_and_accuses_only_at_the_end() -> None:
    feed = ScreenFeed(Config.model_validate({"terminal": {"language": "zh"}}))
    again = Decision("challenge", "E1", "李四", Method.FACE, reason="turn_left_again")
    view = feed.on_decision(again)
    assert isinstance(view, ResultView)
    assert view.kind == "prompt" and view.icon == "info" and view.sound == "prompt"
    assert view.title == "李四，请再试一次：请向左转头" and view.detail == "←"
    last = feed.on_decision(Decision("challenge", "E1", "李四", reason="turn_right_last"))
    assert last is not None and last.title == "李四，最后一次：请向右转头" and last.detail == "→"
    refused = feed.on_decision(Decision("refused", "E1", "李四", reason="liveness: no turn"))
    assert refused is not None and refused.kind == "refused" and refused.icon == "error"
    assert refused.title.startswith("疑似照片或视频")


def test_a_person_who_walked_away_while_asked_is_asked_once_more_when_back() -> None:
    requests, track = asked_person("left", "right")
    requests.forget_lost([track], [], 1.0)  # the face left view while asked: a failure
    again = FaceTrack(box=BOX, last_seen=2.0)
    match = Match(person_id="E1", name="Li Si", distance=0.3, runner_up_distance=None)
    decision = requests.ask(again, match, BOX, marks(0.0), 2.0)
    assert decision is not None
    assert decision.kind == "challenge" and decision.reason == "turn_right_again"
