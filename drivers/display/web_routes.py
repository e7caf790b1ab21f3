"""The kiosk page's HTTP endpoints (aiohttp), on the web server's own loop.

``GET /`` the page (in the kiosk's language, see :func:`render_index`), ``GET /static/...``
its files, ``GET /events`` Server-Sent Events, ``GET /preview.mjpg`` the live view,
``POST /rendered`` the page's paint report, ``GET /state`` the current status and result as
JSON, ``GET /healthz``.

The two streams count against one :class:`~drivers.display.web_limits.StreamSlots`: past its
limit they are answered ``503`` with ``Retry-After`` and a one-line reason (the page retries by
itself). A stream whose client stops reading is ended after :data:`WRITE_TIMEOUT_S`; every
other request must be answered within :data:`REQUEST_TIMEOUT_S` (a body sent a byte at a time
does not hold its connection for ever).
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from drivers.display.web_hub import CLOSE, Hub, sse_frame
from drivers.display.web_limits import RETRY_AFTER_S, ConnectionGuard, StreamSlots
from drivers.display.web_preview import PreviewEncoder

STATIC_DIR = Path(__file__).with_name("web_static")
KEEPALIVE_S = 15.0
"""An SSE comment this often, so that proxies and the browser keep the stream open."""
RETRY_MS = 1000
"""How soon the browser's EventSource reconnects after losing the stream."""
WRITE_TIMEOUT_S = 30.0
"""A stream whose client has not taken a write for this long is ended (and its connection)."""
REQUEST_TIMEOUT_S = 10.0
"""Any request but the two streams must have been handled within this (else 408)."""
BOUNDARY = "kioskframe"
NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}
STREAM_PATHS = frozenset({"/events", "/preview.mjpg"})

HUB_KEY = web.AppKey("hub", Hub)
PREVIEW_KEY = web.AppKey("preview", PreviewEncoder)
STREAMS_KEY = web.AppKey("streams", StreamSlots)
CONNECTIONS_KEY = web.AppKey("connections", ConnectionGuard)


def build_app(
    hub: Hub,
    preview: PreviewEncoder,
    streams: StreamSlots,
    connections: ConnectionGuard,
    keepalive_s: float = KEEPALIVE_S,
) -> web.Application:
    """The application serving the page, its events, the live view and the reports;
    ``streams`` bounds the streams served at once, ``connections`` (the guard the server is
    run behind) is only reported by ``/healthz``."""
    app = web.Application(client_max_size=64 * 1024, middlewares=[_deadline])
    app[HUB_KEY] = hub
    app[PREVIEW_KEY] = preview
    app[STREAMS_KEY] = streams
    app[CONNECTIONS_KEY] = connections

    async def events(request: web.Request) -> web.StreamResponse:
        return await _events(request, hub, keepalive_s)

    app.router.add_get("/", _index)
    app.router.add_get("/events", events)
    app.router.add_get("/preview.mjpg", _preview)
    app.router.add_post("/rendered", _rendered)
    app.router.add_get("/state", _state)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/static", STATIC_DIR, append_version=False)
    app.on_response_prepare.append(_no_cache)
    return app


