"""``kiosk calibrate``: how well the configured face engine separates the people of a photo set.

The engine is the config's ``[recognition] engine`` (``--engine`` overrides it for one run);
tolerance and margin are ``--tolerance``/``--margin``, else the config's, else the engine's
defaults. ``--json`` prints one object with the keys

- ``engine``: ``name``, ``model_digest``, ``tolerance``, ``margin``;
- ``set``: ``folder``, ``include``, ``photos``, ``embedded``, ``people``, ``no_face`` (paths),
  ``unreadable`` (one ``path: reason`` line each);
- ``genuine`` / ``impostor``: pair distance distributions (``count``, ``min``, ``p1``...``p99``,
  ``max``);
- ``thresholds``: one operating point per ``--far`` (``far_target``, ``threshold``,
  ``false_accepts``, ``far``, ``true_accepts``, ``tar``; null without impostor pairs);
- ``at_tolerance``: the same at the tolerance in use;
- ``open_set``: null, or with ``--open-set``: ``seed``, ``enroll_per_person``, ``strangers``,
  ``result`` (at the tolerance in use) and ``sweep`` (a list of results), each result with
  ``tolerance``, ``margin``, ``enrolled_people``, ``templates``, ``genuine_probes``,
  ``genuine_correct``, ``correct_rate``, ``genuine_wrong``, ``genuine_rejected``,
  ``stranger_probes``, ``strangers_accepted``, ``stranger_accept_rate``, ``mistakes``;
- ``cross_validation``: null (also with fewer than 2 people), or with ``--open-set``:
  ``folds`` (``--folds``, at most one per person), ``seed``, ``safety`` and
  ``rules``, one per rule measured (``in_use`` and ``live``, or with ``--compare`` the
  whole ablation of :func:`devtools.open_set.ablation_rules`): ``name``, ``description``,
  ``pooled``, ``by_subset`` (the pooled held-out counts per top-level subset of the photo
  paths, e.g. ``faces_east_asian/lfw``) and ``folds`` (each with ``fold``,
  ``held_out_people``, ``tolerance``, ``margin``, ``training``, ``held_out``, ``by_subset``
  and ``quality``: the quality levers' ``[face px bound or floor, tolerance, margin]``); a count
  record has ``genuine_probes``, ``genuine_correct``, ``genuine_wrong``, ``stranger_probes``,
  ``strangers_accepted``, ``asked_again`` (refused by a quality floor: asked for a better
  look) and ``correct_rate``. Thresholds are chosen on the other folds'
  people (:func:`devtools.open_set.choose_thresholds`) and counts are the held-out people's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from cli.calibrate_liveness import run_liveness_calibration
from cli.main import CliContext, pass_cli
from common.errors import KioskError
from devtools.calibration import (
    DEFAULT_FARS,
    EmbeddedSet,
    OperatingPoint,
    describe,
    embed_labelled_set,
    operating_point,
    pair_distances,
    read_labelled_sets,
    threshold_at_far,
)
from devtools.open_set import (
    DEFAULT_FOLDS,
    DEFAULT_SAFETY,
    Counts,
    CrossValidation,
    OpenSetOutcome,
    ablation_rules,
    cross_validate,
    default_sweep,
    evaluate_open_set,
    split_open_set,
    sweep_tolerances,
)
from drivers.face.base import FaceEngine
from terminal.checkin.engines import create_engine, effective_tolerance

PROGRESS_EVERY = 50
DEFAULT_RULES = ("in_use", "live")
"""Cross-validated without ``--compare``: the thresholds in use, and thresholds chosen per fold."""
BARE_COSINE_SIMILARITY = 0.45
"""The bare model of the ablation: SFace's one cosine threshold, no margin, gates or voting."""


