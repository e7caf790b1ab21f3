"""``kiosk bench templates`` on a tiny gallery: every figure is there and positive (no timing
is asserted), and the sealed read gives the plain read's matrix."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from devtools.bench.templates import bench_templates, summary_lines


def test_the_templates_bench_reports_every_figure() -> None:
    result = bench_templates(people=20, repeats=2)
    assert result["templates"] == 60
    assert result["same_matrix"] is True
    for key in ("plain_read", "sealed_read", "seal_all"):
        for figure in ("cpu_s", "cpu_s_median", "us_per_template"):
            assert result[key][figure] > 0, (key, figure)
    assert result["ratio_sealed_to_plain_read"] > 0
    assert result["blob_bytes"] == {"plain": 512, "sealed": 546}
    assert result["db_bytes"]["plain"] > 0
    assert result["db_bytes"]["sealed"] >= result["db_bytes"]["plain"]
    assert result["db_bytes"]["ratio"] > 0
    assert len(summary_lines(result)) == 6


def test_kiosk_bench_templates_prints_json() -> None:
    run = CliRunner().invoke(
        cli, ["bench", "templates", "--people", "20", "--repeats", "1", "--json"]
    )
    assert run.exit_code == 0, run.output
    result = json.loads(run.output)
    assert result["people"] == 20
    assert {"plain_read", "sealed_read", "seal_all", "db_bytes"} <= result.keys()


def test_kiosk_bench_templates_prints_lines() -> None:
    run = CliRunner().invoke(cli, ["bench", "templates", "--people", "20", "--repeats", "1"])
    assert run.exit_code == 0, run.output
    assert "sealed read" in run.output and "database file" in run.output
