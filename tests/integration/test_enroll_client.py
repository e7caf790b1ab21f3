"""The kiosk's enrollment against a real mosquitto enrollment listener: a wrong CA, a broker
that is not the CA's, nothing listening, and a whole scan by the daemon with the real service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno

from common.code_keys import PublicKeys
from common.mqtt.types import Connected, PublishResult
from devtools.local_broker import Mosquitto, free_port
from models.enrollment import ca_topic
from models.provisioning_code import ProvisioningClaims, ca_fingerprint, read_provisioning_code
from terminal.config import load_config
from terminal.daemon import RESTART_EXIT, Daemon, RunOptions
from terminal.provisioning.certificate_client import enroll
from terminal.provisioning.scan import ScanOutcome
from terminal.provisioning.state import needs_provisioning, read_state
from tests.onboard_tools import PREFIX, running_enrollment
from tests.tls_tools import Pki, kiosk_broker, link, poll_until


def claims(enroll_url: str, ca_pem: bytes) -> ProvisioningClaims:
    """Verified claims for kiosk-07 that name ``enroll_url`` and the CA ``ca_pem``."""
    return ProvisioningClaims.model_validate(
        {
            "tid": "kiosk-07", "site": "hq", "mqtt": "mqtts://127.0.0.1:8883",
            "enroll": enroll_url, "ca": ca_fingerprint(ca_pem), "jti": "t" * 22,
            "iat": 1767225600, "exp": 1767226500,
        }
    )  # fmt: skip


@pytest.fixture
def enroll_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    """The shipped broker with its enrollment listener, and no enrollment service."""
    broker = kiosk_broker(tmp_path / "broker", pki, enroll=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


def retain_ca(broker: Mosquitto, pki: Pki, ca_pem: bytes) -> None:
    """Publish ``ca_pem`` as the retained CA certificate, as the central side would."""
    central = link(broker.url, "central-test", pki.tls(pki.client("central")))
    poll_until(central, Connected, "central's connection")
    central.publish(ca_topic(PREFIX), ca_pem, retain=True)
    assert poll_until(central, PublishResult, "the PUBACK").ok
    central.close()


@pytest.mark.parametrize("named", ["broker_ca", "retained_ca"])
def test_a_ca_other_than_the_brokers_is_never_trusted(
    tmp_path: Path, pki: Pki, enroll_broker: Mosquitto, named: str
) -> None:
    impostor = Pki(tmp_path / "impostor", "Impostor CA").ca_file.read_bytes()
    retain_ca(enroll_broker, pki, impostor)
    # The code names the real CA: what is retained is not it. Or the code names the retained
    # one, but the broker's certificate was not issued by it.
    ca = pki.ca_file.read_bytes() if named == "broker_ca" else impostor
    state = tmp_path / "data" / "provisioning"
    result = enroll(claims(enroll_broker.enroll_url, ca), "ATT1:P:x", state, 10, threading.Event())
    assert result.reason == ("ca_mismatch" if named == "broker_ca" else "untrusted_broker")
    # Nothing is trusted or applied (at most the kiosk's own key waits for the next attempt).
    written = {p.name for p in state.glob("*")} if state.exists() else set()
    assert written <= {"pending"}, written


def test_no_retained_ca_and_no_broker_are_clear_failures(
    tmp_path: Path, pki: Pki, enroll_broker: Mosquitto
) -> None:
    ca, state, stop = pki.ca_file.read_bytes(), tmp_path / "state", threading.Event()
    missing = enroll(claims(enroll_broker.enroll_url, ca), "ATT1:P:x", state, 10, stop)
    assert missing.reason == "ca_missing", missing
    nowhere = claims(f"mqtts://127.0.0.1:{free_port()}", ca)
    unreachable = enroll(nowhere, "ATT1:P:x", state, 2, stop)
    assert unreachable.reason == "broker_unreachable", unreachable
    stop.set()
    assert enroll(nowhere, "ATT1:P:x", state, 10, stop).reason == "stopped"
    assert not state.exists()


def test_enrollment_with_the_service_and_a_replayed_code(tmp_path: Path, pki: Pki) -> None:
    with running_enrollment(tmp_path, pki) as env:
        text = env.code("kiosk-07")
        verified = read_provisioning_code(text, PublicKeys(env.keys_dir).get)
        state_dir = tmp_path / "data" / "provisioning"
        result = enroll(verified, text, state_dir, 15, threading.Event())
        assert result.ok, result
        assert read_state(state_dir) == result.state
        again = enroll(verified, text, tmp_path / "another-kiosk", 15, threading.Event())
        assert again.reason == "refused:token_used", again


def test_the_daemon_provisions_itself_from_a_scanned_code(tmp_path: Path, pki: Pki) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    with running_enrollment(tmp_path, pki) as env:
        segno.make(env.code("kiosk-07"), error="m").save(str(frames / "0.png"), scale=4)
        kiosk_toml = tmp_path / "kiosk.toml"
        kiosk_toml.write_text(
            f'[terminal]\nlanguage = "en"\n[camera]\nsource = "{frames}"\n'
            f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[provisioning]\norg_keys_dir = "{env.keys_dir}"\n'
        )
        config = load_config(kiosk_toml)
        assert needs_provisioning(config)
        seen: list[ScanOutcome] = []
        options = RunOptions(realtime=False, exit_when_source_ends=True, on_scan=seen.append)
        status: list[int] = []
        # In a thread: the daemon then leaves pytest's signal handlers alone.
        runner = threading.Thread(target=lambda: status.append(Daemon(config, options).run()))
        runner.start()
        runner.join(60)
    assert status == [RESTART_EXIT], seen
    assert [outcome.kind for outcome in seen] == ["provisioned"]
    provisioned = load_config(kiosk_toml)
    assert provisioned.terminal.id == "kiosk-07" and provisioned.mqtt is not None
    assert provisioned.mqtt.url == env.broker.url
    assert not (tmp_path / "data" / "kiosk.db").exists()  # no outbox while unprovisioned
