"""The recapture cues, the logistic score, the per-site fit and cut-offs, and background
motion, on generated images (real footage: tests/integration/test_recapture.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from terminal.face.recapture import (
    BACKGROUND_ASK_SHARE,
    CROP_PX,
    CUE_NAMES,
    DEFAULT_MODEL,
    FrameMotion,
    RecaptureModel,
    background_moving_share,
    calibrate_cutoffs,
    face_crop,
    fit_recapture_model,
    frame_motion,
    recapture_cues,
)


def textured(seed: int, size: int = 240) -> np.ndarray:
    """A sharp, colourful BGR image: noise at every scale."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    coarse = cv2.resize(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), (size, size))
    return cv2.addWeighted(image, 0.4, coarse, 0.6, 0)


def recaptured(image: np.ndarray) -> np.ndarray:
    """What a second camera makes of ``image``: blurred, flatter and hazier."""
    blurred = cv2.GaussianBlur(image, (0, 0), 2.0)
    return cv2.convertScaleAbs(blurred, alpha=0.6, beta=60)


def test_a_crop_is_square_and_every_cue_is_finite() -> None:
    crop = face_crop(textured(0), (40, 200, 200, 40))
    assert crop is not None and crop.shape == (CROP_PX, CROP_PX, 3)
    cues = recapture_cues(crop)
    assert cues.shape == (len(CUE_NAMES),) and np.isfinite(cues).all()
    assert face_crop(textured(0), (300, 400, 310, 390)) is None


def test_the_hand_set_default_scores_a_blurred_flat_copy_as_more_recaptured() -> None:
    for seed in range(5):
        crop = face_crop(textured(seed), (40, 200, 200, 40))
        assert crop is not None
        assert DEFAULT_MODEL.score(recaptured(crop)) > DEFAULT_MODEL.score(crop)


def test_a_fitted_model_separates_its_classes_and_survives_storage() -> None:
    crops = [face_crop(textured(seed), (40, 200, 200, 40)) for seed in range(12)]
    genuine = np.array([recapture_cues(c) for c in crops if c is not None])
    attacks = np.array([recapture_cues(recaptured(c)) for c in crops if c is not None])
    model = fit_recapture_model(genuine, attacks, source="fitted: test")
    assert model.scores(attacks).min() > model.scores(genuine).max()
    stored = RecaptureModel.from_dict(model.to_dict())
    assert stored == model
    assert np.allclose(stored.scores(genuine), model.scores(genuine))


def test_a_model_with_unknown_cues_or_ragged_coefficients_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        RecaptureModel(("sharpness",), (0.0,), (1.0,), (1.0,))
    with pytest.raises(ValueError, match="same length"):
        RecaptureModel(("laplacian",), (0.0, 1.0), (1.0,), (1.0,))


def test_cutoffs_pass_most_genuine_refuse_only_far_beyond_them_and_ask_between() -> None:
    genuine = np.linspace(0.05, 0.5, 100)
    cutoffs = calibrate_cutoffs(genuine)
    assert cutoffs.verdict(0.1) == "live"
    assert cutoffs.verdict(0.6) == "ask"
    assert cutoffs.verdict(0.99) == "refuse"
    assert 0.45 < cutoffs.pass_below < 0.5 < cutoffs.refuse_above
    # A moving background never passes a face outright, nor refuses one.
    assert cutoffs.verdict(0.1, BACKGROUND_ASK_SHARE) == "ask"
    assert cutoffs.verdict(0.1, 0.0) == "live"
    # An attack captured at installation that scores like a live face lowers the pass cut-off.
    with_attacks = calibrate_cutoffs(genuine, [0.3, 0.9])
    assert with_attacks.pass_below < 0.3 and with_attacks.verdict(0.3) == "ask"
    with pytest.raises(ValueError):
        calibrate_cutoffs([])


def test_the_background_of_a_moved_card_moves_and_a_fixed_cameras_does_not() -> None:
    scene = textured(7, 480)[:, :, 0]
    box = (160, 300, 320, 180)
    still = [frame_motion(scene, scene, box) for _ in range(10)]
    assert background_moving_share(still) == 0.0
    shifted = np.roll(scene, 3, axis=1)
    moved = [frame_motion(scene, shifted, box) for _ in range(10)]
    assert background_moving_share(moved) == 1.0
    assert background_moving_share([FrameMotion((1.0, 0.0), None)]) is None
