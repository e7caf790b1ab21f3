"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's ``postgresql``
package, a cluster in a temporary directory, listening on a free loopback port.

``initdb`` and the server refuse to run as root, and CI runs as root: then the cluster belongs
to the unprivileged user ``nobody`` and both run as it (``setpriv``). Authentication is
``trust`` on 127.0.0.1 only; :meth:`LocalPostgres.create_database` gives each test a database of
its own. ``fsync`` stays on (the durability the receiver promises is the server's).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from common.errors import KioskError
from devtools.local_broker import free_port, wait_for_port

SUPERUSER = "kiosk"
"""The cluster's superuser (who the URLs log in as)."""


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's ``bin`` directory; :class:`KioskError` if none is."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise KioskError(
            "PostgreSQL is not installed (sudo apt-get install postgresql; make test does it)"
        )
    return found[-1].parent


class LocalPostgres:
    """A PostgreSQL server of its own in a temporary directory; :meth:`stop` removes it."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self._tmp = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self._tmp / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self._tmp, nobody.pw_uid, nobody.pw_gid)
            self._as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                             "--clear-groups"]  # fmt: skip
        self.started = False

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, cwd=self._tmp, check=False
        )
        if result.returncode != 0:
            raise KioskError(f"{args[0]} failed: {(result.stderr or result.stdout).strip()}")

    def start(self) -> LocalPostgres:
        """initdb, then the server on 127.0.0.1:``port`` (its socket in the temporary
        directory); returns when it accepts connections."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-N")  # fmt: skip
        self._pg_ctl_start()
        wait_for_port(self.port)
        return self

    def _pg_ctl_start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self._tmp} -c max_connections=60"
            " -c shared_buffers=64MB"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                  "-l", str(self._tmp / "server.log"), "start")  # fmt: skip
        self.started = True

    def stop_server(self) -> None:
        """Stop the server (``immediate``: as a crash would), keeping its data."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                  "stop")  # fmt: skip
        self.started = False

    def start_server(self) -> None:
        """Start the stopped server again on the same port, with its data."""
        self._pg_ctl_start()

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (named ``name`` or at random); its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediately) and remove its directory."""
        if self.started:
            with contextlib.suppress(KioskError):
                self.stop_server()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
