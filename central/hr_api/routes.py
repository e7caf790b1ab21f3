"""The HR API's endpoints (aiohttp), each described in ``openapi.json`` beside this file.

- ``GET /v1/events?after=CURSOR&limit=N``: check-ins in the order they were committed, after a
  cursor. A client stores ``next_cursor`` and asks again from it: no event is missed or given
  twice across pages, even with several receivers writing (see
  :meth:`central.receiver.store.ReceiverStore.events_after`).
- ``GET /v1/attendance/shifts?from=DAY&to=DAY``: the shift report's rows and monthly flags.
- ``GET /v1/attendance/sessions?from=DAY&to=DAY``: the training sessions starting those days,
  with their pairs.
- ``GET /v1/attendance/month?month=YYYY-MM``: the month summary for payroll.
- ``GET /v1/attendance/programmes[?programme=ID...]``: training programmes per person.

The attendance answers are ``kiosk report``'s: leave and supervisors' corrections applied.
- ``GET /v1/terminals``: each terminal's last status and delivery totals.
- ``GET /v1/leave?from=DAY&to=DAY[&person=ID][&cancelled=true]``: the leave periods meeting
  those local days.
- ``POST /v1/leave`` (write): import leave rows (``leave_id, person_id, kind, from, to``, local
  times in the schedule's zone, as :mod:`central.records.leave_file` reads them); all or none.
- ``DELETE /v1/leave/{leave_id}`` (write): cancel one, body ``{"cancelled_by": "..."}``.
- ``GET /v1/corrections`` and ``POST /v1/corrections`` (write): supervisors' corrections (a
  check-in added or voided).
- ``GET /v1/health`` and ``GET /v1/openapi.json``: no token needed.

Writes need a token with the ``write`` scope (:mod:`central.hr_api.auth`). Database reads and
writes run in worker threads (one connection each for the check-ins and the HR records, one
caller at a time), never on the event loop. Every error is JSON ``{"error": "..."}``: 400 for
a bad parameter or body, 401 without a valid token, 403 for a read-only token on a write, 404
for no such path or record, 409 for a write contradicting what is stored, 413 for a body too
large, 503 when the database cannot be read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import ValidationError

from central.hr_api.auth import ApiToken, Handler, bearer_middleware
from central.hr_api.statuses import StatusFollower
from central.receiver.store import ReceiverStore
from central.records.leave_file import leave_from_rows
from central.records.store import RecordsStore
from central.reports.adjustments import Adjustments
from central.reports.month import month_days, month_summary
from central.reports.programmes import programme_report, programme_sessions
from central.reports.sessions import session_report, session_report_range
from central.reports.shifts import shift_report, shift_report_range
from central.reports.text import records
from common.errors import KioskError, RecordError, StoreError, UnknownRecordError
from common.schedule_file import describe_validation, load_schedule
from models.hr_records import CheckInCorrection
from models.schedule import Schedule

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_DAYS = 31
"""The longest range one attendance request may ask for (a month; a year is `kiosk report`'s)."""
MAX_LEAVE_DAYS = 366
"""The longest range one leave listing may ask for."""
MAX_LEAVE_ROWS = 10_000
"""The most leave rows one ``POST /v1/leave`` may carry (413 above)."""
MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest request body (413 above): room for :data:`MAX_LEAVE_ROWS` rows with notes."""


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document (``central/hr_api/openapi.json``)."""
    text = resources.files("central.hr_api").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class StoreReader(Generic[S]):
    """A database store (the receiver's, or the HR records'), opened on first use and used by
    one thread at a time."""

    def __init__(self, open_store: Callable[[], S]) -> None:
        self._open = open_store
        self._store: S | None = None
        self._lock = threading.Lock()

    def read(self, work: Callable[[S], Any]) -> Any:
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


def _days(
    request: web.Request,
    max_days: int = MAX_DAYS,
    longer: str = "kiosk report shifts for longer ranges",
) -> tuple[date, date]:
    """``from`` and ``to`` (default: ``from``), at most ``max_days`` apart."""
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
    if (end - start).days >= max_days:
        raise _bad(f"at most {max_days} days per request ({longer})")
    return start, end


def _error(status: int, message: str) -> web.HTTPException:
    """An HTTP error (400, 404, 409 or 413) with a JSON body (kept as is by
    :func:`json_errors`)."""
    options: dict[str, Any] = {
        "text": json.dumps({"error": message}, ensure_ascii=False),
        "content_type": "application/json",
    }
    if status == 413:
        return web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, 0, **options)
    kinds: dict[int, type[web.HTTPException]] = {404: web.HTTPNotFound, 409: web.HTTPConflict}
    return kinds.get(status, web.HTTPBadRequest)(**options)


