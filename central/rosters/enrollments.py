"""Who is enrolled at which kiosk: the retained enrollment notices the terminals publish.

A kiosk that enrolls a face itself keeps the templates (the person's consent may not allow them
to leave it) and publishes only the fact, retained, on ``{prefix}/{terminal}/enrollments/{person}``
(:mod:`models.enrollment_notice`; the person id percent-encoded in the topic). When the person's
templates go, the kiosk clears that retained message.

:func:`collect_enrollments` subscribes to every terminal's notices, takes what the broker holds
(and anything that changes meanwhile) for a short settle time, and returns the notices, with one
line for each message that is not a valid notice.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote

from pydantic import ValidationError

from common.errors import BrokerError
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions, Message, Subscribed
from models.enrollment_notice import EnrollmentNotice
from models.signed_envelope import describe_error

CONNECT_TIMEOUT_S = 15.0
"""How long to wait for the broker to grant the subscription."""
MAX_NOTICE_BYTES = 4096
"""A notice is a few hundred bytes; anything much larger is not one."""


@dataclass(frozen=True)
class Enrollments:
    """What :func:`collect_enrollments` found: valid notices (by terminal, then person id) and
    one line per message that was not one (skipped)."""

    notices: list[EnrollmentNotice]
    problems: list[str]


def collect_enrollments(
    options: LinkOptions,
    topics: Topics,
    wait_s: float,
    interrupt: threading.Event | None = None,
) -> Enrollments:
    """Subscribe to every terminal's enrollment notices and collect them for ``wait_s`` seconds
    after the broker granted the subscription; :class:`BrokerError` if it never does."""
    subscriptions = ((topics.all_enrollments(), 1),)
    link = MqttLink(dataclasses.replace(options, subscriptions=subscriptions), interrupt)
    found: dict[tuple[str, str], EnrollmentNotice] = {}
    problems: list[str] = []
    try:
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        settled: float | None = None
        while settled is None or time.monotonic() < settled:
            if interrupt is not None and interrupt.is_set():
                break
            if settled is None and time.monotonic() > deadline:
                raise BrokerError(
                    f"{options.url}: no subscription to {topics.all_enrollments()} within"
                    f" {CONNECT_TIMEOUT_S:.0f} s ({link.last_error or 'no error reported'})"
                )
            for event in link.poll(0.05):
                if isinstance(event, Subscribed) and settled is None:
                    settled = time.monotonic() + wait_s
                elif isinstance(event, Message):
                    _take(topics, event, found, problems)
    finally:
        link.close()
    return Enrollments([found[k] for k in sorted(found)], problems)


def _take(
    topics: Topics,
    message: Message,
    found: dict[tuple[str, str], EnrollmentNotice],
    problems: list[str],
) -> None:
    """Record the notice ``message`` holds (an empty one: the person is no longer enrolled)."""
    where = _where(topics, message.topic)
    if where is None:
        problems.append(f"{message.topic}: not an enrollment topic")
        return
    if not message.payload:  # cleared while we listened
        found.pop(where, None)
        return
    if len(message.payload) > MAX_NOTICE_BYTES:
        problems.append(f"{message.topic}: {len(message.payload)} bytes, not a notice")
        return
    try:
        notice = EnrollmentNotice.model_validate_json(message.payload)
    except ValidationError as exc:
        problems.append(f"{message.topic}: not a valid enrollment notice ({describe_error(exc)})")
        return
    if (notice.terminal_id, notice.person_id) != where:
        problems.append(
            f"{message.topic}: the notice names {notice.person_id!r} at {notice.terminal_id},"
            " not the person and terminal of its topic"
        )
        return
    found[where] = notice


def _where(topics: Topics, topic: str) -> tuple[str, str] | None:
    """(terminal id, person id) of an enrollment topic, the person id percent-decoded."""
    head = f"{topics.prefix}/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 3 or parts[1] != "enrollments" or not parts[0] or not parts[2]:
        return None
    try:
        return parts[0], unquote(parts[2], errors="strict")
    except UnicodeDecodeError:
        return None
