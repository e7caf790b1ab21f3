"""The state a scanned provisioning code leaves on the kiosk: written atomically with the right
modes, laid over the config at start, ignored with a warning when damaged; the doctor's line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from models.provisioning_code import ProvisioningClaims
from terminal.config import load_config
from terminal.doctor.provisioning import check_provisioning
from terminal.doctor.result import Status
from terminal.provisioning.state import (
    CERT_FILE,
    STATE_FILE,
    ProvisionedState,
    key_for_code,
    needs_provisioning,
    read_state,
    used_codes,
    write_state,
)
from tests.tls_tools import Pki

JTI = "tok_" + "A" * 22


def claims(**overrides: object) -> ProvisioningClaims:
    """Claims of a verified code for terminal kiosk-07 at site hq."""
    fields: dict[str, object] = {
        "tid": "kiosk-07",
        "site": "hq",
        "mqtt": "mqtts://127.0.0.1:8883",
        "enroll": "mqtts://127.0.0.1:8884",
        "ca": "ab" * 32,
        "jti": JTI,
        "iat": 1767225600,
        "exp": 1767226500,
        "iss": "hr@example",
        "pfx": "acme/att",
    }
    return ProvisioningClaims.model_validate({**fields, **overrides})


def provision(pki: Pki, data_dir: Path, name: str = "kiosk-07") -> ProvisionedState:
    """Write a complete state as a successful enrollment does (the key made for ``name``)."""
    identity = pki.client(name)
    ca, key, cert = (p.read_bytes() for p in (pki.ca_file, identity.key, identity.cert))
    return write_state(data_dir / "provisioning", claims(), ca, key, cert)


def kiosk_toml(tmp_path: Path, org_keys: bool = True, mqtt: bool = False) -> Path:
    """A kiosk.toml with ``data_dir`` in ``tmp_path``, scan-to-provision on or off."""
    text = f'[terminal]\nid = "unset"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
    if org_keys:
        text += f'[provisioning]\norg_keys_dir = "{tmp_path / "org-keys"}"\n'
    if mqtt:
        text += '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_the_state_round_trips_with_secret_modes(tmp_path: Path, pki: Pki) -> None:
    state = provision(pki, tmp_path / "data")
    directory = tmp_path / "data" / "provisioning"
    assert read_state(directory) == state
    assert (state.terminal_id, state.site, state.topic_prefix) == ("kiosk-07", "hq", "acme/att")
    assert (state.issuer, state.code_jti, state.mqtt_url) == ("hr@example", JTI, claims().mqtt)
    modes = {p.name: p.stat().st_mode & 0o777 for p in directory.iterdir()}
    assert modes == {
        "ca.crt": 0o644,
        "client.key": 0o600,
        "client.crt": 0o644,
        "used_codes": 0o644,
        "provisioned.toml": 0o644,
    }
    assert used_codes(directory) == {JTI}


def test_a_provisioned_kiosk_runs_as_the_code_said(tmp_path: Path, pki: Pki) -> None:
    state = provision(pki, tmp_path / "data")
    config = load_config(kiosk_toml(tmp_path))
    assert (config.terminal.id, config.terminal.site) == ("kiosk-07", "hq")
    assert config.mqtt is not None
    assert (config.mqtt.url, config.mqtt.topic_prefix) == ("mqtts://127.0.0.1:8883", "acme/att")
    assert (config.mqtt.ca_file, config.mqtt.cert_file) == (state.ca_file, state.cert_file)
    assert config.mqtt.key_file == state.key_file
    assert not needs_provisioning(config)
    line = check_provisioning(config)
    assert line.status is Status.PASS
    assert line.detail.startswith("provisioned by code as kiosk-07 (site hq) on ")


def test_an_unprovisioned_kiosk_waits_for_a_code(tmp_path: Path) -> None:
    config = load_config(kiosk_toml(tmp_path))
    assert config.mqtt is None and config.terminal.id == "unset"
    assert needs_provisioning(config)
    line = check_provisioning(config)
    assert line.status is Status.FAIL
    assert line.detail == "not provisioned: waiting for a provisioning code"
    assert not (tmp_path / "data").exists()  # nothing written by loading or the doctor


@pytest.mark.parametrize(("org_keys", "mqtt"), [(False, False), (True, True)])
def test_the_state_is_used_only_without_mqtt_and_with_org_keys(
    tmp_path: Path, pki: Pki, org_keys: bool, mqtt: bool
) -> None:
    provision(pki, tmp_path / "data")
    config = load_config(kiosk_toml(tmp_path, org_keys=org_keys, mqtt=mqtt))
    assert config.terminal.id == "unset"
    assert (config.mqtt is not None) == mqtt
    assert not needs_provisioning(config)
    line = check_provisioning(config)
    assert line.status is Status.PASS and line.detail.startswith("configured in kiosk.toml")


def _drop_certificate(directory: Path, _pki: Pki) -> None:
    (directory / CERT_FILE).unlink()


def _garble_toml(directory: Path, _pki: Pki) -> None:
    (directory / STATE_FILE).write_text("terminal_id = [\n")


def _drop_a_field(directory: Path, _pki: Pki) -> None:
    text = (directory / STATE_FILE).read_text()
    lines = [line for line in text.splitlines() if not line.startswith("mqtt_url")]
    (directory / STATE_FILE).write_text("\n".join(lines))


def _another_certificate(directory: Path, pki: Pki) -> None:
    (directory / CERT_FILE).write_bytes(pki.client("kiosk-08").cert.read_bytes())


def _truncate_key(directory: Path, _pki: Pki) -> None:
    (directory / "client.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n")


@pytest.mark.parametrize(
    "damage",
    [_drop_certificate, _garble_toml, _drop_a_field, _another_certificate, _truncate_key],
)
def test_a_damaged_state_is_a_warning_and_the_kiosk_unprovisioned(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    provision(pki, tmp_path / "data")
    assert callable(damage)
    damage(tmp_path / "data" / "provisioning", pki)
    with caplog.at_level(logging.WARNING, logger="terminal.provisioning.state"):
        config = load_config(kiosk_toml(tmp_path))
    assert config.mqtt is None and config.terminal.id == "unset"
    assert needs_provisioning(config)
    assert "provisioning state ignored, the kiosk is unprovisioned" in caplog.text
    line = check_provisioning(config)
    assert line.status is Status.FAIL and "damaged and ignored" in line.detail


def test_files_without_the_toml_are_an_unfinished_state_silently_ignored(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    provision(pki, tmp_path / "data")
    (tmp_path / "data" / "provisioning" / STATE_FILE).unlink()  # power cut before the last file
    with caplog.at_level(logging.WARNING):
        config = load_config(kiosk_toml(tmp_path))
    assert needs_provisioning(config)
    assert "provisioning" not in caplog.text


def test_the_key_for_a_code_is_kept_until_a_code_is_applied(tmp_path: Path, pki: Pki) -> None:
    state = tmp_path / "provisioning"
    first = key_for_code(state, JTI)
    kept = state / "pending" / f"{JTI}.key"
    assert kept.stat().st_mode & 0o777 == 0o600
    # Asked again (a lost reply, a timeout, a restart): the same key, so the same certificate.
    assert key_for_code(state, JTI).private_numbers() == first.private_numbers()
    assert key_for_code(state, "other_" + "B" * 22).private_numbers() != first.private_numbers()
    kept.write_bytes(b"damaged")
    assert key_for_code(state, JTI).private_numbers() != first.private_numbers()
    provision(pki, tmp_path)
    assert not (state / "pending").exists()
