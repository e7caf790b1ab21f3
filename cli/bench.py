"""``kiosk bench``: recognition, QR, liveness and sync, each beside its naive baseline."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli.main import CliContext, pass_cli
from common.progress import Steps

DEFAULT_FACES = Path("../shared/faces")


def _default_faces() -> Path:
    value = os.environ.get("KIOSK_TEST_FACES")
    return Path(value) if value else DEFAULT_FACES


def _figure(value: Any, unit: str) -> str:
    return "-" if value is None else f"{value:.4g} {unit}"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few readable lines: each figure for the pipeline and the naive loop side by side."""
    host = result["host"]
    lines = [f"host: {host['cpu_count']} CPUs, {host['machine']}, quick={result['quick']}"]
    rows = [
        ("clip fps", ("fps", "fps"), "fps"),
        ("latency p50", ("latency_s", "p50"), "s"),
        ("latency p95", ("latency_s", "p95"), "s"),
        ("CPU/check-in", ("latency_s", "cpu_s_per_checkin"), "CPU-s"),
        ("idle CPU", ("idle", "cpu_s_per_min"), "CPU-s/min"),
        ("idle CPU", ("idle", "percent_of_one_core"), "% core"),
    ]
    for label, (group, key), unit in rows:
        pipeline, naive = result["pipeline"][group][key], result["naive"][group][key]
        lines.append(
            f"{label:<14} pipeline {_figure(pipeline, unit):<18} naive {_figure(naive, unit)}"
        )
    for size, pipeline_ms in result["pipeline"]["matching_ms_per_probe"].items():
        naive_ms = result["naive"]["matching_ms_per_probe"][size]
        label = f"match {size}"
        lines.append(
            f"{label:<14} pipeline {_figure(pipeline_ms, 'ms'):<18} naive {_figure(naive_ms, 'ms')}"
        )
    pipeline_mb, naive_mb = result["pipeline"]["peak_rss_mb"], result["naive"]["peak_rss_mb"]
    lines.append(
        f"{'peak RSS':<14} pipeline {_figure(pipeline_mb, 'MiB'):<18} naive "
        f"{_figure(naive_mb, 'MiB')}"
    )
    return lines


def _faces_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--faces",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        default=_default_faces,
        show_default="$KIOSK_TEST_FACES or ../shared/faces",
        help=f"Face data folder ({what}).",
    )


@click.group("bench")
def bench_group() -> None:
    """Measure the terminal on this machine."""


@bench_group.command("recognition")
@_faces_option("people/<identity>/*.jpg and video/short_hamilton_clip.mp4")
@click.option(
    "--engine",
    type=click.Choice(["dlib", "sface"]),
    help="The pipeline's face engine (default: the configured one); the naive loop is dlib.",
)
@click.option("--quick", is_flag=True, help="Tiny inputs (under a minute): a CI smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_cli
def recognition(
    ctx: CliContext, faces: Path, engine: str | None, quick: bool, as_json: bool
) -> None:
    """Pipeline vs face_recognition's naive webcam loop: fps, latency, idle CPU, matching, RSS.

    Both are measured in the same run, each in its own process; only their ratio is
    meaningful on a busy machine. The pipeline uses the configured [recognition] settings.
    """
    from devtools.bench.recognition import RECOGNITION_STEPS, run_benchmark

    settings = ctx.config.recognition
    if engine is not None:
        settings = settings.model_copy(update={"engine": engine})
    steps = Steps("bench recognition", len(RECOGNITION_STEPS))
    result = run_benchmark(faces, quick, settings, steps.start)
    steps.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(summary_lines(result)))