def _counts(counts: Counts | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    record: dict[str, Any] = dataclasses.asdict(counts)
    record["correct_rate"] = counts.correct_rate
    return record


def _cross_validation(result: CrossValidation) -> dict[str, Any]:
    return {
        "name": result.rule.name,
        "description": result.rule.description,
        "pooled": _counts(result.pooled),
        "by_subset": {name: _counts(counts) for name, counts in result.pooled_by_subset.items()},
        "folds": [
            {
                "fold": fold.fold,
                "held_out_people": fold.held_out_people,
                "tolerance": fold.tolerance,
                "margin": fold.margin,
                "training": _counts(fold.training),
                "held_out": _counts(fold.held_out),
                "by_subset": {name: _counts(counts) for name, counts in fold.by_subset.items()},
                "quality": [list(lever) for lever in fold.quality],
            }
            for fold in result.folds
        ],
    }


def _outcome(outcome: OpenSetOutcome) -> dict[str, Any]:
    record = dataclasses.asdict(outcome)
    record["mistakes"] = list(outcome.mistakes)
    record["correct_rate"] = outcome.correct_rate
    record["genuine_rejected"] = outcome.genuine_rejected
    record["stranger_accept_rate"] = outcome.stranger_accept_rate
    return record


def _point(point: OperatingPoint | None) -> dict[str, Any] | None:
    return None if point is None else dataclasses.asdict(point)


def _progress(done: int, total: int) -> None:
    if done % PROGRESS_EVERY == 0 or done == total:
        click.echo(f"embedded {done}/{total} photos", err=True)


def _set_summary(
    folders: tuple[Path, ...], include: tuple[str, ...], photos: int, embedded: EmbeddedSet
) -> dict[str, Any]:
    return {
        "folder": " + ".join(str(folder) for folder in folders),
        "include": list(include),
        "photos": photos,
        "embedded": len(embedded.photos),
        "people": embedded.people,
        "no_face": embedded.no_face,
        "unreadable": embedded.unreadable,
    }


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.2f} %)" if whole else "-"


def _print_report(report: dict[str, Any]) -> None:
    engine, photo_set = report["engine"], report["set"]
    click.echo(
        f"engine {engine['name']} (model {engine['model_digest'][:12]}):"
        f" tolerance {engine['tolerance']}, margin {engine['margin']}"
    )
    click.echo(
        f"set {' '.join([photo_set['folder'], *photo_set['include']])}: {photo_set['photos']}"
        f" photos, {photo_set['embedded']} embedded, {photo_set['people']} people;"
        f" {len(photo_set['no_face'])} without a face, {len(photo_set['unreadable'])} unreadable"
    )
    for path in photo_set["no_face"]:
        click.echo(f"  no face: {path}")
    for line in photo_set["unreadable"]:
        click.echo(f"  unreadable: {line}")
    columns = ["count", "min", "p1", "p5", "p25", "p50", "p75", "p95", "p99", "max"]
    click.echo("\npairs     " + "".join(f"{name:>8}" for name in columns))
    for kind in ("genuine", "impostor"):
        values = report[kind]
        click.echo(f"{kind:<10}" + "".join(f"{values.get(name, '-'):>8}" for name in columns))
    click.echo(f"\n{'operating point':<22}{'threshold':>10}  {'false accepts (FAR)':<28}TAR")
    rows = [(f"FAR <= {point['far_target']:g}", point) for point in report["thresholds"] if point]
    rows.append(("tolerance in use", report["at_tolerance"]))
    impostors, genuines = report["impostor"]["count"], report["genuine"]["count"]
    for label, point in rows:
        click.echo(
            f"{label:<22}{point['threshold']:>10.4f}  "
            f"{_percent(point['false_accepts'], impostors):<28}"
            f"{_percent(point['true_accepts'], genuines)}"
        )
    if report["open_set"]:
        _print_open_set(report["open_set"])
    if report["cross_validation"]:
        _print_cross_validation(report["cross_validation"])


def _print_open_set(open_set: dict[str, Any]) -> None:
    result = open_set["result"]
    click.echo(
        f"\nopen set (seed {open_set['seed']}, {open_set['enroll_per_person']} photo(s) enrolled"
        f" per person): {result['enrolled_people']} people enrolled ({result['templates']}"
        f" templates), {len(open_set['strangers'])} strangers: {', '.join(open_set['strangers'])}"
    )
    click.echo(
        f"{'tolerance':>9} {'margin':>6}  {'right person':<22}{'wrong person':>12}  "
        "strangers accepted"
    )
    for outcome in open_set["sweep"]:
        strangers = _percent(outcome["strangers_accepted"], outcome["stranger_probes"])
        if outcome["tolerance"] == result["tolerance"]:
            strangers = f"{strangers:<22}<- in use"
        click.echo(
            f"{outcome['tolerance']:>9.4f} {outcome['margin']:>6.3f}  "
            f"{_percent(outcome['genuine_correct'], outcome['genuine_probes']):<22}"
            f"{outcome['genuine_wrong']:>12}  {strangers}"
        )
    for line in result["mistakes"]:
        click.echo(f"  mistake at {result['tolerance']:.4f}: {line}")


