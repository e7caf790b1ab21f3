"""The passive liveness stage measured on the shared data: recapture cues and background motion.

Recapture score (:mod:`terminal.face.recapture`), two protocols:

- **NUAA, subject-disjoint**: genuine ``nuaa_webcam`` photos against ``nuaa_printed_photo_attacks``
  of the same 8 subjects, one fold per subject (leave one subject out). A fitted model is fitted
  on the other 7 subjects; for both it and the hand-set default the cut-off is chosen on the
  other 7 subjects' genuine photos alone (their 95th percentile, a 5 % BPCER target: the rule a
  kiosk can apply to its own genuine captures). AUC is over the pooled held-out scores; APCER
  and BPCER count the held-out photos against their fold's cut-off.
- **Prints to the phone replay**: fitted on every NUAA photo, tested on the faces of
  ``phone_pair_real`` (genuine) and ``phone_pair_replay`` (a phone screen) frames, at 5 fps. The
  cut-off comes either from NUAA's genuine photos (another camera) or, as ``kiosk calibrate
  --liveness`` would, from the first half of ``phone_pair_real`` (this camera); rates are on the
  second half of both videos.

Background motion (:class:`terminal.face.recapture.BackgroundMotion`): per 1 s window of the
phone pair at 15 fps, genuine ``phone_pair_real`` against ``phone_pair_replay``.

Nothing here is shipped: the figures are for the README and the bench, the fitted coefficients
are thrown away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.face.base import FaceEngine
from terminal.face.recapture import (
    BACKGROUND_ASK_SHARE,
    CUE_NAMES,
    DEFAULT_MODEL,
    PASS_QUANTILE,
    REFUSE_MARGIN_LOGIT,
    PassiveCutoffs,
    RecaptureModel,
    background_moving_share,
    calibrate_cutoffs,
    face_crop,
    fit_recapture_model,
    frame_motion,
    recapture_cues,
)

MIN_FACE_PX = 60
GENUINE_QUANTILE = 95.0
"""Cut-off: this percentile of the calibration genuine scores (a 5 % BPCER target)."""


@dataclass
class VideoFaces:
    """The largest face's box and recapture cues in each frame of a video (None: no face)."""

    boxes: list[tuple[int, int, int, int] | None]
    cues: list[np.ndarray | None]
    grays: list[np.ndarray]


def auc(genuine: np.ndarray, attacks: np.ndarray) -> float | None:
    """Probability that an attack scores above a genuine face (ties count half)."""
    if len(genuine) == 0 or len(attacks) == 0:
        return None
    above = (attacks[:, None] > genuine[None, :]).mean()
    ties = (attacks[:, None] == genuine[None, :]).mean()
    return round(float(above + 0.5 * ties), 4)


def error_rates(cutoff: float, genuine: np.ndarray, attacks: np.ndarray) -> dict[str, Any]:
    """APCER (attacks scoring below ``cutoff``: taken as live) and BPCER (genuine at or above)."""
    return {
        "cutoff": round(float(cutoff), 4),
        "apcer": round(float(np.mean(attacks < cutoff)), 4) if len(attacks) else None,
        "bpcer": round(float(np.mean(genuine >= cutoff)), 4) if len(genuine) else None,
        "attacks": len(attacks),
        "genuine": len(genuine),
    }


def genuine_cutoff(genuine_scores: np.ndarray) -> float:
    """The cut-off a kiosk sets from its genuine captures alone."""
    return float(np.percentile(genuine_scores, GENUINE_QUANTILE))


def photo_cues(engine: FaceEngine, path: Path) -> np.ndarray | None:
    """The recapture cues of the largest face in a photo, or None without a face."""
    image = cv2.imread(str(path))
    if image is None:
        return None
    boxes = engine.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), MIN_FACE_PX)
    crop = face_crop(image, boxes[0]) if boxes else None
    return recapture_cues(crop) if crop is not None else None


