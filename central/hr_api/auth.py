"""Bearer tokens for the HR API: read from a file, compared in constant time, each with a scope.

The file holds one token per line (blank lines and ``#`` comments ignored), so a token can be
replaced without downtime: add the new one, move the HR system over, remove the old one, and
restart. A line is either

- ``TOKEN``: the token may only read (every ``GET``), as token files always meant; or
- ``TOKEN write`` (the token, a space, the word ``write``): the token may also write (import
  and cancel leave, record corrections: every method but ``GET``).

A read-only token on a write request is answered 403. A token shorter than
:data:`MIN_TOKEN_LENGTH` characters, or a line with anything else after the token, is refused
(one line naming the file): a guessable token would be no protection.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from common.errors import ConfigError

MIN_TOKEN_LENGTH = 24
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/openapi.json"})
"""What answers without a token: whether the service is up, and what it offers."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""The methods a read-only token may use; every other one needs a ``write`` token."""
WRITE_SCOPE = "write"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ApiToken:
    """One token of the token file and whether it may write."""

    value: str
    write: bool = False


def _parse_line(path: Path, number: int, line: str) -> ApiToken:
    parts = line.split()
    token = parts[0]
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{path}: token {number} is shorter than {MIN_TOKEN_LENGTH} characters"
            " (make one with: openssl rand -hex 32)"
        )
    if len(parts) == 1:
        return ApiToken(token)
    if len(parts) == 2 and parts[1] == WRITE_SCOPE:
        return ApiToken(token, write=True)
    raise ConfigError(
        f"{path}: token {number} holds a space or an unknown scope"
        f" (a line is TOKEN, or TOKEN {WRITE_SCOPE}; make one with: openssl rand -hex 32)"
    )


def load_tokens(path: Path) -> tuple[ApiToken, ...]:
    """The tokens in ``path`` with their scopes; :class:`ConfigError` if it cannot be read,
    holds none, or one is too short or has an unknown scope."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the API token file ({exc})") from None
    kept = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not kept:
        raise ConfigError(f"{path}: no token in the API token file (one per line)")
    return tuple(_parse_line(path, number, line) for number, line in enumerate(kept, start=1))


def _as_token(token: ApiToken | str) -> ApiToken:
    return token if isinstance(token, ApiToken) else ApiToken(token)


def token_scope(header: str | None, tokens: Collection[ApiToken | str]) -> str | None:
    """What an ``Authorization`` header's token may do: ``"write"``, ``"read"``, or None for
    no valid token. Every token is compared, each in constant time, so the answer's timing
    tells nothing (a plain string in ``tokens`` is a read-only token)."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    offered = credentials.strip().encode()
    accepted = write = False
    for token in map(_as_token, tokens):
        match = hmac.compare_digest(offered, token.value.encode())
        accepted |= match
        write |= match and token.write
    if not accepted:
        return None
    return WRITE_SCOPE if write else "read"


def token_accepted(header: str | None, tokens: Collection[ApiToken | str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (compared in constant
    time, see :func:`token_scope`)."""
    return token_scope(header, tokens) is not None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def bearer_middleware(tokens: Collection[ApiToken | str]) -> Middleware:
    """An aiohttp middleware: 401 (JSON, with ``WWW-Authenticate``) without a valid token,
    except on :data:`PUBLIC_PATHS`; 403 (JSON) for a read-only token on a method not in
    :data:`READ_METHODS`."""
    known = tuple(map(_as_token, tokens))

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        scope = token_scope(request.headers.get("Authorization"), known)
        if scope is None:
            return _error(
                401,
                "a valid bearer token is required (Authorization: Bearer <token>)",
                {"WWW-Authenticate": 'Bearer realm="kiosk"'},
            )
        if request.method not in READ_METHODS and scope != WRITE_SCOPE:
            return _error(
                403,
                f"this token may only read: {request.method} needs a token with the"
                f" {WRITE_SCOPE} scope (a token file line 'TOKEN {WRITE_SCOPE}')",
            )
        return await handler(request)

    return check