def _held_out_line(counts: dict[str, Any]) -> str:
    return (
        f"{_percent(counts['genuine_correct'], counts['genuine_probes']):<22}"
        f"{counts['genuine_wrong']:>6}  "
        f"{_percent(counts['strangers_accepted'], counts['stranger_probes'])}"
        + (f", {counts['asked_again']} asked again" if counts.get("asked_again") else "")
    )


def _print_cross_validation(report: dict[str, Any]) -> None:
    click.echo(
        f"\ncross-validated open set: {report['folds']} subject-disjoint folds (seed"
        f" {report['seed']}); thresholds chosen on the other folds' people (loosest with no"
        f" false accept, minus {report['safety']}), counted on the held-out people"
    )
    click.echo(
        f"{'rule':<16}{'fold':>5} {'tolerance':>9} {'margin':>6}  {'right person':<22}"
        f"{'wrong':>6}  strangers accepted"
    )
    for rule in report["rules"]:
        for fold in rule["folds"]:
            click.echo(
                f"{rule['name']:<16}{fold['fold']:>5} {fold['tolerance']:>9.4f}"
                f" {fold['margin']:>6.3f}  {_held_out_line(fold['held_out'])}"
            )
        click.echo(
            f"{rule['name']:<16}{'all':>5} {'':>9} {'':>6}  {_held_out_line(rule['pooled'])}"
            f"   <- {rule['description']}"
        )
    _print_by_subset(report["rules"])


def _print_by_subset(rules: list[dict[str, Any]]) -> None:
    names = sorted({name for rule in rules for name in rule.get("by_subset", {})})
    if len(names) < 2:
        return
    click.echo("\nheld-out right person per subset (wrong / strangers accepted)")
    short = [name.rsplit("/", 1)[-1] for name in names]
    heads = short if len(set(short)) == len(short) else names
    click.echo(f"{'rule':<20}" + "".join(f"{head[-24:]:>26}" for head in heads))
    for rule in rules:
        cells = []
        for name in names:
            counts = rule["by_subset"].get(name)
            if not counts or not counts["genuine_probes"]:
                cells.append(f"{'-':>26}")
                continue
            share = 100 * counts["genuine_correct"] / counts["genuine_probes"]
            cell = (
                f"{share:.1f}% of {counts['genuine_probes']}"
                f" ({counts['genuine_wrong']}/{counts['strangers_accepted']})"
            )
            cells.append(f"{cell:>26}")
        click.echo(f"{rule['name']:<20}" + "".join(cells))