@web.middleware
async def _deadline(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every request but the streams is answered within :data:`REQUEST_TIMEOUT_S`."""
    if request.path in STREAM_PATHS:
        response: web.StreamResponse = await handler(request)
        return response
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            response = await handler(request)
            return response
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request took too long") from None


def _refused(streams: StreamSlots) -> web.Response:
    """503 with ``Retry-After`` and the reason; the connection is closed after it."""
    response = web.Response(
        status=503, text=streams.refusal() + "\n", headers={"Retry-After": str(RETRY_AFTER_S)}
    )
    response.force_close()
    return response


async def _write(request: web.Request, response: web.StreamResponse, data: bytes) -> bool:
    """Write to a stream; False when the client has not taken it within
    :data:`WRITE_TIMEOUT_S` (its connection is then dropped) or is gone."""
    try:
        await asyncio.wait_for(response.write(data), WRITE_TIMEOUT_S)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
        return False
    except ConnectionResetError:
        return False  # the client left; a cancellation (handler_cancellation) goes through
    return True


async def _no_cache(request: web.Request, response: web.StreamResponse) -> None:
    """The kiosk must never show a stale page after an update."""
    response.headers.update(NO_CACHE)


def render_index(template: str, lang: str, labels: dict[str, str]) -> str:
    """The page with its language and idle texts filled in (``{{lang}}``, ``{{title}}``,
    ``{{idle}}``, ``{{notice}}``: the face-recognition notice, empty when ``labels`` has none),
    so that before it has connected it shows the date and texts in the kiosk's language, not
    the browser's, and the notice from the first paint."""
    title = labels.get("title", "")
    values = {"lang": lang, "title": title or "…", "idle_title": title,
              "idle": labels.get("idle", ""), "notice": labels.get("notice", "")}  # fmt: skip
    page = template
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return page


@functools.cache
def _index_template() -> str:
    """``index.html``, read once per process (an update restarts the daemon)."""
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


async def _index(request: web.Request) -> web.Response:
    lang, labels = request.app[HUB_KEY].page_texts()
    page = render_index(_index_template(), lang, labels)
    return web.Response(text=page, content_type="text/html")


async def _events(request: web.Request, hub: Hub, keepalive_s: float) -> web.StreamResponse:
    if hub.closing:
        raise web.HTTPServiceUnavailable(text="closing")
    streams = request.app[STREAMS_KEY]
    if not streams.take():
        return _refused(streams)
    try:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        queue = hub.subscribe()
        try:
            sending = await _write(request, response, f"retry: {RETRY_MS}\n\n".encode())
            while sending:
                try:
                    message = await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    sending = await _write(request, response, b": keepalive\n\n")
                    continue
                if message is CLOSE:
                    break
                sending = await _write(request, response, sse_frame(message))
        finally:
            hub.unsubscribe(queue)
    finally:
        streams.give_back()
    return response


async def _preview(request: web.Request) -> web.StreamResponse:
    encoder = request.app[PREVIEW_KEY]
    if not request.app[HUB_KEY].config.get("preview", True):
        raise web.HTTPNotFound(text="the live view is off")
    if encoder.closing:
        raise web.HTTPServiceUnavailable(text="closing")
    streams = request.app[STREAMS_KEY]
    if not streams.take():
        return _refused(streams)
    try:
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        await response.prepare(request)
        encoder.join()
        try:
            seen = 0
            sending = True
            while sending:
                frame = await encoder.next_jpeg(seen)
                if frame is None:
                    break
                seen, jpeg = frame
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n"
                ).encode()
                sending = await _write(request, response, head + jpeg + b"\r\n")
        finally:
            encoder.leave()
    finally:
        streams.give_back()
    return response


MAX_SHOWN_AT_MS = 1e14
"""Paint times (epoch milliseconds) at or past this (the year 5138) are refused as garbage."""


async def _rendered(request: web.Request) -> web.Response:
    try:
        body: Any = await request.json()
        sequence = body["sequence"]
        shown_at = body["shown_at"]
        valid = (
            isinstance(sequence, int)
            and not isinstance(sequence, bool)
            and 0 <= sequence < 2**63
            and isinstance(shown_at, int | float)
            and not isinstance(shown_at, bool)
            and 0 < shown_at < MAX_SHOWN_AT_MS  # also refuses Infinity and NaN
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        valid = False
    if not valid:
        raise web.HTTPBadRequest(text='expected JSON {"sequence": <int>, "shown_at": <epoch ms>}')
    recorded = request.app[HUB_KEY].rendered(sequence, float(shown_at))
    return web.json_response({"recorded": recorded})


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[HUB_KEY].state(), dumps=_dumps)


async def _healthz(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    encoder = request.app[PREVIEW_KEY]
    streams = request.app[STREAMS_KEY]
    connections = request.app[CONNECTIONS_KEY]
    return web.json_response(
        {
            "ok": not hub.closing,
            "clients": hub.clients,
            "preview_clients": encoder.viewers,
            "streams": streams.active,
            "max_stream_clients": streams.limit,
            "refused_streams": streams.refused,
            "connections": connections.open,
            "max_connections": connections.limit,
            "refused_connections": connections.refused,
            "dropped_slow_connections": connections.timed_out,
        }
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
