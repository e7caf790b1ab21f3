"""``kiosk doctor``: every check of a kiosk's setup, each bounded in time, as one line each.

The config is loaded first: when it is broken that is the one (failing) line, since nothing
else can be checked without it. Then every other check runs in its own thread, all at once,
and each gets its own time limit: a check that has not answered by then (a hung camera or DNS
lookup) is reported as a failure and left behind, so the command never hangs. Checks only
read: nothing is created, written or repaired.

One module per check family (machine, database, broker, security, ...). May import every
kiosk package but the pipeline and the sync, and :mod:`drivers`; the sync gets
:func:`diagnostics` from the daemon rather than importing it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from terminal.config import Config, load_config
from terminal.doctor.broker import CONNACK_TIMEOUT_S, TCP_TIMEOUT_S, check_broker
from terminal.doctor.database import QUICK_CHECK_TIMEOUT_S, check_database
from terminal.doctor.face_data import check_face_data
from terminal.doctor.liveness import check_liveness
from terminal.doctor.machine import check_camera, check_clock, check_disk, check_models_present
from terminal.doctor.provisioning import check_provisioning
from terminal.doctor.result import CheckResult, failed, passed, warned
from terminal.doctor.schedule import check_schedule
from terminal.doctor.screen import check_screen
from terminal.doctor.security import check_credentials, check_signing_keys, check_tls

_AS_KIOSK = "run the doctor as the kiosk user or as root: sudo -u kiosk kiosk doctor ..."


@dataclass(frozen=True)
class Check:
    """One check: what it runs, how long it may take, and what to look at when it cannot end."""

    name: str
    run: Callable[[Config], CheckResult]
    timeout_s: float
    hint: str


CHECKS: tuple[Check, ...] = (
    Check("provisioning", check_provisioning, 5.0, "[storage] data_dir is slow to read"),
    Check("camera", check_camera, 10.0, "the camera or stream hangs: check its cable or network"),
    Check("models", check_models_present, 30.0, "the model files are slow to read: check the disk"),
    Check("disk", check_disk, 5.0, "the file system of [storage] data_dir does not answer"),
    Check(
        "database",
        check_database,
        QUICK_CHECK_TIMEOUT_S + 5.0,
        "kiosk.db is locked or the disk is slow: stop the kiosk and try again",
    ),
    Check("liveness", check_liveness, 5.0, "kiosk.db is slow to read: check the disk"),
    Check("face-data", check_face_data, 5.0, "kiosk.db is slow to read: check the disk"),
    Check("clock", check_clock, 2.0, "adjtimex(2) does not answer"),
    Check(
        "broker",
        check_broker,
        2 * TCP_TIMEOUT_S + CONNACK_TIMEOUT_S + 2.0,
        "DNS or the network hangs: check the host in [mqtt] url and this kiosk's network",
    ),
    Check("tls", check_tls, 5.0, "the TLS files are slow to read: check the disk"),
    Check("credentials", check_credentials, 5.0, "the secret files are slow to read"),
    Check("qr-keys", check_signing_keys, 5.0, "[qr] public_keys_dir is slow to read"),
    Check("schedule", check_schedule, 5.0, "the schedule file or kiosk.db is slow to read"),
    Check("screen", check_screen, 5.0, "the kiosk page does not answer: the daemon may hang"),
)
"""Every check after ``config``, in the order they are shown."""

NAMES: tuple[str, ...] = ("config", *(check.name for check in CHECKS))


def check_config(
    config_path: Path | None, data_dir: Path | None
) -> tuple[CheckResult, Config | None]:
    """Load and validate the config; a broken one is a failing line, never a traceback."""
    try:
        config = load_config(config_path, data_dir)
    except ConfigError as exc:
        hint = "correct the file as the message says; `kiosk config check` validates it"
        return failed("config", str(exc), hint), None
    who = f"terminal {config.terminal.id}, site {config.terminal.site}"
    if config_path is None:
        hint = "give --config /etc/kiosk/kiosk.toml (or KIOSK_CONFIG) to check the kiosk's own"
        return warned("config", f"no --config given: checking the defaults ({who})", hint), config
    return passed("config", f"{config_path}: valid ({who})"), config


def _start(check: Check, config: Config) -> tuple[threading.Thread, list[CheckResult]]:
    box: list[CheckResult] = []

    def run() -> None:
        try:
            box.append(check.run(config))
        except PermissionError as exc:
            detail = f"permission denied: {exc.filename or exc}"
            box.append(failed(check.name, detail, _AS_KIOSK))
        except Exception as exc:  # a check must never take the doctor down
            detail = f"the check itself failed: {type(exc).__name__}: {exc}"
            box.append(failed(check.name, detail, check.hint))

    thread = threading.Thread(target=run, name=f"doctor-{check.name}", daemon=True)
    thread.start()
    return thread, box


def run_checks(
    config_path: Path | None, data_dir: Path | None, checks: Sequence[Check] = CHECKS
) -> list[CheckResult]:
    """Run every check (at once, each within its time limit); results in ``checks`` order."""
    first, config = check_config(config_path, data_dir)
    if config is None:
        return [first]
    return [first, *run_loaded(config, checks)]


def run_loaded(config: Config, checks: Sequence[Check] = CHECKS) -> list[CheckResult]:
    """Run ``checks`` on a config already loaded (at once, each within its time limit)."""
    started = time.monotonic()
    running = [(check, *_start(check, config)) for check in checks]
    results: list[CheckResult] = []
    for check, thread, box in running:
        thread.join(max(0.0, started + check.timeout_s - time.monotonic()))
        if box:
            results.append(box[0])
        else:
            detail = f"no answer within {check.timeout_s:g} s"
            results.append(failed(check.name, detail, check.hint, timed_out=True))
    return results


def diagnostics(config: Config, limit_s: float) -> tuple[str, dict[str, Any]]:
    """Every check but the camera (the running daemon holds it), each within ``limit_s``: the
    answer to a ``report_diagnostics`` command, as a one-line detail and the result's data."""
    checks = [
        dataclasses.replace(check, timeout_s=min(check.timeout_s, limit_s))
        for check in CHECKS
        if check.name != "camera"
    ]
    results = run_loaded(config, checks)
    failed_names = [r.name for r in results if r.failed]
    warned_names = [r.name for r in results if r.status.value == "warn"]
    detail = (
        f"{len(results)} checks (camera skipped): {len(failed_names)} failed,"
        f" {len(warned_names)} warn"
    )
    data = {
        "ok": not failed_names,
        "failed": failed_names,
        "warnings": warned_names,
        "checks": [r.as_dict() for r in results],
    }
    return detail, data
