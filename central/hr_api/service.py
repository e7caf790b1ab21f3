"""The HR API as a service: start-up in one ordered method, one stop event, and everything that
was started stopped again, in reverse, when a later step fails or the service ends.

Order: the tokens (a bad token file stops it before anything runs), the schedule, the database
(opened now, so a wrong URL is one line at start, not a 503 later; the HR records, leave and
corrections, through a second connection to it opened on first use), the terminal-status follower
(when a broker is given), then the HTTP listener. TLS is the reverse proxy's job
(docs/hr-and-integrators.md, "The HR system's API"): the API listens on 127.0.0.1 by default.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from central.hr_api.auth import load_tokens
from central.hr_api.routes import Api, ScheduleFile, StoreReader, build_app
from central.hr_api.statuses import StatusFollower
from central.records.store import RecordsStore
from central.reports.inputs import open_store
from common.errors import ConfigError
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions

log = logging.getLogger(__name__)

STOP_POLL_S = 0.2


@dataclass(frozen=True)
class ApiSettings:
    """What the service needs: where the data is, who may read it, where to listen."""

    database: str
    schedule_path: Path
    token_file: Path
    host: str = "127.0.0.1"
    port: int = 8470
    broker: LinkOptions | None = None
    topic_prefix: str = "attendance/v1"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6); :class:`ConfigError` otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {value!r}: use HOST:PORT, e.g. 127.0.0.1:8470")
    return host.strip("[]"), int(port)


class ApiService:
    """The HR API over ``settings``; :meth:`run` until the stop event is set."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.port: int | None = None
        """The port listened on (the one the system chose for port 0), once listening."""

    def run(self, stop: threading.Event, on_ready: Callable[[int], None] | None = None) -> None:
        """Start everything in order, serve until ``stop``, then stop everything started."""
        settings = self.settings
        tokens = load_tokens(settings.token_file)
        schedule = ScheduleFile(settings.schedule_path)
        with ExitStack() as started:
            reader = StoreReader(lambda: open_store(settings.database))
            started.callback(reader.close)
            reader.read(lambda store: None)
            records = StoreReader(lambda: RecordsStore(settings.database))
            started.callback(records.close)
            statuses = None
            if settings.broker is not None:
                statuses = StatusFollower(settings.broker, Topics(settings.topic_prefix))
                statuses.start()
                started.callback(statuses.stop)
            app = build_app(Api(reader, schedule, statuses, records=records), tokens)
            asyncio.run(self._serve(app, stop, on_ready))

    async def _serve(
        self, app: web.Application, stop: threading.Event, on_ready: Callable[[int], None] | None
    ) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {self.settings.host}:{self.settings.port}: {exc.strerror}"
                ) from None
            self.port = int(runner.addresses[0][1])
            log.info("HR API listening on %s:%d", self.settings.host, self.port)
            if on_ready is not None:
                on_ready(self.port)
            while not stop.is_set():
                await asyncio.sleep(STOP_POLL_S)
        finally:
            await runner.cleanup()