@bench_group.command("qr")
@click.option(
    "--samples", type=click.IntRange(1, 1000), default=40, show_default=True,
    help="Frames per condition.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def qr(samples: int, as_json: bool) -> None:
    """pyzbar (ZBar) against zxing-cpp on the same generated frames: decode rate and cost."""
    from devtools.bench.qr import bench_qr
    from drivers.qr.pyzbar_decoder import PyzbarDecoder
    from drivers.qr.zxing_decoder import ZxingDecoder

    result = bench_qr({"pyzbar": PyzbarDecoder(), "zxing": ZxingDecoder()}, samples)
    if as_json:
        click.echo(json.dumps(result))
        return
    for name, figures in result["decoders"].items():
        click.echo(
            f"{name:<7} decoded {figures['decode_rate']:.1%} of frames,"
            f" {figures['empty_frame_ms']} ms per empty frame"
        )


@bench_group.command("ui")
@click.option(
    "--results", type=click.IntRange(2, 1000), default=30, show_default=True,
    help="Results pushed to each page.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ui(results: int, as_json: bool) -> None:
    """Decision to screen: the kiosk page (pushed) against a page polling every 500 ms."""
    from devtools.bench.ui import bench_ui

    result = bench_ui(results)
    if as_json:
        click.echo(json.dumps(result))
        return
    for name in ("kiosk_page_sse", "naive_poll_500ms"):
        figures = result[name]
        click.echo(
            f"{name:<17} p50 {figures.get('p50_ms')} ms, p95 {figures.get('p95_ms')} ms,"
            f" max {figures.get('max_ms')} ms ({figures['results_shown']} results)"
        )


@bench_group.command("liveness")
@_faces_option("people/ photos and video/phone_pair_*.mp4")
@click.option(
    "--east-asian",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="East Asian data folder (nuaa_printed_photo_attacks/, nuaa_webcam/).",
)
@click.option("--quick", is_flag=True, help="A few inputs (under a minute): a CI smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_cli
def liveness(
    ctx: CliContext, faces: Path, east_asian: Path | None, quick: bool, as_json: bool
) -> None:
    """Head-turn requests against photo and replay attacks and real people: APCER beside the
    kiosk without liveness, and how far real and fake faces move sideways; in the same run the
    passive stage (recapture score, background motion): APCER and BPCER per attack kind."""
    from devtools.bench.liveness import run_liveness_benchmark
    from terminal.checkin.engines import create_engine

    engine = create_engine(ctx.config)
    steps = Steps("bench liveness")
    result = run_liveness_benchmark(
        engine, ctx.config.liveness, faces, east_asian, quick, steps.start
    )
    steps.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for kind, figures in result["attacks"].items():
        click.echo(
            f"{kind:<16} APCER {figures['apcer']} ({figures['passed']}/{figures['requests']}"
            f" requests) vs {figures['apcer_without_liveness']} without liveness;"
            f" peak sideways p95 {figures['peak_sideways']['p95']}"
        )
    for name, figures in result["bona_fide_unprompted"].items():
        click.echo(
            f"{name:<22} turns left {figures['peak_sideways_left']},"
            f" right {figures['peak_sideways_right']}"
        )
    for kind, models in result["passive_stage"]["per_attack_kind"].items():
        if isinstance(models, str):
            click.echo(f"passive {kind:<16} {models[:60]}...")
            continue
        for model, figures in models.items():
            click.echo(
                f"passive {kind:<16} {model:<9} APCER {figures['apcer_passive_only']}"
                f" (with head turn {figures['apcer_with_head_turn']}),"
                f" BPCER {figures['bpcer_passive_refused']},"
                f" genuine asked {figures['genuine_asked_to_turn']}"
            )
    for mode in ("passive", "strict"):
        figures = result["first_frame_to_checkin"][mode]["all"]
        click.echo(
            f"first frame to check-in, {mode:<7}: p50 {figures['seconds_p50']} s"
            f" ({figures['checked_in']}/{figures['visits']} real visits checked in,"
            f" {figures['checked_in_without_request']} without a request;"
            f" {figures['cpu_s_per_visit']} CPU-s per visit)"
        )


def threads_summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per setting and condition: CPU and wall per frame, and their ratios to the
    libraries' defaults."""
    host = result["host"]
    lines = [f"host: {host['cpu_count']} CPUs, {host['machine']}, quick={result['quick']}"]
    for condition in result["conditions"]:
        for run in result["runs"]:
            figures = run[condition]
            lines.append(
                f"{condition:<9} cv {run['cv_threads']!s:<7} blas {run['blas_threads']!s:<7}"
                f" CPU {_figure(figures['cpu_s_per_frame'], 's/frame'):<14}"
                f" (x{figures['cpu_s_ratio_to_default']:.2f})"
                f" wall {_figure(figures['wall_s_per_frame'], 's/frame'):<14}"
                f" (x{figures['wall_s_ratio_to_default']:.2f})"
                f" match {_figure(figures['match_cpu_ms'], 'ms')}"
            )
    return lines


@bench_group.command("threads")
@_faces_option("video/webcam_glasses_blinks.mp4")
@click.option(
    "--contention", type=click.IntRange(0, 64), default=None,
    help="Busy processes competing in the second pass (default: one per core; 0: none).",
)  # fmt: skip
@click.option("--quick", is_flag=True, help="Two settings, a few frames: a CI smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_cli
def threads(
    ctx: CliContext, faces: Path, contention: int | None, quick: bool, as_json: bool
) -> None:
    """OpenCV threads (default, 1, 2, 4) x OpenBLAS threads (default, 1, 2): CPU-seconds and
    wall seconds per frame of detect + embed + match, alone and beside busy processes, each
    beside the libraries' defaults in the same run (the kiosk's: [recognition] cv_threads,
    and OPENBLAS_NUM_THREADS, default 1)."""
    from devtools.bench.threads import run_threads_benchmark

    recognition = ctx.config.recognition.model_dump_json()
    steps = Steps("bench threads")
    result = run_threads_benchmark(faces, recognition, quick, contention, steps.start)
    steps.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(threads_summary_lines(result)))


def sync_summary_lines(result: dict[str, Any]) -> list[str]:
    """A few readable lines: the kiosk's sync beside the naive loop, then the backlog memory."""
    lines = [f"host: {result['host']['cpu_count']} CPUs, {result['events']} events per side"]
    for side in ("kiosk", "naive"):
        figures = result[side]
        rate, drain = _figure(figures["events_per_s"], "events/s"), _figure(figures["drain_s"], "s")
        peak = _figure(figures["peak_rss_mb"], "MiB")
        lines.append(f"{side:<6} {rate:<16} drained in {drain:<10} peak RSS {peak}")
    lines.append(f"speedup {_figure(result['speedup'], 'x')}")
    for size, figures in (result["backlog_memory"] or {}).items():
        lines.append(f"backlog {size:>9}: peak RSS {_figure(figures['peak_rss_mb'], 'MiB')}")
    return lines


@bench_group.command("sync")
@click.option(
    "--events", type=click.IntRange(100, 1_000_000), default=100_000, show_default=True,
    help="Events each side drains.",
)  # fmt: skip
@click.option(
    "--batch-size", type=click.IntRange(1, 500), default=100, show_default=True,
    help="The kiosk's [mqtt] batch_size.",
)  # fmt: skip
@click.option("--quick", is_flag=True, help="1,000 events, no backlog memory (a CI smoke test).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def sync(events: int, batch_size: int, quick: bool, as_json: bool) -> None:
    """The kiosk's sync against the naive one-publish-per-event loop: draining a backlog to a
    local mosquitto and the reference receiver (events/s, time, peak RSS), and memory while
    holding 10,000 and 1,000,000 events. About 8-12 minutes on 2 cores; --quick a few seconds."""
    from devtools.bench.sync import run_benchmark

    steps = Steps("bench sync")
    result = run_benchmark(events, quick, batch_size, steps.start)
    steps.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(sync_summary_lines(result)))


@bench_group.command("masks")
@click.option(
    "--faces",
    "folders",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Labelled photo set (labels.csv); repeat it to measure several as one. Default:"
    " $KIOSK_TEST_FACES and $KIOSK_TEST_FACES_EAST_ASIAN (or ../shared/faces and"
    " ../shared/faces_east_asian). The first one's video/*.mp4 are the unmasked videos.",
)
@click.option("--include", multiple=True, metavar="PREFIX", help="Only paths starting so.")
@click.option(
    "--folds", default=5, show_default=True, type=click.IntRange(2, 50),
    help="Subject-disjoint folds, as kiosk calibrate --open-set --folds.",
)  # fmt: skip
@click.option("--seed", default=0, show_default=True, help="Folds, strangers and masks.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_cli
def masks(
    ctx: CliContext,
    folders: tuple[Path, ...],
    include: tuple[str, ...],
    folds: int,
    seed: int,
    as_json: bool,
) -> None:
    """Recognition with synthetic surgical masks against without (same folds and thresholds):
    right person, wrong person and strangers accepted; and the mask detector's detection and
    false-alarm rates (cut-off chosen on half of the people, counted on the other half, and
    on the real videos)."""
    from devtools.bench.masks import run_masks_benchmark, summary
    from terminal.checkin.engines import create_engine, effective_tolerance

    if not folders:
        east_asian = os.environ.get("KIOSK_TEST_FACES_EAST_ASIAN")
        defaults = [_default_faces(), Path(east_asian or "../shared/faces_east_asian")]
        folders = tuple(folder for folder in defaults if folder.is_dir())
        if not folders:
            raise click.UsageError("give --faces DIR (a labelled photo set)")
    engine = create_engine(ctx.config)
    configured = ctx.config.recognition.margin
    margin = configured if configured is not None else engine.default_margin
    in_use = (effective_tolerance(ctx.config, engine), margin)

    def progress(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            click.echo(f"embedded {done}/{total} photos, bare and masked", err=True)

    result = run_masks_benchmark(
        engine, folders, in_use, folds, seed, include=include,
        video_dir=folders[0] / "video", progress=progress,
    )  # fmt: skip
    click.echo(json.dumps(result, indent=2) if as_json else "\n".join(summary(result)))


@bench_group.command("ingest")
@click.option(
    "--rows", type=click.IntRange(0, 10_000_000), default=1_000_000, show_default=True,
    help="Events already in the full table.",
)  # fmt: skip
@click.option(
    "--events", type=click.IntRange(10, 1_000_000), default=5000, show_default=True,
    help="Events stored and measured, per table and batch size.",
)  # fmt: skip
@click.option(
    "--batch", "batches", type=click.IntRange(1, 1000), multiple=True, default=(1, 50),
    show_default=True, help="Events per stored batch (repeatable).",
)  # fmt: skip
@click.option("--no-postgresql", is_flag=True, help="SQLite only.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def ingest(rows: int, events: int, batches: tuple[int, ...], no_postgresql: bool,
           as_json: bool) -> None:  # fmt: skip
    """The receiver's cost per stored event (CPU microseconds, kilobytes written) in an empty
    table and in one of ROWS events, on SQLite and on a throwaway PostgreSQL server, with the
    random event ids of earlier kiosks (the baseline) and today's time-ordered ones."""
    from devtools.bench.ingest import run_ingest_benchmark

    result = run_ingest_benchmark(rows, events, batches, postgresql=not no_postgresql)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for kind in ("sqlite", "postgresql"):
        for id_kind, by_size in result.get(kind, {}).items():
            if not isinstance(by_size, dict) or str(rows) not in by_size:
                continue
            for size in ("0", str(rows)):
                for batch, figures in by_size[size].items():
                    click.echo(
                        f"{kind:<10} {id_kind} ids {int(size):>9,} rows {batch:<9}"
                        f" {figures['cpu_us_per_event']:>7} CPU-us/event"
                        f" {figures['kb_written_per_event']:>7} KB written/event"
                        f" {figures['kb_to_disk_per_event']:>7} KB to disk/event"
                    )


@bench_group.command("report")
@click.option(
    "--people", type=click.IntRange(1, 100_000), default=2000, show_default=True,
    help="People at the site.",
)  # fmt: skip
@click.option(
    "--days", type=click.IntRange(1, 1000), default=250, show_default=True,
    help="Working days (Monday to Friday) of check-ins, all in the report.",
)  # fmt: skip
@click.option(
    "--terminals", type=click.IntRange(1, 100), default=10, show_default=True,
    help="Terminals (doors) the check-ins are made at.",
)  # fmt: skip
@click.option(
    "--db-url", help="An empty receiver database to fill (default: SQLite in a temporary folder)."
)
@click.option(
    "--postgresql", is_flag=True, help="Into a database on a throwaway PostgreSQL server."
)
@click.option("--seed", default=0, show_default=True, help="The data set's random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def report(
    people: int,
    days: int,
    terminals: int,
    db_url: str | None,
    postgresql: bool,
    seed: int,
    as_json: bool,
) -> None:
    """The shift report of DAYS working days of a PEOPLE-person site: CPU-seconds and peak
    memory of the report as it was (all events in memory) and of the streamed report (CSV,
    JSON, text), each in a process of its own, and whether the CSV files are identical."""
    from devtools.bench.report import run_report_benchmark

    def progress(message: str) -> None:
        click.echo(message, err=True)

    if postgresql and db_url:
        raise click.UsageError("give --db-url or --postgresql, not both")
    result = run_report_benchmark(people, days, terminals, db_url, seed, progress, postgresql)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{result['events']} events, {result['rows']} rows ({people} people, {days} days,"
        f" {terminals} terminals), built in {result['build_s']} s; identical: {result['identical']}"
    )
    runs = [("baseline csv", result["baseline_csv"])]
    runs += [(f"streamed {name}", figures) for name, figures in result["streamed"].items()]
    for label, figures in runs:
        click.echo(
            f"{label:<14} {figures['cpu_s']:>8} CPU-s {figures['peak_rss_mb']:>8} MiB peak"
            f" {figures['wall_s']:>8} s"
        )


@bench_group.command("templates")
@click.option(
    "--people", type=click.IntRange(1, 100_000), default=2000, show_default=True,
    help="Enrolled people, 3 templates of dim 128 each.",
)  # fmt: skip
@click.option(
    "--repeats", type=click.IntRange(1, 100), default=10, show_default=True,
    help="Timed rounds of each measurement (the best is reported).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def templates(people: int, repeats: int, as_json: bool) -> None:
    """Face templates sealed at rest (AES-256-GCM) against plain ones: CPU-seconds to read the
    gallery's matrix from SQLite both ways, to seal every template, and the files' sizes."""
    from devtools.bench.templates import bench_templates, summary_lines

    result = bench_templates(people, repeats)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(summary_lines(result)))
