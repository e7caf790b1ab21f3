"""Bearer tokens for the HR API: read from a file, compared in constant time.

The file holds one token per line (blank lines and ``#`` comments ignored), so a token can be
replaced without downtime: add the new one, move the HR system over, remove the old one, and
restart. A token shorter than :data:`MIN_TOKEN_LENGTH` characters is refused (one line naming
the file): a guessable token would be no protection.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from common.errors import ConfigError

MIN_TOKEN_LENGTH = 24
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/openapi.json"})
"""What answers without a token: whether the service is up, and what it offers."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_tokens(path: Path) -> tuple[str, ...]:
    """The tokens in ``path``; :class:`ConfigError` if it cannot be read, holds none, or one is
    too short."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the API token file ({exc})") from None
    tokens = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not tokens:
        raise ConfigError(f"{path}: no token in the API token file (one per line)")
    for number, token in enumerate(tokens, start=1):
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise ConfigError(
                f"{path}: token {number} is shorter than {MIN_TOKEN_LENGTH} characters or holds"
                " a space (make one with: openssl rand -hex 32)"
            )
    return tokens


def token_accepted(header: str | None, tokens: Collection[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (every token is compared,
    each in constant time, so the answer's timing tells nothing)."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    offered = credentials.strip().encode()
    matches = [hmac.compare_digest(offered, token.encode()) for token in tokens]
    return any(matches)


def bearer_middleware(tokens: Collection[str]) -> Middleware:
    """An aiohttp middleware: 401 (JSON, with ``WWW-Authenticate``) without a valid token,
    except on :data:`PUBLIC_PATHS`."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or token_accepted(
            request.headers.get("Authorization"), tokens
        ):
            return await handler(request)
        return web.json_response(
            {"error": "a valid bearer token is required (Authorization: Bearer <token>)"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="kiosk"'},
        )

    return check
