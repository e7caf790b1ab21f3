"""Consent records for tests: face templates are only stored with one (:mod:`models.consent`)."""

from __future__ import annotations

from datetime import date

from models.consent import Consent

ON_DEVICE = Consent(scope="on_device", given_at=date(2026, 12, 1), recorded_by="hr-test")
"""Templates may be made and kept on the kiosk, never sent."""
TRANSFER = Consent(scope="transfer", given_at=date(2026, 12, 1), recorded_by="hr-test")
"""Templates may also travel in rosters."""
WITHDRAWN = Consent(scope="none", given_at=date(2026, 12, 2), recorded_by="hr-test")
"""The person refused or withdrew consent: QR code only."""
