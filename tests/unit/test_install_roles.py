"""A kiosk-only or a central-only install runs its own side's code and commands.

pyproject.toml installs by role: ``kiosk-terminal[kiosk]`` on a kiosk, ``kiosk-terminal[central]``
on the HR side. Each test runs Python in a subprocess in which importing the other side's
packages fails as it would where they are not installed (a ``sys.meta_path`` finder raising
ModuleNotFoundError), so this one venv with every extra checks both installs. ``make
check-roles`` checks the real thing: two venvs built from uv.lock, one per role.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from central.receiver.store import ReceiverStore
from models.schedule import Schedule, ShiftPlan

ROOT = Path(__file__).resolve().parents[2]

KIOSK_ONLY = (
    "cv2",
    "dlib",
    "face_recognition_models",
    "pyzbar",
    "zxingcpp",
    "gpiozero",
    "tomlkit",
    "uuid6",
)
"""Import names of the [kiosk] extra's packages: not on a central machine (aiohttp is on both:
the kiosk's screen, the central HR API and webhook)."""
CENTRAL_ONLY = ("matplotlib", "openpyxl", "jsonschema", "psycopg")
"""Import names of the [central] extra's packages: not on a kiosk."""
TOOLS_ONLY = ("face_recognition", "skimage", "playwright", "pytest", "mypy")
"""Import names of the [demo] and [dev] extras' packages: on neither."""

ON_CENTRAL = (*KIOSK_ONLY, *TOOLS_ONLY)
ON_KIOSK = (*CENTRAL_ONLY, *TOOLS_ONLY)

CHILD = r'''
import contextlib, importlib, io, json, pkgutil, sys, traceback

BLOCKED = frozenset(sys.argv[1].split(","))


class NotInstalled:
    """Imports of the blocked packages fail as if they were not installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


early = sorted(BLOCKED & {name.partition(".")[0] for name in sys.modules})
assert not early, f"imported before the block: {early}"
sys.meta_path.insert(0, NotInstalled())


def import_all(packages):
    """{module: error} for every module of ``packages`` that cannot be imported."""
    failures = {}

    def failed(name):
        failures[name] = traceback.format_exc(limit=-3)

    for package in packages:
        try:
            module = importlib.import_module(package)
        except Exception:
            failed(package)
            continue
        for info in pkgutil.walk_packages(module.__path__, package + ".", onerror=failed):
            try:
                importlib.import_module(info.name)
            except Exception:
                failed(info.name)
    return failures


def run(args):
    """[exit status, stdout, stderr] of ``kiosk ARGS`` (a traceback on stderr if it raised)."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except BaseException:
            status = "raised"
            err.write(traceback.format_exc())
    return [status, out.getvalue(), err.getvalue()]


imports = import_all([name for name in sys.argv[2].split(",") if name])
runs = [run(args) for args in json.loads(sys.argv[3])]
loaded = sorted(BLOCKED & {name.partition(".")[0] for name in sys.modules})
print(json.dumps({"imports": imports, "runs": runs, "blocked_loaded": loaded}))
'''


