"""Fixtures of the integration tests: a loaded face engine, a kiosk database in a real file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from drivers.face.base import FaceEngine
from terminal.checkin.engines import create_engine
from terminal.config import Config
from terminal.store.database import open_database


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    """The default face engine (``Config()``: sface), loaded once per test module."""
    return create_engine(Config())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A fresh kiosk database, ``tmp_path/data/kiosk.db``, closed after the test."""
    database = open_database(tmp_path / "data" / "kiosk.db")
    yield database
    database.conn.close()
