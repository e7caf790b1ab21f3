"""What a scanned provisioning code leaves on the kiosk, and how it completes the config.

A successful scan (:mod:`terminal.provisioning.certificate_client`) writes, under
``<storage.data_dir>/provisioning/``:

- ``ca.crt`` (0644): the broker CA the code's fingerprint named;
- ``client.key`` (0600): the EC P-256 key made on this kiosk (it never leaves it);
- ``client.crt`` (0644): the client certificate the enrollment service issued (CN = terminal id);
- ``provisioned.toml`` (0644): terminal id, site, broker URL, topic prefix, issuer, the code's
  ``jti`` and when; written **last**, so a state cut short by a power loss has no toml and is
  simply absent (each file is written atomically: temporary file, fsync, rename);
- ``used_codes`` (0644): the ``jti`` of every code applied here, one a line, so the same code
  is never applied twice by this kiosk.

At start :func:`overlay` lays that state over a config that has no ``[mqtt]`` section and has
scan-to-provision on (``[provisioning] org_keys_dir``): the kiosk then runs as the terminal the
code named, with mutual TLS to its broker. A state that is there but damaged is a warning and
the kiosk counts as unprovisioned, never a crash.
"""

from __future__ import annotations

import logging
import os
import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import tomlkit
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import KioskError
from models.messages import TERMINAL_ID_PATTERN, format_rfc3339
from models.provisioning_code import ProvisioningClaims
from terminal.config import Config, MqttSection
from terminal.provisioning.installed_file import install_bytes

log = logging.getLogger(__name__)

DIRECTORY = "provisioning"
STATE_FILE = "provisioned.toml"
CA_FILE = "ca.crt"
KEY_FILE = "client.key"
CERT_FILE = "client.crt"
USED_CODES_FILE = "used_codes"
PENDING_DIR = "pending"


class ProvisionedStateError(KioskError):
    """The provisioning state is there but cannot be used (damaged or incomplete)."""


class ProvisionedState(BaseModel):
    """The contents of ``provisioned.toml``; ``directory`` is where it was read from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN)
    site: str = Field(min_length=1, max_length=64)
    mqtt_url: str = Field(pattern=r"^mqtts://")
    topic_prefix: str = Field(min_length=1, max_length=200)
    issuer: str | None = None
    code_jti: str = Field(min_length=1, max_length=128)
    provisioned_at: datetime
    directory: Path = Field(Path(), exclude=True)

    @property
    def ca_file(self) -> Path:
        """The broker CA certificate."""
        return self.directory / CA_FILE

    @property
    def cert_file(self) -> Path:
        """This kiosk's client certificate."""
        return self.directory / CERT_FILE

    @property
    def key_file(self) -> Path:
        """This kiosk's private key (mode 0600)."""
        return self.directory / KEY_FILE


def state_dir(config: Config) -> Path:
    """Where ``config``'s kiosk keeps its provisioning state."""
    return config.storage.data_dir / DIRECTORY


def write_state(
    directory: Path,
    claims: ProvisioningClaims,
    ca_pem: bytes,
    key_pem: bytes,
    cert_pem: bytes,
    now: datetime | None = None,
) -> ProvisionedState:
    """Write a complete state (files first, ``provisioned.toml`` last) and record the code's
    ``jti`` as used; raises :class:`~common.errors.KioskError` naming the file on an OS error."""
    uid, gid = os.geteuid(), os.getegid()
    state = ProvisionedState(
        terminal_id=claims.tid,
        site=claims.site,
        mqtt_url=claims.mqtt,
        topic_prefix=claims.pfx,
        issuer=claims.iss,
        code_jti=claims.jti,
        provisioned_at=(now or datetime.now(UTC)).replace(microsecond=0),
        directory=directory,
    )
    install_bytes(directory / CA_FILE, ca_pem, 0o644, uid, gid)
    install_bytes(directory / KEY_FILE, key_pem, 0o600, uid, gid)
    install_bytes(directory / CERT_FILE, cert_pem, 0o644, uid, gid)
    used = used_codes(directory)
    if claims.jti not in used:
        text = "".join(f"{jti}\n" for jti in [*sorted(used), claims.jti])
        install_bytes(directory / USED_CODES_FILE, text.encode(), 0o644, uid, gid)
    fields = state.model_dump(mode="json", exclude_none=True)
    fields["provisioned_at"] = format_rfc3339(state.provisioned_at)
    install_bytes(directory / STATE_FILE, tomlkit.dumps(fields).encode(), 0o644, uid, gid)
    shutil.rmtree(directory / PENDING_DIR, ignore_errors=True)
    return state


