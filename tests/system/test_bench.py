"""``kiosk bench recognition --quick``: a smoke test of the benchmark's shape, never its figures."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.bench import summary_lines
from cli.main import main

SIDE_FIGURES = {
    "fps": {"frames", "seconds", "fps", "face_work_frames", "checkins"},
    "latency_s": {
        "appearances",
        "committed",
        "missed",
        "p50",
        "p95",
        "samples",
        "cpu_s_per_checkin",
    },
    "idle": {"seconds", "face_work_frames", "cpu_s", "cpu_s_per_min", "percent_of_one_core"},
}


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


@pytest.fixture(scope="module")
def quick_result(faces_dir: Path) -> dict[str, Any]:
    """The JSON printed by one quick run (about 30 s: both sides load dlib)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["bench", "recognition", "--quick", "--json", "--faces", str(faces_dir)])
    assert status == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_quick_bench_reports_every_figure_for_both_sides(quick_result: dict[str, Any]) -> None:
    assert quick_result["quick"] is True
    assert {"cpu_count", "machine"} <= quick_result["host"].keys()
    assert {"fps", "latency", "idle_cpu", "matching", "peak_rss", "naive"} <= set(
        quick_result["method"]
    )
    sizes = [str(size) for size in quick_result["settings"]["gallery_sizes"]]
    for side in ("pipeline", "naive"):
        figures = quick_result[side]
        for group, keys in SIDE_FIGURES.items():
            assert keys <= figures[group].keys(), (side, group)
        assert figures["fps"]["frames"] > 0
        assert figures["latency_s"]["committed"] > 0  # so p50/p95 are numbers
        assert list(figures["matching_ms_per_probe"]) == sizes
        assert isinstance(figures["peak_rss_mb"], float)
        numbers = list(_numbers(figures))
        assert numbers and all(math.isfinite(n) and n >= 0 for n in numbers), side


def test_summary_shows_both_sides_on_every_line(quick_result: dict[str, Any]) -> None:
    lines = summary_lines(quick_result)
    assert lines[0].startswith("host: ")
    assert all("pipeline" in line and "naive" in line for line in lines[1:])


def test_bench_qr_reports_both_decoders_on_the_same_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "qr", "--samples", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["decoders"]) == {"pyzbar", "zxing"}
    for figures in result["decoders"].values():
        assert 0.0 <= figures["decode_rate"] <= 1.0
        assert figures["empty_frame_ms"] >= 0
        assert figures["clean_6px_modules"]["frames"] == 3


def test_bench_liveness_reports_attacks_beside_no_liveness(
    capsys: pytest.CaptureFixture[str], faces_dir: Path, east_asian_dir: Path
) -> None:
    args = ["bench", "liveness", "--quick", "--json", "--faces", str(faces_dir)]
    assert main([*args, "--east-asian", str(east_asian_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["attacks"]) == {"hand_held_photo", "still_photo", "screen_replay"}
    for kind, figures in result["attacks"].items():
        assert figures["requests"] > 0, kind
        assert 0 <= figures["passed"] <= figures["requests"], kind
        assert figures["apcer_without_liveness"] is not None, kind
    real = result["bona_fide_unprompted"]["phone_pair_real"]
    assert real["frames"] > 0 and real["requests"] > 0
    # The passive stage, in the same run, per attack kind beside the head-turn figures.
    passive = result["passive_stage"]
    for kind in ("printed_photo", "screen_replay"):
        for model in ("hand_set", "fitted"):
            figures = passive["per_attack_kind"][kind][model]
            assert 0 <= figures["apcer_passive_only"] <= 1, (kind, model)
            assert figures["apcer_with_head_turn"] is not None, (kind, model)
            assert 0 <= figures["bpcer_passive_refused"] <= 1, (kind, model)
    assert passive["recapture"]["nuaa_subject_disjoint"]["hand_set_default"]["auc"] is not None
    assert all(f["auc"] is not None for f in passive["background_motion"])
    # First frame to check-in: the same real visits with the passive stage and with the head turn.
    timing = result["first_frame_to_checkin"]
    for mode in ("passive", "strict"):
        visits = timing[mode]["all"]
        assert visits["visits"] > 0 and 0 <= visits["checked_in"] <= visits["visits"], mode
    assert timing["strict"]["all"]["checked_in_without_request"] == 0
    assert timing["passive"]["all"]["checked_in_without_request"] > 0


def test_bench_ui_reports_the_kiosk_page_beside_the_polling_page(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.browser_tools import chromium_path

    chromium_path()  # skips, or fails under KIOSK_TEST_BROWSER=1, without Chromium
    assert main(["bench", "ui", "--results", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["results"] == 3
    for side in ("kiosk_page_sse", "naive_poll_500ms"):
        figures = result[side]
        assert figures["results_shown"] == 3, side
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"], side


def test_bench_threads_reports_every_setting_beside_the_library_defaults(
    capsys: pytest.CaptureFixture[str], faces_dir: Path
) -> None:
    args = ["bench", "threads", "--quick", "--json", "--contention", "1"]
    assert main([*args, "--faces", str(faces_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"cpu_count", "machine"} <= result["host"].keys()
    assert result["baseline"] == {"cv_threads": "default", "blas_threads": "default"}
    assert result["conditions"] == ["alone", "contended"]
    settings = {(run["cv_threads"], run["blas_threads"]) for run in result["runs"]}
    assert ("default", "default") in settings and len(settings) == len(result["runs"]) > 1
    for run in result["runs"]:
        for condition in result["conditions"]:
            figures = run[condition]
            assert figures["frames"] > 0 and figures["faces"] > 0
            for key in ("cpu_s_per_frame", "wall_s_per_frame", "match_cpu_ms"):
                assert math.isfinite(figures[key]) and figures[key] > 0, (run, key)
            assert figures["cpu_s_ratio_to_default"] > 0
            assert figures["wall_s_ratio_to_default"] > 0
            if run["cv_threads"] != "default":
                assert figures["cv2_threads_in_effect"] == run["cv_threads"]
