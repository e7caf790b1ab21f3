"""Database URLs of the central side: SQLite paths, PostgreSQL URLs, one-line errors, and a
password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.db.url import parse_database_url
from common.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("central.db", Path("central.db")),
        ("/var/lib/kiosk-central/central.db", Path("/var/lib/kiosk-central/central.db")),
        ("sqlite:///central.db", Path("central.db")),
        ("sqlite:////var/lib/kiosk-central/central.db", Path("/var/lib/kiosk-central/central.db")),
    ],
)
def test_sqlite_locations(value: str, path: Path):
    url = parse_database_url(value)
    assert (url.dialect, url.path) == ("sqlite", path)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("postgresql://hr@db.example/attendance", "postgresql://hr@db.example/attendance"),
        ("postgres://hr:s3cret@db:5432/a?sslmode=require", "postgres://hr@db:5432/a"),
        ("postgresql:///attendance?host=/var/run/postgresql", "postgresql:///attendance"),
    ],
)
def test_postgresql_urls_go_to_libpq_as_given_and_show_no_password(value: str, shown: str):
    url = parse_database_url(value)
    assert (url.dialect, url.conninfo, str(url)) == ("postgresql", value, shown)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "database URL is empty"),
        ("mysql://hr@db/a", "unknown database scheme 'mysql'"),
        ("sqlite://central.db", "an SQLite URL is sqlite:///relative/file.db"),
    ],
)
def test_what_is_not_a_database_url_is_one_line(value: str, message: str):
    with pytest.raises(ConfigError, match=message) as refused:
        parse_database_url(value)
    assert "\n" not in str(refused.value)
