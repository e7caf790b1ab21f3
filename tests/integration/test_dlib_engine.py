"""The dlib engine calls dlib directly; its results must be face_recognition's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivers.face.dlib_engine import DlibEngine
from terminal.face.images import load_rgb


def test_embeddings_are_those_of_face_recognition(faces_dir: Path) -> None:
    import face_recognition

    engine = DlibEngine()
    for photo in ["people/barack_obama/01.jpg", "people/joe_biden/01.jpg"]:
        rgb = load_rgb(faces_dir / photo)
        reference_boxes = face_recognition.face_locations(rgb)
        reference = face_recognition.face_encodings(rgb, reference_boxes, model="small")
        ours = engine.encode(rgb, reference_boxes)
        assert len(ours) == len(reference) == 1
        assert ours[0].dtype == np.float32
        np.testing.assert_allclose(ours[0], reference[0], atol=1e-5)
        boxes = engine.detect(rgb, min_face_px=80)
        assert len(boxes) == 1
        # Same face found (boxes may differ by the resize used to reach min_face_px).
        top, right, bottom, left = boxes[0]
        ref_top, ref_right, ref_bottom, ref_left = reference_boxes[0]
        assert abs((top + bottom) - (ref_top + ref_bottom)) / 2 < 0.2 * (ref_bottom - ref_top)
        assert abs((left + right) - (ref_left + ref_right)) / 2 < 0.2 * (ref_right - ref_left)