@click.command()
@click.option(
    "--faces",
    "folders",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder with labels.csv (path,identity) or <identity>/<photo> subfolders; repeat it"
    " to measure several sets as one (paths then start with the folder's name).",
)
@click.option("--include", multiple=True, metavar="PREFIX", help="Only paths starting so.")
@click.option(
    "--far",
    "fars",
    multiple=True,
    type=click.FloatRange(0, 1),
    help="Target false-accept rate for a threshold (default: 0.001 and 0).",
)
@click.option("--open-set", is_flag=True, help="Also simulate the kiosk: enrolled + strangers.")
@click.option("--enroll-per-person", default=1, type=click.IntRange(1, 100), show_default=True)
@click.option("--seed", default=0, show_default=True, help="Chooses the strangers.")
@click.option("--tolerance", type=click.FloatRange(0, 2, min_open=True), help="Default: config.")
@click.option("--margin", type=click.FloatRange(0, 1), help="Default: config.")
@click.option("--sweep", multiple=True, type=float, help="Open-set tolerances to try.")
@click.option(
    "--folds",
    default=DEFAULT_FOLDS,
    show_default=True,
    type=click.IntRange(2, 50),
    help="Subject-disjoint folds for the cross-validated open set.",
)
@click.option(
    "--safety",
    default=DEFAULT_SAFETY,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Subtracted from the tolerance chosen on the training folds.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Cross-validate the ablation too: defaults, bare model, each part changed.",
)
@click.option(
    "--engine", "engine_name", type=click.Choice(["dlib", "sface"]), help="Default: config."
)
@click.option(
    "--liveness",
    is_flag=True,
    help="Instead: fit the passive liveness stage to this kiosk's camera and store it in kiosk.db"
    " (stop the kiosk first; a person faces the camera).",
)
@click.option(
    "--genuine",
    multiple=True,
    metavar="SOURCE",
    help="--liveness: a real person in front of this camera: a device (0, /dev/video0), a"
    " stream, a video file or an image folder; repeatable (default: [camera] source).",
)
@click.option(
    "--attack",
    "attacks",
    multiple=True,
    metavar="SOURCE",
    help="--liveness: a printed photo or a phone screen held up to this camera; repeatable.",
)
@click.option(
    "--seconds",
    default=15.0,
    show_default=True,
    type=click.FloatRange(1, 600),
    help="--liveness: how long each live camera capture lasts.",
)
@click.option("--fit", is_flag=True, help="--liveness: also fit coefficients from the attacks.")
@click.option("--dry-run", is_flag=True, help="--liveness: print the figures, store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_cli
def calibrate(
    ctx: CliContext,
    folders: tuple[Path, ...],
    include: tuple[str, ...],
    fars: tuple[float, ...],
    open_set: bool,
    enroll_per_person: int,
    seed: int,
    tolerance: float | None,
    margin: float | None,
    sweep: tuple[float, ...],
    folds: int,
    safety: float,
    compare: bool,
    engine_name: str | None,
    liveness: bool,
    genuine: tuple[str, ...],
    attacks: tuple[str, ...],
    seconds: float,
    fit: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Measure the face engine on a labelled photo set: pair distances, FAR/TAR thresholds
    and (with --open-set) the kiosk's identification errors. With --liveness: fit the passive
    liveness stage to this kiosk's camera instead (see cli/calibrate_liveness.py)."""
    if liveness:
        run_liveness_calibration(ctx, genuine, attacks, seconds, fit, dry_run, as_json)
        return
    if not folders:
        raise click.UsageError("give --faces DIR (a labelled photo set), or --liveness")
    config = ctx.config
    if engine_name is not None:
        recognition = config.recognition.model_copy(update={"engine": engine_name})
        config = config.model_copy(update={"recognition": recognition})
    engine = create_engine(config)
    if tolerance is None:
        tolerance = effective_tolerance(config, engine)
    if margin is None:
        configured = config.recognition.margin
        margin = configured if configured is not None else engine.default_margin
    photos = read_labelled_sets(folders, include)
    embedded = embed_labelled_set(engine, photos, progress=_progress)
    if not embedded.photos:
        where = " + ".join(str(folder) for folder in folders)
        raise KioskError(f"{where}: no face found in any of the {len(photos)} photos")
    pairs = pair_distances(engine, embedded)
    report: dict[str, Any] = {
        "engine": {
            "name": engine.name,
            "model_digest": engine.model_digest,
            "tolerance": tolerance,
            "margin": margin,
        },
        "set": _set_summary(folders, include, len(photos), embedded),
        "genuine": describe(pairs.genuine),
        "impostor": describe(pairs.impostor),
        "thresholds": [_point(threshold_at_far(pairs, far)) for far in fars or DEFAULT_FARS],
        "at_tolerance": _point(operating_point(pairs, tolerance)),
        "open_set": None,
        "cross_validation": None,
    }
    if open_set:
        split = split_open_set(embedded, enroll_per_person, seed)
        tried = [*(sweep or default_sweep(tolerance)), tolerance]
        report["open_set"] = {
            "seed": seed,
            "enroll_per_person": enroll_per_person,
            "strangers": split.strangers,
            "result": _outcome(evaluate_open_set(engine, embedded, split, tolerance, margin)),
            "sweep": [
                _outcome(o) for o in sweep_tolerances(engine, embedded, split, tried, margin)
            ],
        }
        if embedded.people >= 2:
            report["cross_validation"] = _run_cross_validation(
                engine,
                embedded,
                (tolerance, margin),
                enroll_per_person,
                folds,
                seed,
                safety,
                compare,
            )
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)


def _run_cross_validation(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    in_use: tuple[float, float],
    enroll_per_person: int,
    folds: int,
    seed: int,
    safety: float,
    compare: bool,
) -> dict[str, Any]:
    """The :data:`DEFAULT_RULES` (or, with ``compare``, the whole ablation) cross-validated."""
    folds = min(folds, embedded.people)  # a small set: one person per fold
    tolerance, margin = in_use
    bare = round(1 - BARE_COSINE_SIMILARITY, 6) if engine.name == "sface" else tolerance
    rules = ablation_rules(tolerance, margin, bare, enroll_per_person)
    chosen = rules if compare else [rule for rule in rules if rule.name in DEFAULT_RULES]
    return {
        "folds": folds,
        "seed": seed,
        "safety": safety,
        "rules": [
            _cross_validation(cross_validate(engine, embedded, rule, folds, seed, safety))
            for rule in chosen
        ],
    }
