"""The kiosk page's HTTP endpoints (aiohttp), on the web server's own loop.

``GET /`` the page, ``GET /static/...`` its files, ``GET /events`` Server-Sent Events,
``GET /preview.mjpg`` the live view, ``POST /rendered`` the page's paint report,
``GET /state`` the current status and result as JSON, ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from drivers.display.web_hub import CLOSE, Hub, sse_frame
from drivers.display.web_preview import PreviewEncoder

STATIC_DIR = Path(__file__).with_name("web_static")
KEEPALIVE_S = 15.0
"""An SSE comment this often, so that proxies and the browser keep the stream open."""
RETRY_MS = 1000
"""How soon the browser's EventSource reconnects after losing the stream."""
BOUNDARY = "kioskframe"
NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}

HUB_KEY = web.AppKey("hub", Hub)
PREVIEW_KEY = web.AppKey("preview", PreviewEncoder)


def build_app(
    hub: Hub, preview: PreviewEncoder, keepalive_s: float = KEEPALIVE_S
) -> web.Application:
    """The application serving the page, its events, the live view and the reports."""
    app = web.Application(client_max_size=64 * 1024)
    app[HUB_KEY] = hub
    app[PREVIEW_KEY] = preview

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


async def _no_cache(request: web.Request, response: web.StreamResponse) -> None:
    """The kiosk must never show a stale page after an update."""
    response.headers.update(NO_CACHE)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _events(request: web.Request, hub: Hub, keepalive_s: float) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}
    )
    if hub.closing:
        raise web.HTTPServiceUnavailable(text="closing")
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), keepalive_s)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if message is CLOSE:
                break
            await response.write(sse_frame(message))
    except ConnectionResetError:
        pass  # the client left; a cancellation (handler_cancellation) goes through
    finally:
        hub.unsubscribe(queue)
    return response


async def _preview(request: web.Request) -> web.StreamResponse:
    encoder = request.app[PREVIEW_KEY]
    if not request.app[HUB_KEY].config.get("preview", True):
        raise web.HTTPNotFound(text="the live view is off")
    if encoder.closing:
        raise web.HTTPServiceUnavailable(text="closing")
    response = web.StreamResponse(
        headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
    )
    await response.prepare(request)
    encoder.join()
    try:
        seen = 0
        while True:
            frame = await encoder.next_jpeg(seen)
            if frame is None:
                break
            seen, jpeg = frame
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            ).encode()
            await response.write(head + jpeg + b"\r\n")
    except ConnectionResetError:
        pass  # the client left; a cancellation (handler_cancellation) goes through
    finally:
        encoder.leave()
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
    return web.json_response(
        {"ok": not hub.closing, "clients": hub.clients, "preview_clients": encoder.viewers}
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