def nuaa_cues(engine: FaceEngine, east_asian: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per NUAA subject: (genuine cue rows, printed-attack cue rows)."""
    subjects: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for folder in sorted((east_asian / "nuaa_webcam").iterdir()):
        sets = []
        for kind in ("nuaa_webcam", "nuaa_printed_photo_attacks"):
            rows = [
                photo_cues(engine, p)
                for p in sorted((east_asian / kind / folder.name).glob("*.jpg"))
            ]
            found = [row for row in rows if row is not None]
            sets.append(np.array(found).reshape(-1, len(CUE_NAMES)))
        subjects[folder.name] = (sets[0], sets[1])
    return subjects


def video_frames(path: Path, fps: float) -> Iterator[np.ndarray]:
    """The frames of a video file resampled to about ``fps`` (BGR)."""
    capture = cv2.VideoCapture(str(path))
    step = max(1, round((capture.get(cv2.CAP_PROP_FPS) or fps) / fps))
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            if index % step == 0:
                yield image
            index += 1
    finally:
        capture.release()


def video_faces(engine: FaceEngine, path: Path, fps: float = 15.0) -> VideoFaces:
    """Boxes, cues and grey frames of a video at ``fps``."""
    faces = VideoFaces([], [], [])
    for image in video_frames(path, fps):
        boxes = engine.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), MIN_FACE_PX)
        box = boxes[0] if boxes else None
        crop = face_crop(image, box) if box is not None else None
        faces.boxes.append(box)
        faces.cues.append(recapture_cues(crop) if crop is not None else None)
        faces.grays.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    return faces


def cue_rows(cues: list[np.ndarray | None], every: int = 1) -> np.ndarray:
    """Every ``every``-th frame's cues, frames without a face left out, as one array."""
    found = [row for row in cues[::every] if row is not None]
    return np.array(found).reshape(-1, len(CUE_NAMES))


def cue_aucs(genuine: np.ndarray, attacks: np.ndarray) -> dict[str, float | None]:
    """Each cue's AUC alone (above 0.5: higher in attacks; below: lower in attacks)."""
    return {name: auc(genuine[:, i], attacks[:, i]) for i, name in enumerate(CUE_NAMES)}


def nuaa_subject_folds(
    subjects: dict[str, tuple[np.ndarray, np.ndarray]],
    model_for: Callable[[np.ndarray, np.ndarray], RecaptureModel],
) -> dict[str, Any]:
    """Leave-one-subject-out figures of the models ``model_for(train genuine, train attacks)``
    gives (see the module docstring)."""
    held_genuine: list[np.ndarray] = []
    held_attacks: list[np.ndarray] = []
    accepted = refused = attacks_total = genuine_total = 0
    for subject in subjects:
        train_g = np.vstack([g for s, (g, _) in subjects.items() if s != subject])
        train_a = np.vstack([a for s, (_, a) in subjects.items() if s != subject])
        model = model_for(train_g, train_a)
        cutoff = genuine_cutoff(model.scores(train_g))
        test_g, test_a = subjects[subject]
        genuine_scores, attack_scores = model.scores(test_g), model.scores(test_a)
        held_genuine.append(genuine_scores)
        held_attacks.append(attack_scores)
        accepted += int(np.sum(attack_scores < cutoff))
        refused += int(np.sum(genuine_scores >= cutoff))
        attacks_total += len(test_a)
        genuine_total += len(test_g)
    return {
        "folds": len(subjects),
        "auc": auc(np.concatenate(held_genuine), np.concatenate(held_attacks)),
        "apcer": round(accepted / attacks_total, 4),
        "bpcer": round(refused / genuine_total, 4),
        "attacks": attacks_total,
        "genuine": genuine_total,
    }


def prints_to_replay(
    model: RecaptureModel, nuaa_genuine: np.ndarray, real: np.ndarray, replay: np.ndarray
) -> dict[str, Any]:
    """``model`` on the phone pair: AUC, and rates with a cut-off from NUAA's genuine photos or
    from the first half of the real video (rates on the second halves)."""
    real_scores, replay_scores = model.scores(real), model.scores(replay)
    half_real, half_replay = len(real_scores) // 2, len(replay_scores) // 2
    test_real, test_replay = real_scores[half_real:], replay_scores[half_replay:]
    return {
        "auc": auc(real_scores, replay_scores),
        "cutoff_from_nuaa_genuine": error_rates(
            genuine_cutoff(model.scores(nuaa_genuine)), test_real, test_replay
        ),
        "cutoff_from_this_camera": error_rates(
            genuine_cutoff(real_scores[:half_real]), test_real, test_replay
        ),
        "median_score": {
            "real": round(float(np.median(real_scores)), 4),
            "replay": round(float(np.median(replay_scores)), 4),
        },
    }


def recapture_figures(
    subjects: dict[str, tuple[np.ndarray, np.ndarray]], real: np.ndarray, replay: np.ndarray
) -> dict[str, Any]:
    """Every recapture figure of the module docstring, hand-set default beside fitted."""
    nuaa_genuine = np.vstack([g for g, _ in subjects.values()])
    nuaa_attacks = np.vstack([a for _, a in subjects.values()])
    fitted_on_nuaa = fit_recapture_model(nuaa_genuine, nuaa_attacks, source="fitted: NUAA")
    return {
        "nuaa_subject_disjoint": {
            "hand_set_default": nuaa_subject_folds(subjects, lambda g, a: DEFAULT_MODEL),
            "fitted_per_fold": nuaa_subject_folds(subjects, fit_recapture_model),
        },
        "prints_to_phone_replay": {
            "hand_set_default": prints_to_replay(DEFAULT_MODEL, nuaa_genuine, real, replay),
            "fitted_on_nuaa": prints_to_replay(fitted_on_nuaa, nuaa_genuine, real, replay),
        },
        "cue_auc": {
            "nuaa": cue_aucs(nuaa_genuine, nuaa_attacks),
            "phone_pair": cue_aucs(real, replay),
        },
    }


WINDOW_FRAMES = 15
"""One second at 15 fps: the unit a video is judged in (as the kiosk judges a face it follows)."""


@dataclass
class Windows:
    """Per one-second window of a video: the median recapture cues and the background's
    moving share (None: no textured background)."""

    cues: np.ndarray
    background: list[float | None]


def video_windows(
    faces: VideoFaces, start: int = 0, stop: int | None = None, frames: int = WINDOW_FRAMES
) -> Windows:
    """The windows of ``frames`` frames of ``faces`` between frames ``start`` and ``stop`` that
    show a face on at least half of their frames."""
    window_frames = frames
    stop = len(faces.boxes) if stop is None else stop
    window_cues: list[np.ndarray] = []
    background: list[float | None] = []
    for first in range(start, stop - window_frames + 1, window_frames):
        indices = range(first, first + window_frames)
        found = [faces.cues[i] for i in indices if faces.cues[i] is not None]
        if len(found) < window_frames / 2:
            continue
        motions = []
        for i in indices:
            box = faces.boxes[i]
            if i > 0 and box is not None:
                motions.append(frame_motion(faces.grays[i - 1], faces.grays[i], box))
        window_cues.append(np.median(np.array(found), axis=0))
        background.append(background_moving_share(motions))
    return Windows(np.array(window_cues).reshape(-1, len(CUE_NAMES)), background)


def background_motion_figures(
    real: VideoFaces, replay: VideoFaces, frames: int = WINDOW_FRAMES
) -> dict[str, Any]:
    """The background's moving share per window of ``frames`` frames, real against replay: AUC
    and the share of windows at or above :data:`BACKGROUND_ASK_SHARE`."""
    shares = {}
    for name, faces in (("real", real), ("replay", replay)):
        values = [v for v in video_windows(faces, frames=frames).background if v is not None]
        shares[name] = np.array(values)
    return {
        "window_frames": frames,
        "windows": {name: len(values) for name, values in shares.items()},
        "auc": auc(shares["real"], shares["replay"]),
        "moving_share_at_least": BACKGROUND_ASK_SHARE,
        "real_windows_moving": round(float(np.mean(shares["real"] >= BACKGROUND_ASK_SHARE)), 4),
        "replay_windows_moving": round(float(np.mean(shares["replay"] >= BACKGROUND_ASK_SHARE)), 4),
    }


def verdict_shares(
    cutoffs: PassiveCutoffs, scores: np.ndarray, background: list[float | None] | None = None
) -> dict[str, Any]:
    """How many presentations the passive stage passes (``live``), asks or refuses."""
    shares = background if background is not None else [None] * len(scores)
    return _shares([cutoffs.verdict(float(s), b) for s, b in zip(scores, shares, strict=True)])


def _shares(verdicts: list[str]) -> dict[str, Any]:
    total = len(verdicts)
    figures: dict[str, Any] = {"presentations": total}
    for verdict in ("live", "ask", "refuse"):
        figures[verdict] = round(verdicts.count(verdict) / total, 4) if total else None
    return figures


def with_head_turn(
    attack: dict[str, Any], genuine: dict[str, Any], head_turn_apcer: float | None
) -> dict[str, Any]:
    """APCER and BPCER of the passive stage alone and followed by the head-turn request: an
    attack passes when passed passively, or when asked and it passes the request (at the
    head-turn APCER measured in the same run); a genuine face is refused when refused
    passively (a recording cannot answer a request, so its failures are not counted)."""
    asked = attack["ask"] or 0.0
    return {
        "apcer_passive_only": attack["live"],
        "apcer_with_head_turn": (
            round(attack["live"] + asked * head_turn_apcer, 4)
            if head_turn_apcer is not None
            else None
        ),
        "bpcer_passive_refused": genuine["refuse"],
        "genuine_asked_to_turn": genuine["ask"],
        "genuine_passed_without_request": genuine["live"],
        "attacks": attack,
        "genuine": genuine,
    }


def printed_photo_stage(
    subjects: dict[str, tuple[np.ndarray, np.ndarray]],
    model_name: str,
    head_turn_apcer: float | None,
) -> dict[str, Any]:
    """NUAA prints against NUAA genuine photos, leave one subject out: the cut-offs from the
    other subjects' genuine photos (and, for the fitted model, its coefficients from their
    genuine photos and prints, which also lower the pass cut-off)."""
    attack_scores: list[np.ndarray] = []
    genuine_scores: list[np.ndarray] = []
    attack_verdicts: list[str] = []
    genuine_verdicts: list[str] = []
    for subject in subjects:
        train_g = np.vstack([g for s, (g, _) in subjects.items() if s != subject])
        train_a = np.vstack([a for s, (_, a) in subjects.items() if s != subject])
        if model_name == "fitted":
            model = fit_recapture_model(train_g, train_a)
            cutoffs = calibrate_cutoffs(model.scores(train_g), model.scores(train_a))
        else:
            model = DEFAULT_MODEL
            cutoffs = calibrate_cutoffs(model.scores(train_g))
        test_g, test_a = subjects[subject]
        genuine_scores.append(model.scores(test_g))
        attack_scores.append(model.scores(test_a))
        genuine_verdicts += [cutoffs.verdict(float(s)) for s in genuine_scores[-1]]
        attack_verdicts += [cutoffs.verdict(float(s)) for s in attack_scores[-1]]

    figures = with_head_turn(_shares(attack_verdicts), _shares(genuine_verdicts), head_turn_apcer)
    figures["auc"] = auc(np.concatenate(genuine_scores), np.concatenate(attack_scores))
    return figures


def screen_replay_stage(
    real: VideoFaces, replay: VideoFaces, model_name: str, head_turn_apcer: float | None
) -> dict[str, Any]:
    """``phone_pair_replay`` against ``phone_pair_real`` in one-second windows: calibrated on the
    first half of each (the fitted model also fits its coefficients there: genuine captures
    and a phone-screen capture made at installation), judged on the second halves."""
    half_real, half_replay = len(real.boxes) // 2, len(replay.boxes) // 2
    calibration_real = video_windows(real, 0, half_real)
    test_real, test_replay = video_windows(real, half_real), video_windows(replay, half_replay)
    if model_name == "fitted":
        calibration_replay = video_windows(replay, 0, half_replay)
        model = fit_recapture_model(calibration_real.cues, calibration_replay.cues)
        cutoffs = calibrate_cutoffs(
            model.scores(calibration_real.cues), model.scores(calibration_replay.cues)
        )
    else:
        model = DEFAULT_MODEL
        cutoffs = calibrate_cutoffs(model.scores(calibration_real.cues))
    real_scores, replay_scores = model.scores(test_real.cues), model.scores(test_replay.cues)
    figures = with_head_turn(
        verdict_shares(cutoffs, replay_scores, test_replay.background),
        verdict_shares(cutoffs, real_scores, test_real.background),
        head_turn_apcer,
    )
    figures["auc"] = auc(real_scores, replay_scores)
    figures["cutoffs"] = {
        "pass_below": round(cutoffs.pass_below, 4),
        "refuse_above": round(cutoffs.refuse_above, 4),
    }
    return figures


def bona_fide_stage(videos: dict[str, VideoFaces]) -> dict[str, Any]:
    """Real people in other videos (other cameras): each calibrated on its own first half,
    judged on its second half with the hand-set default, in one-second windows."""
    figures: dict[str, Any] = {}
    for name, faces in videos.items():
        half = len(faces.boxes) // 2
        calibration, test = video_windows(faces, 0, half), video_windows(faces, half)
        if not len(calibration.cues) or not len(test.cues):
            figures[name] = {"presentations": 0}
            continue
        cutoffs = calibrate_cutoffs(DEFAULT_MODEL.scores(calibration.cues))
        figures[name] = verdict_shares(cutoffs, DEFAULT_MODEL.scores(test.cues), test.background)
    return figures


def stage_costs(faces: VideoFaces, samples: int = 30) -> dict[str, float]:
    """Milliseconds on this machine: the recapture cues of one face crop and the motion of one
    frame pair (the passive stage's added cost per frame)."""
    import time

    pairs = [(i, box) for i, box in enumerate(faces.boxes) if i > 0 and box is not None][:samples]
    started = time.perf_counter()
    for _, box in pairs:
        crop = face_crop(cv2.cvtColor(faces.grays[0], cv2.COLOR_GRAY2BGR), box)
        if crop is not None:
            recapture_cues(crop)
    cues_ms = (time.perf_counter() - started) * 1000 / max(1, len(pairs))
    started = time.perf_counter()
    for i, box in pairs:
        frame_motion(faces.grays[i - 1], faces.grays[i], box)
    motion_ms = (time.perf_counter() - started) * 1000 / max(1, len(pairs))
    return {"recapture_cues_ms": round(cues_ms, 2), "frame_motion_ms": round(motion_ms, 2)}


NOT_RECAPTURED = (
    "not measured: the generated card (devtools.attack_video) warps the digital photo into the"
    " frame without a second camera, so the recapture cues would measure the source photo, and"
    " its backdrop is drawn still"
)


def passive_stage_figures(
    engine: FaceEngine,
    faces: Path,
    east_asian: Path | None,
    head_turn_apcer: dict[str, float | None],
    quick: bool,
) -> dict[str, Any]:
    """The passive stage's figures for ``kiosk bench liveness`` (see the module docstring),
    beside ``head_turn_apcer`` (per attack kind, measured in the same run)."""
    video = faces / "video"
    real = video_faces(engine, video / "phone_pair_real.mp4")
    replay = video_faces(engine, video / "phone_pair_replay.mp4")
    per_kind: dict[str, Any] = {
        "hand_held_photo": NOT_RECAPTURED,
        "still_photo": NOT_RECAPTURED,
        "screen_replay": {
            name: screen_replay_stage(real, replay, name, head_turn_apcer.get("screen_replay"))
            for name in ("hand_set", "fitted")
        },
    }
    figures: dict[str, Any] = {
        "settings": {
            "pass_quantile": PASS_QUANTILE,
            "refuse_margin_logit": REFUSE_MARGIN_LOGIT,
            "background_ask_share": BACKGROUND_ASK_SHARE,
            "window_frames": WINDOW_FRAMES,
            "default_model": DEFAULT_MODEL.to_dict(),
        },
        "per_attack_kind": per_kind,
        # 3 frames (0.2 s at 15 fps): what a kiosk has seen of a face when it is confirmed.
        "background_motion": [
            background_motion_figures(real, replay, frames) for frames in (3, WINDOW_FRAMES)
        ],
        "costs_ms": stage_costs(real),
    }
    real_rows, replay_rows = cue_rows(real.cues, 3), cue_rows(replay.cues, 3)
    if east_asian is not None:
        subjects = nuaa_cues(engine, east_asian)
        # NUAA prints: their head-turn figure is the hand-held one (the prints are among the
        # photos the bench moves by hand).
        per_kind["printed_photo"] = {
            name: printed_photo_stage(subjects, name, head_turn_apcer.get("hand_held_photo"))
            for name in ("hand_set", "fitted")
        }
        figures["recapture"] = recapture_figures(subjects, real_rows, replay_rows)
    if not quick:
        others = (
            "webcam_glasses_blinks",
            "selfie_talking",
            "studio_headshot_a",
            "studio_headshot_b",
        )
        figures["bona_fide_other_cameras"] = bona_fide_stage(
            {name: video_faces(engine, video / f"{name}.mp4") for name in others}
        )
    return figures
