"""Every file in ``examples/`` loads with the loader the project uses for it.

A new example file must be added to :data:`LOADERS` (by its suffix) or this test fails, so no
example goes unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from central.rosters.people import read_people
from common.schedule_file import load_schedule
from terminal.config import Config, check_verification_mode, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load_config(path: Path, data_dir: Path) -> object:
    config = load_config(path, data_dir)
    check_verification_mode(config)
    return config


LOADERS: dict[str, Callable[[Path, Path], object]] = {
    ".toml": _load_config,
    ".json": lambda path, _: load_schedule(path),
    ".csv": lambda path, _: read_people(path),
    ".md": lambda path, _: path.read_text(encoding="utf-8"),
}
"""How each kind of example file is loaded (the README is read as text)."""


def _examples() -> list[Path]:
    return sorted(path for path in EXAMPLES.iterdir() if path.is_file())


def test_examples_exist() -> None:
    """The examples the README's quick start points to are there."""
    names = {path.name for path in _examples()}
    expected = {
        "README.md",
        "usb-camera-screen.toml",
        "video-file.toml",
        "training-room-door.toml",
        "schedule.json",
        "people.csv",
    }
    assert expected <= names


@pytest.mark.parametrize("path", _examples(), ids=lambda path: path.name)
def test_every_example_loads(path: Path, tmp_path: Path) -> None:
    """Each file loads with its loader; a file of a kind without a loader fails here."""
    loader = LOADERS.get(path.suffix.lower())
    assert loader is not None, f"examples/{path.name}: no loader for it in {__name__}.LOADERS"
    assert loader(path, tmp_path) is not None
    assert not list(tmp_path.iterdir()), "loading a config must not create anything"


def test_readme_names_every_example() -> None:
    """examples/README.md says what each file is for."""
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in _examples() if p.name != "README.md" and p.name not in readme]
    assert not missing


def _config(name: str, tmp_path: Path) -> Config:
    return load_config(EXAMPLES / name, tmp_path)


def test_configs_say_what_their_names_say(tmp_path: Path) -> None:
    """The USB camera and video examples have the screen on; the video one replays a file;
    the training-room door alternates entry and exit of a session the schedule holds."""
    from drivers.camera.replay import VIDEO_EXTENSIONS

    usb = _config("usb-camera-screen.toml", tmp_path)
    assert usb.ui.enabled and usb.camera.source.startswith("/dev/video")
    video = _config("video-file.toml", tmp_path)
    assert video.ui.enabled and Path(video.camera.source).suffix in VIDEO_EXTENSIONS
    door = _config("training-room-door.toml", tmp_path)
    assert door.attendance.session_mode and door.attendance.schedule_file is not None
    schedule = load_schedule(EXAMPLES / "schedule.json")
    assert any(door.terminal.id in session.terminal_ids for session in schedule.sessions)


def test_schedule_has_a_day_shift_an_overnight_shift_and_a_session() -> None:
    """The example schedule shows each kind of item, for people of the example people file."""
    schedule = load_schedule(EXAMPLES / "schedule.json")
    assert [shift.overnight for shift in schedule.shifts] == [False, True]
    assert len(schedule.sessions) == 1
    people = {person.person_id for person in read_people(EXAMPLES / "people.csv")}
    scheduled = set().union(
        *(schedule.members(s.people, s.groups) for s in schedule.shifts),
        *(schedule.members(s.participants, s.groups) for s in schedule.sessions),
    )
    assert scheduled <= people
