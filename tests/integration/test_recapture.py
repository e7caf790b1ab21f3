"""The passive liveness cues on real footage: NUAA printed photos against the same 8 subjects'
webcam photos (one fold per subject), and the phone replay against the recording it replays.

The figures asserted are a little below those measured (``kiosk bench liveness``), so that the
tests say what holds, not the exact numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devtools.bench.passive_liveness import (
    VideoFaces,
    background_motion_figures,
    cue_rows,
    nuaa_cues,
    printed_photo_stage,
    recapture_figures,
    screen_replay_stage,
    video_faces,
)
from drivers.face.base import FaceEngine


@pytest.fixture(scope="module")
def pair(faces_dir: Path, engine: FaceEngine) -> tuple[VideoFaces, VideoFaces]:
    """The faces of ``phone_pair_real`` and ``phone_pair_replay`` at 15 fps."""
    video = faces_dir / "video"
    return (
        video_faces(engine, video / "phone_pair_real.mp4"),
        video_faces(engine, video / "phone_pair_replay.mp4"),
    )


@pytest.fixture(scope="module")
def subjects(east_asian_dir: Path, engine: FaceEngine) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """NUAA cues per subject: (genuine webcam photos, printed-photo attacks)."""
    found = nuaa_cues(engine, east_asian_dir)
    assert len(found) == 8 and all(len(g) and len(a) for g, a in found.values())
    return found


def test_recapture_score_separates_prints_subject_disjoint_and_the_phone_replay(
    subjects: dict[str, tuple[np.ndarray, np.ndarray]], pair: tuple[VideoFaces, VideoFaces]
) -> None:
    real, replay = pair
    figures = recapture_figures(subjects, cue_rows(real.cues, 3), cue_rows(replay.cues, 3))
    for model in ("hand_set_default", "fitted_per_fold"):
        nuaa = figures["nuaa_subject_disjoint"][model]
        assert nuaa["auc"] >= 0.95 and nuaa["apcer"] <= 0.05 and nuaa["bpcer"] <= 0.25, model
    for model in ("hand_set_default", "fitted_on_nuaa"):
        phone = figures["prints_to_phone_replay"][model]
        assert phone["auc"] >= 0.95, model
        # A cut-off from another camera refuses most real faces; one from this camera works.
        assert phone["cutoff_from_nuaa_genuine"]["bpcer"] >= 0.5, model
        this_camera = phone["cutoff_from_this_camera"]
        assert this_camera["apcer"] <= 0.05 and this_camera["bpcer"] <= 0.2, model


def test_the_background_moves_with_the_replayed_face_and_not_behind_the_real_one(
    pair: tuple[VideoFaces, VideoFaces],
) -> None:
    figures = background_motion_figures(*pair)  # one-second windows
    assert figures["auc"] >= 0.9
    assert figures["real_windows_moving"] <= 0.2 and figures["replay_windows_moving"] >= 0.7


def test_the_passive_stage_refuses_or_asks_every_attack_and_passes_most_real_faces(
    subjects: dict[str, tuple[np.ndarray, np.ndarray]], pair: tuple[VideoFaces, VideoFaces]
) -> None:
    for model in ("hand_set", "fitted"):
        for stage in (printed_photo_stage(subjects, model, None),
                      screen_replay_stage(*pair, model, None)):  # fmt: skip
            assert stage["apcer_passive_only"] == 0.0, model
            assert stage["bpcer_passive_refused"] <= 0.05, model
            assert stage["genuine_passed_without_request"] >= 0.6, model