async def _json_body(request: web.Request) -> Any:
    """The request's JSON body; 400 if it is not JSON."""
    try:
        return await request.json()
    except ValueError as exc:
        raise _error(400, f"the body is not JSON: {exc}") from None


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise _bad(f"{name}={raw!r}: use true or false")
    return raw in ("true", "1")


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
        reader: StoreReader[ReceiverStore],
        schedule: ScheduleFile,
        statuses: StatusFollower | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        records: StoreReader[RecordsStore] | None = None,
    ) -> None:
        self.reader = reader
        self.schedule = schedule
        self.statuses = statuses
        self.clock = clock
        self.records = records
        """The HR records (leave, corrections); without it those paths answer 503."""

    async def _read(self, work: Callable[[ReceiverStore], Any]) -> Any:
        return await asyncio.to_thread(self.reader.read, work)

    async def _records(self, work: Callable[[RecordsStore], Any]) -> Any:
        if self.records is None:
            raise StoreError("this API has no HR records database")
        return await asyncio.to_thread(self.records.read, work)

    async def _adjustments(self, start: datetime, end: datetime) -> Adjustments:
        """The leave and corrections a report of ``[start, end)`` applies."""
        if self.records is None:
            return Adjustments()
        found: Adjustments = await self._records(lambda s: Adjustments.read(s, start, end))
        return found

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
        adjustments = await self._adjustments(*window)
        events = await self._read(lambda store: list(store.iter_check_ins(*window)))
        report = await asyncio.to_thread(
            shift_report, events, schedule, start, end, self.clock(), adjustments
        )
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
            "pairs": [],
        }
        if chosen:
            window = session_report_range(schedule, chosen)
            adjustments = await self._adjustments(*window)
            events = await self._read(lambda store: list(store.iter_check_ins(*window)))
            report = await asyncio.to_thread(session_report, events, schedule, chosen, adjustments)
            document["sessions"] = records(*report.summary_table())
            document["attendance"] = records(*report.to_table())
            document["pairs"] = records(*report.pairs_table())
        return web.json_response(document)

    async def month(self, request: web.Request) -> web.Response:
        """The month summary for payroll."""
        month = request.query.get("month", "")
        try:
            first, last = month_days(month)
        except ValueError as exc:
            raise _bad(f"month: {exc}") from None
        schedule = self.schedule.current()
        window = shift_report_range(schedule, first, last)
        adjustments = await self._adjustments(*window)
        events = await self._read(lambda store: list(store.iter_check_ins(*window)))
        summary = await asyncio.to_thread(
            month_summary, events, schedule, month, self.clock(), adjustments
        )
        return web.json_response(
            {"timezone": schedule.timezone, "month": month, "rows": records(*summary.to_table())}
        )

    async def programmes(self, request: web.Request) -> web.Response:
        """Training programmes per person (the ones named by ``programme``, or all)."""
        schedule = self.schedule.current()
        wanted = request.query.getall("programme", []) or None
        try:
            session_ids = programme_sessions(schedule, wanted)
            window = session_report_range(schedule, session_ids)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        adjustments = await self._adjustments(*window)
        events = await self._read(lambda store: list(store.iter_check_ins(*window)))
        sessions = await asyncio.to_thread(
            session_report, events, schedule, session_ids, adjustments
        )
        report = programme_report(sessions, schedule, wanted)
        return web.json_response(
            {"timezone": schedule.timezone, "rows": records(*report.to_table())}
        )

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

    # -- HR records ------------------------------------------------------------------------------

    async def leave_list(self, request: web.Request) -> web.Response:
        """The leave periods meeting the local days asked for (one person's with ``person``;
        cancelled ones too with ``cancelled=true``)."""
        start, end = _days(request, MAX_LEAVE_DAYS, "ask again for the next range")
        person = request.query.get("person")
        cancelled = _flag(request, "cancelled")
        schedule = self.schedule.current()
        zone = schedule.zone
        window = (
            datetime.combine(start, time(0), zone),
            datetime.combine(end + timedelta(days=1), time(0), zone),
        )
        found = await self._records(lambda store: store.leave_between(*window, cancelled))
        chosen = [p for p in found if person is None or p.person_id == person]
        return web.json_response(
            {
                "timezone": schedule.timezone,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "leave": [p.model_dump(mode="json") for p in chosen],
            }
        )

    async def leave_import(self, request: web.Request) -> web.Response:
        """Import leave rows, all or none: ``{"leave": [...]}`` -> ``{"new", "replaced"}``."""
        body = await _json_body(request)
        rows = body.get("leave") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise _error(400, 'the body must be {"leave": [ {leave_id, person_id, kind, from,'
                              ' to, note, approved_by}, ... ]}')  # fmt: skip
        if len(rows) > MAX_LEAVE_ROWS:
            raise _error(
                413, f"{len(rows)} leave rows: at most {MAX_LEAVE_ROWS} per request (send more"
                " requests)"
            )  # fmt: skip
        zone = self.schedule.current().zone
        try:
            periods = await asyncio.to_thread(leave_from_rows, rows, zone, "leave")
            new, replaced = await self._records(lambda store: store.put_leave(periods))
        except RecordError as exc:
            raise _error(400, str(exc)) from None
        return web.json_response({"new": new, "replaced": replaced})

    async def leave_cancel(self, request: web.Request) -> web.Response:
        """Cancel one leave period (kept, marked with who and when): 404 if unknown, 409 if
        already cancelled."""
        leave_id = request.match_info["leave_id"]
        body = await _json_body(request) if request.can_read_body else None
        by = body.get("cancelled_by") if isinstance(body, dict) else None
        if not isinstance(by, str) or not by.strip() or len(by) > 64:
            raise _error(400, 'the body must be {"cancelled_by": "<who, 1-64 characters>"}')
        try:
            stored = await self._records(lambda store: store.cancel_leave(leave_id, by.strip()))
        except RecordError as exc:
            status = 404 if isinstance(exc, UnknownRecordError) else 409
            raise _error(status, str(exc)) from None
        return web.json_response(stored.model_dump(mode="json"))

    async def corrections_list(self, _request: web.Request) -> web.Response:
        """Every correction, in the order recorded."""
        found = await self._records(lambda store: store.corrections())
        return web.json_response({"corrections": [c.model_dump(mode="json") for c in found]})

    async def correction_add(self, request: web.Request) -> web.Response:
        """Record a correction (a check-in added or voided): 201 with it as stored; 409 when
        it contradicts what is stored (an unknown or already voided check-in)."""
        body = await _json_body(request)
        try:
            correction = CheckInCorrection.model_validate(body)
        except ValidationError as exc:
            raise _error(400, f"not a correction: {describe_validation(exc)}") from None
        try:
            stored = await self._records(lambda store: store.add_correction(correction))
        except RecordError as exc:
            raise _error(409, str(exc)) from None
        return web.json_response(stored.model_dump(mode="json"), status=201)


