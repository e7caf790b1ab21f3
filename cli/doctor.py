"""``kiosk doctor``: check the camera, models, storage, clock, broker and key material.

The text output is one line per check, for people over SSH; ``--json`` is one document for
monitoring. Either way the exit status is 1 when a check failed (warnings do not count).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from cli.main import CliContext, pass_cli
from common.errors import KioskError
from terminal.doctor.result import CheckResult, Status


def render_text(results: Sequence[CheckResult]) -> str:
    """One line per check: ``PASS  name  detail`` (`` -> what to do`` unless it passed)."""
    width = max(len(result.name) for result in results)
    return "\n".join(result.line(width) for result in results)


def render_json(results: Sequence[CheckResult]) -> str:
    """``{"ok": ..., "checks": [...]}`` with every check's status, detail, hint and figures."""
    document = {
        "ok": not any(result.failed for result in results),
        "failed": [result.name for result in results if result.status is Status.FAIL],
        "warnings": [result.name for result in results if result.status is Status.WARN],
        "checks": [result.as_dict() for result in results],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
@pass_cli
def doctor(ctx: CliContext, as_json: bool) -> None:
    """Check this kiosk's setup: one line per check, PASS, WARN or FAIL, and what to do.

    Checks the config, provisioning, camera (reads one frame), face models, disk space,
    database (read-only), liveness (mode, camera calibration), clock synchronisation, broker
    (a real MQTT login under its own client id), TLS files, secret file permissions, the
    signed-code keys, the schedule and the screen. Each check has a time
    limit, so the command always ends. Exits 1 when a check fails (warnings do not count).
    Run it as the kiosk user (sudo -u kiosk) to see what the kiosk can read.
    """
    from terminal.doctor import run_checks  # here: cv2, paho and cryptography load only now

    results = run_checks(ctx.config_path, ctx.data_dir)
    click.echo(render_json(results) if as_json else render_text(results))
    failures = [result.name for result in results if result.failed]
    if failures:
        raise KioskError(f"doctor: {len(failures)} failed: {', '.join(failures)}")
