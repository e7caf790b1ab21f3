"""What a terminal tells the central side about a face enrolled on it: that the person is
enrolled there, and with how many templates. Never a template.

China's face rules keep face information on the device unless the person consents to its
transfer (:mod:`models.consent`), so a kiosk that enrolls a face reports only the fact.

Topic ``{prefix}/{terminal}/enrollments/{person}`` (terminal -> central, QoS 1, retained), where
``{person}`` is the person id percent-encoded (RFC 3986, every reserved character escaped: an id
may hold ``/``, ``+`` or ``#``). The retained message is an :class:`EnrollmentNotice` while the
person is enrolled there; when their templates go, the terminal publishes an empty retained
payload, which clears it.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.messages import SCHEMA_VERSION, TERMINAL_ID_PATTERN, UtcTimestamp


class EnrollmentNotice(BaseModel):
    """Retained on ``{prefix}/{terminal}/enrollments/{person}``: ``person_id`` is enrolled at
    ``terminal_id`` with ``templates`` face templates made there (which never leave it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN, description="Terminal reporting.")
    person_id: str = Field(min_length=1, max_length=64, description="Enrolled person's id.")
    state: Literal["enrolled"] = Field(
        description="Always enrolled: a person no longer enrolled has no retained notice."
    )
    templates: int = Field(ge=1, description="Face templates made at the terminal (kept there).")
    at: UtcTimestamp = Field(description="When the enrollment last changed, RFC 3339 UTC.")