def run_without(
    blocked: tuple[str, ...], packages: list[str], commands: list[list[str]]
) -> dict[str, Any]:
    """In a fresh interpreter without the ``blocked`` packages: import every module of
    ``packages``, then run ``kiosk ARGS`` for each ARGS in ``commands``."""
    argv = [",".join(blocked), ",".join(packages), json.dumps(commands)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert result["blocked_loaded"] == []
    return result


def assert_runs_on_its_own(args: list[str], status: Any, out: str, err: str) -> None:
    """``kiosk ARGS --help`` worked and was the command's own help, not the stub of a command
    whose module could not be imported (which exits 0 on --help as well)."""
    assert status == 0, f"kiosk {' '.join(args)}: {status}\n{err}"
    assert "is not installed)" not in out and "which this install lacks" not in err, out + err
    assert out.startswith("Usage: kiosk "), out


CENTRAL_COMMANDS = [
    ["receive", "--help"],
    ["report", "--help"],
    ["report", "shifts", "--help"],
    ["report", "sessions", "--help"],
    ["alerts", "--help"],
    ["roster", "--help"],
    ["onboard", "--help"],
    ["keys", "--help"],
    ["command", "--help"],
]
KIOSK_COMMANDS = [
    ["run", "--help"],
    ["doctor", "--help"],
    ["enroll", "--help"],
    ["people", "--help"],
    ["identify", "--help"],
    ["qr", "--help"],
    ["events", "--help"],
    ["provision", "--help"],
    ["models", "--help"],
    ["config", "--help"],
    ["calibrate", "--help"],
    ["loadgen", "--help"],
]


def test_a_central_install_runs_the_central_side_without_the_kiosks_packages() -> None:
    commands = [*CENTRAL_COMMANDS, ["--help"], ["run"]]
    result = run_without(ON_CENTRAL, ["central", "common", "models"], commands)
    assert result["imports"] == {}, "\n".join(result["imports"].values())
    *own, listing, kiosk_run = result["runs"]
    for args, (status, out, err) in zip(CENTRAL_COMMANDS, own, strict=True):
        assert_runs_on_its_own(args, status, out, err)
    # `kiosk --help` lists every command; the kiosk's say which extra they need.
    status, out, _ = listing
    assert status == 0
    assert "(needs kiosk-terminal[kiosk]: cv2 is not installed)" in " ".join(out.split())
    # ...and running one is a one-line error, not a traceback.
    status, out, err = kiosk_run
    assert (status, out) == (1, "")
    assert err == (
        "kiosk: error: kiosk run needs the package 'cv2', which this install lacks:"
        " install kiosk-terminal[kiosk]\n"
    )


def test_a_kiosk_install_runs_the_kiosk_without_the_central_packages() -> None:
    commands = [*KIOSK_COMMANDS, ["receive", "--db", "central.db"]]
    result = run_without(ON_KIOSK, ["terminal", "drivers", "common", "models"], commands)
    assert result["imports"] == {}, "\n".join(result["imports"].values())
    *own, receive = result["runs"]
    for args, (status, out, err) in zip(KIOSK_COMMANDS, own, strict=True):
        assert_runs_on_its_own(args, status, out, err)
    status, out, err = receive
    assert (status, out) == (1, "")
    assert err == (
        "kiosk: error: kiosk receive needs the package 'jsonschema', which this install lacks:"
        " install kiosk-terminal[central]\n"
    )


@pytest.fixture
def receiver_files(tmp_path: Path) -> tuple[Path, Path]:
    """An empty receiver database and a one-shift schedule: enough for `kiosk report shifts`."""
    db = tmp_path / "central.db"
    ReceiverStore(db).close()
    schedule = tmp_path / "schedule.json"
    plan = ShiftPlan(shift_id="day", name="Day", start=time(9), end=time(18), people=["A"])
    schedule.write_text(Schedule(version=1, shifts=[plan]).model_dump_json(), encoding="utf-8")
    return db, schedule


@pytest.mark.parametrize(("option", "package"), [("--png", "matplotlib"), ("--xlsx", "openpyxl")])
def test_a_report_output_without_its_package_is_one_line(
    receiver_files: tuple[Path, Path], tmp_path: Path, option: str, package: str
) -> None:
    db, schedule = receiver_files
    args = ["report", "shifts", "--db", str(db), "--schedule", str(schedule)]
    args += ["--from", "2026-03-02", "--to", "2026-03-06", option, str(tmp_path / "out")]
    result = run_without(ON_KIOSK, [], [args])
    [[status, out, err]] = result["runs"]
    assert "Traceback" not in err, err
    assert status == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith("kiosk: error: ") and repr(package) in err, err
    assert err.endswith(" install kiosk-terminal[central]\n"), err
