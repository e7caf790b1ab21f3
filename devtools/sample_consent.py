"""The consent the demo and the benches record for their people (sample photos and videos of
public datasets, on a throwaway kiosk database): templates are only stored with one."""

from __future__ import annotations

from datetime import date

from models.consent import Consent

SAMPLE_CONSENT = Consent(scope="on_device", given_at=date(2026, 1, 1), recorded_by="kiosk demo")
"""On this kiosk only, as the demo records it."""