ROUTES = (
    ("GET", "/v1/health", "health"),
    ("GET", "/v1/openapi.json", "openapi"),
    ("GET", "/v1/events", "events"),
    ("GET", "/v1/attendance/shifts", "shifts"),
    ("GET", "/v1/attendance/sessions", "sessions"),
    ("GET", "/v1/attendance/month", "month"),
    ("GET", "/v1/attendance/programmes", "programmes"),
    ("GET", "/v1/terminals", "terminals"),
    ("GET", "/v1/leave", "leave_list"),
    ("POST", "/v1/leave", "leave_import"),
    ("DELETE", "/v1/leave/{leave_id}", "leave_cancel"),
    ("GET", "/v1/corrections", "corrections_list"),
    ("POST", "/v1/corrections", "correction_add"),
)
"""Every method, path and handler: the OpenAPI document lists exactly these (every method but
``GET`` needs a ``write`` token)."""


def build_app(api: Api, tokens: Collection[ApiToken | str]) -> web.Application:
    """The aiohttp application: the routes, errors as JSON, tokens (and their scope) checked."""
    app = web.Application(
        middlewares=[json_errors, bearer_middleware(tokens)], client_max_size=MAX_BODY_BYTES
    )
    for method, path, name in ROUTES:
        if method == "GET":
            app.router.add_get(path, getattr(api, name), allow_head=False)
        else:
            app.router.add_route(method, path, getattr(api, name))
    return app
