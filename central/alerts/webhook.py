"""POST an alert to an HTTP webhook (the HR system's SMS or app-message gateway), with retries.

:class:`WebhookClient` sends one :class:`models.alert.Alert` as its JSON, with the headers
``Content-Type: application/json``, ``Idempotency-Key: <alert_id>`` (the same for every POST of
the same alert, in any round and after a restart, so a gateway that saw a POST whose answer was
lost can drop the repeat) and, with a token, ``Authorization: Bearer <token>``. The answer
decides (:class:`Delivery`):

- 2xx: ``accepted``;
- a connection error, a timeout (no answer within ``timeout_s``, e.g. the connection dropped
  before the answer), 408, 429 and 5xx: POSTed again after an exponential backoff with jitter,
  or after the ``Retry-After`` of a 408/429/503; after ``attempts`` POSTs, ``unavailable`` (the
  caller tries again later). A ``Retry-After`` longer than ``backoff_max_s`` is not waited for
  inside the call: it is ``unavailable`` at once and :meth:`WebhookClient.pause_s` tells the
  caller how long to leave the gateway alone;
- any other status (another 4xx; a 3xx too, as redirects are not followed: the token must not
  go to another host, and a POST must not turn into a GET): ``refused``, a permanent refusal of
  that alert.

Only the standard library is used (:mod:`urllib.request`): one synchronous POST at a time.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit

from common.errors import ConfigError
from models.alert import Alert

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 429})
"""Statuses below 500 that mean "try again later", not "never"."""

BODY_HEAD = 200
"""How much of a refusal's body is kept for the log, in bytes."""

USER_AGENT = "kiosk-alerts"

Outcome = Literal["accepted", "refused", "unavailable", "stopped"]


@dataclass(frozen=True)
class WebhookOptions:
    """Where and how alerts are POSTed; the retry settings apply to one alert in one call."""

    url: str
    token: str | None = None
    ca_file: Path | None = None
    timeout_s: float = 10.0
    attempts: int = 5
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        try:
            parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
        except ValueError:
            raise ConfigError(f"webhook {self.url!r}: not a valid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"webhook {self.url!r}: not an http:// or https:// URL")
        if self.ca_file is not None and parts.scheme != "https":
            raise ConfigError("a webhook CA file needs an https:// webhook URL")
        if self.attempts < 1 or self.timeout_s <= 0 or self.backoff_min_s < 0:
            raise ConfigError("webhook: attempts >= 1, timeout > 0 and backoff >= 0 are required")

    @property
    def address(self) -> str:
        """The webhook's host and port, for logs (never its path or query, which may be secret)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True)
class Delivery:
    """What became of one alert in one :meth:`WebhookClient.post` call."""

    outcome: Outcome
    attempts: int
    """POSTs made in this call."""
    reason: str
    """The last answer: ``HTTP 200``, ``HTTP 400: <body head>``, ``timed out``..."""


@dataclass(frozen=True)
class _Answer:
    status: int | None
    """None: no answer (connection error, timeout, connection closed before the answer)."""
    reason: str
    retry_after_s: float | None = None


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_bearer_token(token: str) -> bool:
    """Whether ``token`` can go in an ``Authorization: Bearer`` header: printable ASCII, no
    spaces, not empty."""
    return re.fullmatch(r"[\x21-\x7e]+", token) is not None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Turns every 3xx into an :class:`urllib.error.HTTPError` (see the module docstring)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Follow nothing."""
        return None


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{ca_file}: cannot load the webhook CA file: {exc}") from None


def _body_head(error: urllib.error.HTTPError) -> str:
    try:
        head = error.read(BODY_HEAD)
    except (OSError, http.client.HTTPException):
        return ""
    return head.decode("utf-8", "replace").strip().replace("\n", " ")


class WebhookClient:
    """POSTs alerts to one webhook with :class:`WebhookOptions`; see the module docstring."""

    def __init__(self, options: WebhookOptions) -> None:
        if options.token is not None and not is_bearer_token(options.token):
            raise ConfigError("the webhook token is empty or not printable ASCII without spaces")
        self.options = options
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if urlsplit(options.url).scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=_ssl_context(options.ca_file)))
        self._opener = urllib.request.build_opener(*handlers)
        if options.token and urlsplit(options.url).scheme != "https":
            log.warning("the webhook token goes to %s in clear: use https://", options.address)
        self._random = random.Random()
        self._paused_until = 0.0

    def pause_s(self) -> float:
        """Seconds the gateway asked (``Retry-After``) to be left alone from now; 0 when none."""
        return max(0.0, self._paused_until - time.monotonic())

    def post(self, alert: Alert, stop: threading.Event) -> Delivery:
        """POST ``alert`` until it is accepted, refused, or ``attempts`` POSTs failed; the
        backoff waits end early (``stopped``) when ``stop`` is set."""
        opts = self.options
        answer = _Answer(None, "not posted")
        for attempt in range(1, opts.attempts + 1):
            answer = self._post_once(alert)
            if answer.status is not None and 200 <= answer.status < 300:
                return Delivery("accepted", attempt, answer.reason)
            if answer.status is not None and not self._retryable(answer.status):
                return Delivery("refused", attempt, answer.reason)
            delay = self._backoff_s(attempt)
            if answer.retry_after_s is not None:
                if answer.retry_after_s > opts.backoff_max_s:
                    self._paused_until = time.monotonic() + answer.retry_after_s
                    return Delivery("unavailable", attempt, answer.reason)
                delay = answer.retry_after_s
            if attempt == opts.attempts:
                break
            log.debug(
                "webhook POST of %s: %s; again in %.1f s", alert.alert_id, answer.reason, delay
            )
            if stop.wait(delay):
                return Delivery("stopped", attempt, answer.reason)
        return Delivery("unavailable", opts.attempts, answer.reason)

    @staticmethod
    def _retryable(status: int) -> bool:
        return status >= 500 or status in RETRYABLE_STATUSES

    def _backoff_s(self, failures: int) -> float:
        opts = self.options
        ceiling = min(opts.backoff_max_s, opts.backoff_min_s * 2 ** min(failures - 1, 30))
        return self._random.uniform(ceiling / 2, ceiling)

    def _post_once(self, alert: Alert) -> _Answer:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(alert.alert_id),
            "User-Agent": USER_AGENT,
        }
        if self.options.token:
            headers["Authorization"] = f"Bearer {self.options.token}"
        request = urllib.request.Request(
            self.options.url,
            data=alert.model_dump_json().encode(),
            headers=headers,
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.options.timeout_s) as response:
                return _Answer(response.status, f"HTTP {response.status}")
        except urllib.error.HTTPError as error:
            head = _body_head(error)
            reason = f"HTTP {error.code}" + (f": {head}" if head else "")
            if 300 <= error.code < 400:
                reason += " (redirects are not followed: give the final URL)"
            return _Answer(error.code, reason, self._retry_after(error.code, error.headers))
        except urllib.error.URLError as error:
            return _Answer(None, str(error.reason))
        except (OSError, http.client.HTTPException) as error:
            return _Answer(None, str(error) or type(error).__name__)

    @staticmethod
    def _retry_after(status: int, headers: Message) -> float | None:
        if status not in (408, 429, 503):
            return None
        return retry_after_s(headers.get("Retry-After"), datetime.now(UTC))
