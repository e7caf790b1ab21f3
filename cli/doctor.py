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


CHECK_HELP: dict[str, str] = {
    "config": "the config file loads and is valid (the other checks need it)",
    "provisioning": "how the kiosk was set up: kiosk.toml, a scanned code, or waiting for one",
    "camera": "opens the camera and reads one frame",
    "models": "the face model files are there, with the pinned sha256",
    "disk": "free space, and kiosk.db against [storage] max_size_mb",
    "database": "kiosk.db read-only: quick_check, backlog, the oldest unacknowledged event,"
    " the roster version and people",
    "liveness": "the mode and, in passive, the camera's calibration and its cut-offs",
    "face-data": "nobody without a way in, face not the only way, no templates without"
    " consent, the notice on, what protects templates at rest",
    "clock": "the clock is synchronised (NTP)",
    "broker": "DNS, TCP and a real MQTT login with the configured TLS and credentials,"
    " under its own client id",
    "tls": "the TLS files: dates, key and certificate match, CN",
    "credentials": "the secret files' permissions",
    "qr-keys": "the signed-code (QR) public keys",
    "schedule": "the schedule in force (the file or the roster's) loads",
    "screen": "the page is served, a screen shows it, a CJK font is installed",
}
"""What each check of :data:`terminal.doctor.NAMES` looks at, for ``kiosk doctor --help``
(a test keeps the two lists the same)."""


def check_names() -> tuple[str, ...]:
    """The names of every check the doctor runs, in order (imports :mod:`terminal.doctor`)."""
    from terminal.doctor import NAMES  # here: cv2, paho and cryptography load only now

    return NAMES


class _DoctorCommand(click.Command):
    """``kiosk doctor``, whose help lists the checks from the doctor's own list when shown."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The docstring, then every check the doctor runs, one per line."""
        super().format_help_text(ctx, formatter)
        rows = [(name, CHECK_HELP.get(name, "")) for name in check_names()]
        with formatter.section("Checks, in the order shown"):
            formatter.write_dl(rows)


@click.command("doctor", cls=_DoctorCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
@pass_cli
def doctor(ctx: CliContext, as_json: bool) -> None:
    """Check this kiosk's setup: one line per check, PASS, WARN or FAIL, and what to do.

    The checks are listed below. Each has a time limit, so the command always ends. Exits 1
    when a check fails (warnings do not count). Nothing is created, written or repaired.
    Run it as the kiosk user (sudo -u kiosk) to see what the kiosk can read.
    """
    from terminal.doctor import run_checks  # here: cv2, paho and cryptography load only now

    results = run_checks(ctx.config_path, ctx.data_dir)
    click.echo(render_json(results) if as_json else render_text(results))
    failures = [result.name for result in results if result.failed]
    if failures:
        raise KioskError(f"doctor: {len(failures)} failed: {', '.join(failures)}")