def key_for_code(directory: Path, jti: str) -> ec.EllipticCurvePrivateKey:
    """This kiosk's EC P-256 key for enrolling with the code ``jti``: made once and kept (0600,
    in ``pending/``) until a code is applied, so that asking again after a lost reply or a
    timeout sends the same key and gets the same certificate (the enrollment service refuses a
    used token presented with another key). Raises :class:`~common.errors.KioskError` when
    it cannot be written."""
    path = directory / PENDING_DIR / f"{jti}.key"
    try:
        kept = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(kept, ec.EllipticCurvePrivateKey):
            return kept
        log.warning("%s: not an EC key; making a new one", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("%s: unusable (%s); making a new key", path, exc)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    install_bytes(path, pem, 0o600, os.geteuid(), os.getegid())
    return key


def used_codes(directory: Path) -> set[str]:
    """The ``jti`` of every code applied on this kiosk (empty when none or unreadable)."""
    try:
        text = (directory / USED_CODES_FILE).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()}


def read_state(directory: Path) -> ProvisionedState | None:
    """The state in ``directory``; None when there is none (no ``provisioned.toml``).

    Raises :class:`ProvisionedStateError` when it is there but unreadable, invalid, or its
    files are missing or do not belong together (key not the certificate's).
    """
    path = directory / STATE_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProvisionedStateError(f"{path}: cannot read: {exc}") from None
    try:
        state = ProvisionedState.model_validate({**raw, "directory": directory})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ProvisionedStateError(f"{path}: {where}: {error['msg']}") from None
    _check_files(state)
    return state


def _check_files(state: ProvisionedState) -> None:
    try:
        x509.load_pem_x509_certificate(state.ca_file.read_bytes())
        certificate = x509.load_pem_x509_certificate(state.cert_file.read_bytes())
        key = serialization.load_pem_private_key(state.key_file.read_bytes(), password=None)
    except OSError as exc:
        raise ProvisionedStateError(f"{exc.filename}: cannot read: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise ProvisionedStateError(f"{state.directory}: a PEM file is damaged: {exc}") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):
        raise ProvisionedStateError(f"{state.key_file} is not the key of {state.cert_file}")


def overlay(config: Config) -> Config:
    """``config`` completed by the provisioning state, when it has no ``[mqtt]``, has
    scan-to-provision on and a complete state exists; otherwise ``config`` unchanged."""
    if config.mqtt is not None or config.provisioning.org_keys_dir is None:
        return config
    try:
        state = read_state(state_dir(config))
    except ProvisionedStateError as exc:
        log.warning("provisioning state ignored, the kiosk is unprovisioned: %s", exc)
        return config
    if state is None:
        return config
    terminal = config.terminal.model_copy(update={"id": state.terminal_id, "site": state.site})
    try:
        mqtt = MqttSection(
            url=state.mqtt_url,
            topic_prefix=state.topic_prefix,
            ca_file=state.ca_file,
            cert_file=state.cert_file,
            key_file=state.key_file,
        )
    except ValidationError as exc:
        log.warning("provisioning state ignored, the kiosk is unprovisioned: %s", exc)
        return config
    return config.model_copy(update={"terminal": terminal, "mqtt": mqtt})


def needs_provisioning(config: Config) -> bool:
    """Whether the kiosk must wait for a provisioning code (call after :func:`overlay`)."""
    return config.provisioning.org_keys_dir is not None and config.mqtt is None
