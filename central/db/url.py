"""Where a central database is: ``sqlite:///PATH``, ``postgresql://...``, or a plain path.

``sqlite:///central.db`` is ``central.db`` relative to the working directory and
``sqlite:////var/lib/kiosk-central/central.db`` an absolute path (SQLAlchemy's spelling); a
value with no scheme is a path, as ``--db`` took before URLs. ``postgresql://`` (or
``postgres://``) URLs go to libpq as they are, so every libpq parameter works; a password belongs
in a file, not in the URL: ``?passfile=/etc/kiosk-central/pgpass`` (libpq's password file) or
the ``PGPASSFILE`` environment variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from common.errors import ConfigError

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database location: an SQLite ``path`` or a PostgreSQL ``conninfo``."""

    dialect: Dialect
    path: Path | None = None
    conninfo: str = ""

    def __str__(self) -> str:
        """The location for messages, never with a password."""
        if self.dialect == "sqlite":
            return str(self.path)
        parts = urlsplit(self.conninfo)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}@{host}"
        return f"{parts.scheme}://{netloc}{parts.path}"


def parse_database_url(value: str | Path) -> DatabaseUrl:
    """``value`` as a :class:`DatabaseUrl`; :class:`ConfigError` (one line) if it is neither an
    SQLite nor a PostgreSQL location."""
    text = str(value).strip()
    if not text:
        raise ConfigError("database URL is empty (sqlite:///central.db or postgresql://...)")
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return DatabaseUrl("postgresql", conninfo=text)
    if scheme == "sqlite":
        path = text[len("sqlite://") :]
        if not path.startswith("/") or path == "/":
            raise ConfigError(
                f"{text}: an SQLite URL is sqlite:///relative/file.db or sqlite:////absolute.db"
            )
        return DatabaseUrl("sqlite", path=Path(path[1:]))
    if scheme:
        raise ConfigError(
            f"{text}: unknown database scheme {scheme!r} (use sqlite:///FILE or postgresql://...)"
        )
    return DatabaseUrl("sqlite", path=Path(text))
