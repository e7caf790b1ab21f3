"""The HR API's endpoints (aiohttp), each described in ``openapi.json`` beside this file.

- ``GET /v1/events?after=CURSOR&limit=N``: check-ins in the order they were committed, after a
  cursor. A client stores ``next_cursor`` and asks again from it: no event is missed or given
  twice across pages, even with several receivers writing (see
  :meth:`central.receiver.store.ReceiverStore.events_after`).
- ``GET /v1/attendance/shifts?from=DAY&to=DAY``: the shift report's rows and monthly flags.
- ``GET /v1/attendance/sessions?from=DAY&to=DAY``: the training sessions starting those days.
- ``GET /v1/terminals``: each terminal's last status and delivery totals.
- ``GET /v1/health`` and ``GET /v1/openapi.json``: no token needed.

Database reads run in worker threads (one connection, one reader at a time), never on the event
loop. Every error is JSON ``{"error": "..."}``: 400 for a bad parameter, 401 without a valid
token, 404 for no such path, 503 when the database cannot be read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from central.hr_api.auth import Handler, bearer_middleware
from central.hr_api.statuses import StatusFollower
from central.receiver.store import ReceiverStore
from central.reports.sessions import session_report, session_report_range
from central.reports.shifts import shift_report, shift_report_range
from central.reports.text import records
from common.errors import KioskError, StoreError
from common.schedule_file import load_schedule
from models.schedule import Schedule

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_DAYS = 31
"""The longest range one attendance request may ask for (a month; a year is `kiosk report`'s)."""


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document (``central/hr_api/openapi.json``)."""
    text = resources.files("central.hr_api").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class StoreReader:
    """The receiver database, opened on first use and read by one thread at a time."""

    def __init__(self, open_store: Callable[[], ReceiverStore]) -> None:
        self._open = open_store
        self._store: ReceiverStore | None = None
        self._lock = threading.Lock()

    def read(self, work: Callable[[ReceiverStore], Any]) -> Any:
        """``work(store)`` under the lock (in the calling thread)."""
        with self._lock:
            if self._store is None:
                self._store = self._open()
            return work(self._store)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class ScheduleFile:
    """The schedule file, read again when it changes (HR edits it; no restart needed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._schedule = self.current()

    def current(self) -> Schedule:
        """The schedule as the file holds it now; the last good one if it became unreadable."""
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp or self._stamp is None:
            try:
                self._schedule = load_schedule(self.path)
                self._stamp = stamp
            except KioskError:
                if self._stamp is None:
                    raise
        return self._schedule


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{name}={raw!r}: not a whole number") from None
    if not low <= value <= high:
        raise _bad(f"{name}={value}: must be from {low} to {high}")
    return value


def _days(request: web.Request) -> tuple[date, date]:
    """``from`` and ``to`` (default: ``from``), at most :data:`MAX_DAYS` apart."""
    raw_from = request.query.get("from")
    if raw_from is None:
        raise _bad("from=YYYY-MM-DD is required")
    parsed = []
    for name, raw in (("from", raw_from), ("to", request.query.get("to", raw_from))):
        try:
            parsed.append(date.fromisoformat(raw))
        except ValueError:
            raise _bad(f"{name}={raw!r}: not a date, use YYYY-MM-DD") from None
    start, end = parsed
    if end < start:
        raise _bad(f"to={end} is before from={start}")
    if (end - start).days >= MAX_DAYS:
        raise _bad(f"at most {MAX_DAYS} days per request (kiosk report shifts for longer ranges)")
    return start, end


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON: aiohttp's own (404, 405) too, and 503 for the database."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except StoreError as exc:
        return web.json_response({"error": f"the database cannot be read: {exc}"}, status=503)


class Api:
    """The handlers, over the receiver database, the schedule and the statuses."""

    def __init__(
        self,
        reader: StoreReader,
        schedule: ScheduleFile,
        statuses: StatusFollower | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reader = reader
        self.schedule = schedule
        self.statuses = statuses
        self.clock = clock

    async def _read(self, work: Callable[[ReceiverStore], Any]) -> Any:
        return await asyncio.to_thread(self.reader.read, work)

    async def health(self, _request: web.Request) -> web.Response:
        """Up, and whether the database answers."""
        try:
            await self._read(lambda store: store.count())
        except StoreError as exc:
            return web.json_response({"status": "degraded", "database": str(exc)}, status=503)
        return web.json_response({"status": "ok", "database": "ok"})

    async def openapi(self, _request: web.Request) -> web.Response:
        """The OpenAPI document."""
        return web.json_response(openapi_document())

    async def events(self, request: web.Request) -> web.Response:
        """A page of events after ``after``."""
        after = _int(request, "after", 0, 0, 2**63 - 1)
        limit = _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        page = await self._read(lambda store: store.events_after(after, limit + 1))
        has_more = len(page) > limit
        page = page[:limit]
        return web.json_response(
            {
                "events": [
                    {
                        "cursor": item.cursor,
                        "received_at": item.received_at,
                        "event": item.event.model_dump(mode="json"),
                    }
                    for item in page
                ],
                "next_cursor": page[-1].cursor if page else after,
                "has_more": has_more,
            }
        )

    async def shifts(self, request: web.Request) -> web.Response:
        """The shift report of the days asked for."""
        start, end = _days(request)
        schedule = self.schedule.current()
        window = shift_report_range(schedule, start, end)
        events = await self._read(lambda store: list(store.iter_check_ins(*window)))
        report = await asyncio.to_thread(shift_report, events, schedule, start, end, self.clock())
        return web.json_response(
            {
                "timezone": schedule.timezone,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "days": records(*report.to_table()),
                "flagged": records(*report.flags_table()),
            }
        )

    async def sessions(self, request: web.Request) -> web.Response:
        """The training sessions starting on the days asked for (local days)."""
        start, end = _days(request)
        schedule = self.schedule.current()
        chosen = [
            s.session_id
            for s in schedule.sessions
            if start <= schedule.local(s.start).date() <= end
        ]
        document: dict[str, Any] = {
            "timezone": schedule.timezone,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "sessions": [],
            "attendance": [],
        }
        if chosen:
            window = session_report_range(schedule, chosen)
            events = await self._read(lambda store: list(store.iter_check_ins(*window)))
            report = await asyncio.to_thread(session_report, events, schedule, chosen)
            document["sessions"] = records(*report.summary_table())
            document["attendance"] = records(*report.to_table())
        return web.json_response(document)

    async def terminals(self, _request: web.Request) -> web.Response:
        """Every terminal known from its status or its events."""
        delivery = {s.terminal_id: s for s in await self._read(lambda store: store.terminals())}
        seen = self.statuses.snapshot() if self.statuses is not None else {}
        rows = []
        for terminal_id in sorted(set(delivery) | set(seen)):
            status = seen.get(terminal_id)
            summary = delivery.get(terminal_id)
            rows.append(
                {
                    "terminal_id": terminal_id,
                    "status": None if status is None else status.status.model_dump(mode="json"),
                    "status_received_at": None if status is None else status.received_at,
                    "delivery": None if summary is None else dataclasses.asdict(summary),
                }
            )
        following = None if self.statuses is None else self.statuses.connected
        return web.json_response({"terminals": rows, "broker_connected": following})


ROUTES = (
    ("/v1/health", "health"),
    ("/v1/openapi.json", "openapi"),
    ("/v1/events", "events"),
    ("/v1/attendance/shifts", "shifts"),
    ("/v1/attendance/sessions", "sessions"),
    ("/v1/terminals", "terminals"),
)
"""Every path (all ``GET``) and its handler: the OpenAPI document lists exactly these."""


def build_app(api: Api, tokens: tuple[str, ...]) -> web.Application:
    """The aiohttp application: the routes, errors as JSON, tokens checked."""
    app = web.Application(middlewares=[json_errors, bearer_middleware(tokens)])
    for path, name in ROUTES:
        app.router.add_get(path, getattr(api, name), allow_head=False)
    return app
