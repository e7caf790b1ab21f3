"""Shared fixtures: real data from ../shared (through environment variables), a real broker, the
reference receiver on it, a CA for TLS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.receiver.store import ReceiverStore
from common.errors import KioskError
from tests.delivery_tools import broker_readable_dir, running_receiver
from tests.mosquitto import Mosquitto
from tests.postgres import LocalPostgres
from tests.tls_tools import Pki, kiosk_broker


def _shared_dir(variable: str, marker: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{variable} must be set in CI (.ci/run sets it)", pytrace=False)
        pytest.skip(f"{variable} is not set (make test and .ci/run set it to ../shared/...)")
    path = Path(value).resolve()
    if not (path / marker).exists():
        pytest.fail(f"{variable}={value} is set but {marker} is not there", pytrace=False)
    return path


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/faces`` (from KIOSK_TEST_FACES); fails, never skips, when set but absent."""
    return _shared_dir("KIOSK_TEST_FACES", "labels.csv")


@pytest.fixture(scope="session")
def east_asian_dir() -> Path:
    """``../shared/faces_east_asian`` (from KIOSK_TEST_FACES_EAST_ASIAN)."""
    return _shared_dir("KIOSK_TEST_FACES_EAST_ASIAN", "labels.csv")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto on a free loopback port, killed at the end of the test."""
    server = Mosquitto(tmp_path / "broker")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL server (one per test worker); fails, never skips, when
    PostgreSQL is not installed (``make test`` installs it)."""
    try:
        server = LocalPostgres().start()
    except KioskError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> str:
    """The URL of a new, empty database on the test worker's PostgreSQL server."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A central database URL, once an SQLite file and once a PostgreSQL database: the tests
    that take it run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def receiver(broker: Mosquitto, tmp_path: Path) -> Iterator[ReceiverStore]:
    """The reference receiver on ``broker`` (client id ``central-test``), subscribed, in a thread
    until the end of the test; yields its store, ``tmp_path/central.db``."""
    central = tmp_path / "central.db"
    with running_receiver(broker.url, central, "central-test"):
        yield ReceiverStore(central)


@pytest.fixture
def pki() -> Iterator[Pki]:
    """A CA (its files readable by mosquitto) for the broker and every legitimate client."""
    with broker_readable_dir() as readable:
        yield Pki(readable / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    """mosquitto with the shipped TLS settings (client certificates required) and ACL."""
    server = kiosk_broker(tmp_path / "tls-broker", pki)
    server.start()
    try:
        yield server
    finally:
        server.kill()
