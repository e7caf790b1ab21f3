"""The provisioning scanner with real signed codes: each refusal reason, the unsynchronised
clock, repeats, replays; enrollment itself is replaced here (see test_enroll_client.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.provisioning_code import ProvisioningClaims, issue_provisioning_code
from models.signed_code import issue_code
from terminal.config import Config
from terminal.provisioning.certificate_client import EnrollmentResult
from terminal.provisioning.scan import ProvisioningScanner
from tests.signed_code_tools import Clock, hr_keys
from tests.tls_tools import Pki
from tests.unit.test_provisioned_state import provision

ORG = "org1"


class FakeEnroll:
    """Stands in for :func:`terminal.provisioning.certificate_client.enroll`: records calls,
    returns ``result``
    (and with ``pki``, writes a state as a real enrollment does)."""

    def __init__(self, result: EnrollmentResult | None = None, pki: Pki | None = None) -> None:
        self.result = result or EnrollmentResult(None, "enrolled")
        self.pki = pki
        self.calls: list[ProvisioningClaims] = []

    def __call__(
        self, claims: ProvisioningClaims, code: str, state_dir: Path, timeout_s: float,
        stop: threading.Event, **_: Any,
    ) -> EnrollmentResult:  # fmt: skip
        assert code.startswith("ATT1:P:") and 1 < timeout_s <= 25 and not stop.is_set()
        self.calls.append(claims)
        if self.pki is not None and self.result.ok:
            provision(self.pki, state_dir.parent)
        return self.result


def config(tmp_path: Path, **provisioning: Any) -> Config:
    """An unprovisioned kiosk trusting the org keys in ``tmp_path / "org-keys"``."""
    section = {"org_keys_dir": str(tmp_path / "org-keys"), **provisioning}
    return Config.model_validate(
        {
            "terminal": {"language": "en"},
            "storage": {"data_dir": str(tmp_path / "data")},
            "provisioning": section,
        }
    )


@pytest.fixture
def org_key(tmp_path: Path) -> Ed25519PrivateKey:
    """The organisation's signing key; its public half is in ``org-keys/org1.pub``."""
    return hr_keys(tmp_path / "org-keys", ORG)[ORG]


def code(key: Ed25519PrivateKey, key_id: str = ORG, **options: Any) -> str:
    """A provisioning code for kiosk-07 (``now``, ``ttl_s``, ``token`` may be given)."""
    return issue_provisioning_code(
        key, key_id, terminal_id="kiosk-07", site="hq", broker_url="mqtts://127.0.0.1:8883",
        enroll_url="mqtts://127.0.0.1:8884", ca_sha256="ab" * 32, issuer="hr", **options,
    )  # fmt: skip


def scanner(
    tmp_path: Path, enroll: FakeEnroll, synced: bool = True, repeat_s: float = 5.0
) -> ProvisioningScanner:
    """A scanner for :func:`config` with a fixed clock state and ``enroll`` in place."""
    return ProvisioningScanner(
        config(tmp_path), Clock(synced), threading.Event(), enroll_with=enroll, repeat_s=repeat_s
    )


def test_a_valid_code_enrolls_and_asks_for_the_restart(
    tmp_path: Path, org_key: Ed25519PrivateKey
) -> None:
    enroll = FakeEnroll()
    outcome = scanner(tmp_path, enroll).offer(code(org_key))
    assert outcome.provisioned and outcome.message == "Set up as kiosk-07"
    assert [c.tid for c in enroll.calls] == ["kiosk-07"]


REFUSALS = [
    ("bad_signature", lambda key: code(Ed25519PrivateKey.generate())),
    ("unknown_key", lambda key: code(key, key_id="org2")),
    ("expired", lambda key: code(key, now=time.time() - 3600)),
    ("not_yet_valid", lambda key: code(key, now=time.time() + 3600)),
    ("malformed", lambda key: "ATT1:P:this.is-not.a-jwt"),
]


@pytest.mark.parametrize(("reason", "make"), REFUSALS, ids=[r for r, _ in REFUSALS])
def test_each_refusal_has_its_reason_and_is_said_once(
    tmp_path: Path, org_key: Ed25519PrivateKey, reason: str, make: Any
) -> None:
    enroll = FakeEnroll()
    kiosk = scanner(tmp_path, enroll, repeat_s=5.0)
    text = make(org_key)
    first = kiosk.offer(text, now=100.0)
    assert (first.kind, first.reason) == ("refused", reason)
    assert first.message == f"Provisioning code refused: {reason}"
    assert kiosk.offer(text, now=101.0).kind == "ignored"  # the same code, the next frames
    again = kiosk.offer(text, now=106.0)
    assert (again.kind, again.reason, again.message) == ("refused", reason, None)
    assert enroll.calls == []


def test_codes_that_are_not_provisioning_codes(tmp_path: Path) -> None:
    hr = Ed25519PrivateKey.generate()
    kiosk = scanner(tmp_path, FakeEnroll())
    checkin = kiosk.offer(issue_code(hr, "HR1", "E1001"))
    assert (checkin.kind, checkin.message) == (
        "not_set_up",
        "This kiosk is not set up yet: check-in is not possible",
    )
    assert kiosk.offer("ATT1:B:E1001").kind == "not_set_up"
    other = kiosk.offer("https://example.com/menu")
    assert (other.kind, other.message) == (
        "not_provisioning_code",
        "Not set up: show a provisioning code",
    )


@pytest.mark.parametrize("issued", [-3600.0, 3600.0], ids=["expired", "not_yet_valid"])
def test_an_unsynchronised_clock_leaves_the_times_to_the_service(
    tmp_path: Path, org_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture, issued: float
) -> None:
    text = code(org_key, now=time.time() + issued)
    assert scanner(tmp_path, FakeEnroll(), synced=True).offer(text).kind == "refused"
    enroll = FakeEnroll()
    with caplog.at_level(logging.INFO, logger="terminal.provisioning.scan"):
        assert scanner(tmp_path, enroll, synced=False).offer(text).provisioned
    assert len(enroll.calls) == 1
    assert "the enrollment service checks them" in caplog.text
    forged = code(Ed25519PrivateKey.generate(), now=time.time() + issued)
    assert scanner(tmp_path, FakeEnroll(), synced=False).offer(forged).reason == "bad_signature"


def test_a_code_applied_here_before_is_refused(
    tmp_path: Path, org_key: Ed25519PrivateKey, pki: Pki
) -> None:
    text = code(org_key, token="tok_" + "A" * 22)  # the jti provision() records
    assert scanner(tmp_path, FakeEnroll(pki=pki)).offer(text).provisioned
    enroll = FakeEnroll()
    again = scanner(tmp_path, enroll).offer(text)  # e.g. after the state was deleted
    assert (again.kind, again.reason) == ("refused", "already_applied")
    assert enroll.calls == []


def test_a_failed_enrollment_is_said_and_tried_again_later(
    tmp_path: Path, org_key: Ed25519PrivateKey
) -> None:
    enroll = FakeEnroll(EnrollmentResult("broker_unreachable", "nothing on 8884"))
    kiosk = scanner(tmp_path, enroll, repeat_s=5.0)
    text = code(org_key)
    failed = kiosk.offer(text, now=10.0)
    assert (failed.kind, failed.reason) == ("failed", "broker_unreachable")
    assert failed.message == "Setup failed: broker_unreachable; try again"
    assert kiosk.offer(text, now=12.0).kind == "ignored"
    assert kiosk.offer(text, now=20.0).kind == "failed"
    assert len(enroll.calls) == 2
