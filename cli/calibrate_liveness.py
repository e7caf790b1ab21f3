"""``kiosk calibrate --liveness``: fit the passive liveness stage to this kiosk's camera.

Run it once the kiosk is installed, with the daemon stopped (it holds the camera): a person
stands in front of the camera for ``--seconds`` (default: the config's ``[camera] source``;
``--genuine`` takes other sources, a video file or a folder of images taken with this camera,
repeatable), then, for each ``--attack`` source, the installer holds up a printed photo or a
phone showing a face. The cut-offs (and with ``--fit`` the site's own coefficients) are stored
in kiosk.db, where the running kiosk takes them up within seconds; ``kiosk doctor`` shows them.
``--dry-run`` prints the figures without storing; ``--json`` prints them as one object:
``stored`` (bool), ``database``, ``pass_below``, ``refuse_above``, ``model``, ``genuine`` and
``attacks`` (``faces``, ``scores``: min/p5/p50/p95/max, ``frames``: share of single frames
``live``/``ask``/``refuse``), ``sources``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from cli.main import CliContext
from common.errors import KioskError
from drivers.camera import CameraUnavailable, ReplayCamera, open_camera
from drivers.face.base import FaceEngine
from terminal.config import Config
from terminal.face.liveness_calibration import CaptureCues, calibrate_liveness, capture_cues


def _capture(
    config: Config, engine: FaceEngine, source: str, seconds: float, what: str
) -> CaptureCues:
    camera = open_camera(source, config.camera.fps, loop=False, width=config.camera.width,
                         height=config.camera.height, realtime=False)  # fmt: skip
    live = not isinstance(camera, ReplayCamera)
    if live:
        click.echo(f"capturing {what} from {source} for {seconds:g} s ...", err=True)
    try:
        cues = capture_cues(
            camera, engine, source, config.recognition.min_face_px,
            seconds if live else None, config.recognition.detect_scale,
        )  # fmt: skip
    except CameraUnavailable as exc:
        raise KioskError(
            f"camera {source}: {exc} (if the kiosk is running, stop it first: it holds the camera)"
        ) from None
    click.echo(f"{source}: {len(cues.cues)} faces in {cues.frames} frames ({what})", err=True)
    return cues


def run_liveness_calibration(
    ctx: CliContext,
    genuine: Sequence[str],
    attacks: Sequence[str],
    seconds: float,
    fit: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Capture, fit, store (unless ``dry_run``) and print (see the module)."""
    from terminal.checkin.engines import create_engine
    from terminal.store.database import open_database
    from terminal.store.liveness_calibration import save_liveness_calibration

    config = ctx.config
    engine = create_engine(config)
    sources = list(genuine) or [config.camera.source]
    genuine_cues = [_capture(config, engine, s, seconds, "genuine faces") for s in sources]
    attack_cues = [_capture(config, engine, s, seconds, "an attack") for s in attacks]
    stored, figures = calibrate_liveness(genuine_cues, attack_cues, fit=fit)
    path = config.database_path
    if not dry_run:
        db = open_database(path)
        try:
            save_liveness_calibration(db, stored)
        finally:
            db.conn.close()
    result = {"stored": not dry_run, "database": str(path), **figures}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    _print_summary(result)


def _share(frames: dict[str, float] | None, kind: str) -> str:
    return "-" if frames is None else f"{frames[kind]:.0%}"


def _print_summary(result: dict[str, object]) -> None:
    genuine, attacks = result["genuine"], result["attacks"]
    assert isinstance(genuine, dict) and isinstance(attacks, dict)
    click.echo(f"model: {result['model']}; pass below {result['pass_below']:.4g},"
               f" refuse from {result['refuse_above']:.4g}")  # fmt: skip
    for label, part in (("genuine", genuine), ("attacks", attacks)):
        frames = part["frames"]
        click.echo(f"{label}: {part['faces']} faces; single frames live"
                   f" {_share(frames, 'live')}, asked {_share(frames, 'ask')}, refused"
                   f" {_share(frames, 'refuse')}")  # fmt: skip
    where = result["database"]
    if result["stored"]:
        click.echo(f"stored in {where}: the running kiosk takes it up within seconds")
    else:
        click.echo(f"not stored (--dry-run); {where} unchanged")
