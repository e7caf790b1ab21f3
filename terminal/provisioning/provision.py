"""``kiosk provision``: write a terminal's config and credentials, idempotently.

The config (``kiosk.toml``) is edited in place with tomlkit, so an admin's other settings and
comments survive a re-provisioning; only the keys provisioning manages are set (or removed,
e.g. TLS files when the broker URL is no longer ``mqtts://``). Credentials are copied under the
config directory: certificates 0644, the private key and the password 0600, owned by the user
the daemon runs as (``kiosk`` under systemd). Nothing is written unless the result is a valid
config; every file is replaced atomically; a file whose bytes, mode and owner are already right
is left alone, so running the same command twice changes nothing. Unless the config names one
already, ``[privacy] template_key_file`` is set to ``template.key`` in the config directory, and
that key (32 random bytes, 0600, the daemon's user) is made when missing, never replaced: the
face templates are sealed with it (:mod:`terminal.store.template_seal`).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.items import Table

from common.errors import ConfigError, KioskError
from common.mqtt.broker_url import BrokerAddress
from terminal.config import parse_config
from terminal.provisioning.installed_file import Installed, install_bytes
from terminal.provisioning.tls_files import check_client_pair

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "systemd" / "kiosk.example.toml"
MANAGED_MQTT_KEYS = ("url", "ca_file", "cert_file", "key_file", "username", "password_file")


@dataclass(frozen=True)
class ProvisionRequest:
    """What ``kiosk provision`` was asked to set up."""

    terminal_id: str
    site: str
    broker_url: str
    config_dir: Path = Path("/etc/kiosk")
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    data_dir: Path | None = None
    owner: str = "kiosk"
    """The user the daemon runs as: it gets the private files; the config is readable by it."""

    @property
    def config_path(self) -> Path:
        """Where the config goes."""
        return self.config_dir / "kiosk.toml"


def provision(request: ProvisionRequest) -> list[Installed]:
    """Check the request, install the credentials and write the config; return what happened.

    Raises :class:`~common.errors.KioskError` (one line) before writing anything when the
    request cannot work: a bad id or URL, TLS files that do not belong together, a certificate
    issued to another terminal, an unknown owner, or a resulting config that does not validate.
    """
    _check_request(request)
    uid, gid = _owner_ids(request.owner)
    secrets = _read_secrets(request)
    tls_dir = request.config_dir / "tls"
    targets = {
        "ca_file": (request.ca, tls_dir / "ca.crt", 0o644),
        "cert_file": (request.cert, tls_dir / f"{request.terminal_id}.crt", 0o644),
        "key_file": (request.key, tls_dir / f"{request.terminal_id}.key", 0o600),
    }
    password_target = request.config_dir / "mqtt.password"
    mqtt: dict[str, str] = {"url": request.broker_url}
    for key, (_, target, _) in targets.items():
        if key in secrets:
            mqtt[key] = str(target)
    if request.username is not None:
        mqtt["username"] = request.username
    if "password" in secrets:
        mqtt["password_file"] = str(password_target)
    text = _config_text(request, mqtt)  # also refuses TLS files with an mqtt:// URL

    done: list[Installed] = []
    for key, (_, target, mode) in targets.items():
        if key in secrets:
            done.append(install_bytes(target, secrets[key], mode, uid, gid))
    if "password" in secrets:
        done.append(install_bytes(password_target, secrets["password"], 0o600, uid, gid))
    done.append(install_bytes(request.config_path, text.encode(), 0o640, 0, gid))
    key_file = parse_config(text, str(request.config_path)).privacy.template_key_file
    if key_file is not None and not key_file.exists():
        # The face templates' key: made once, never replaced (that would lock them away).
        done.append(install_bytes(key_file, os.urandom(32), 0o600, uid, gid))
    return done


def _check_request(request: ProvisionRequest) -> None:
    BrokerAddress.parse(request.broker_url)
    if (request.cert is None) != (request.key is None):
        raise ConfigError("--cert and --key go together: give both or neither")
    if request.password_file is not None and request.username is None:
        raise ConfigError("--password-file needs --username")


def _owner_ids(owner: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise KioskError(
            f"no user {owner!r} on this machine: create it (systemd/kiosk.sysusers.conf) or"
            " pass --owner with the user the daemon runs as"
        ) from None
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise KioskError(f"only root can give files to {owner!r}: run with sudo")
    return entry.pw_uid, entry.pw_gid


def _read_secrets(request: ProvisionRequest) -> dict[str, bytes]:
    sources = {
        "ca_file": request.ca,
        "cert_file": request.cert,
        "key_file": request.key,
        "password": request.password_file,
    }
    secrets: dict[str, bytes] = {}
    for key, path in sources.items():
        if path is None:
            continue
        try:
            secrets[key] = path.read_bytes()
        except OSError as exc:
            raise KioskError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if "cert_file" in secrets:
        check_client_pair(
            secrets["cert_file"], secrets["key_file"], request.terminal_id, secrets.get("ca_file")
        )
    if "password" in secrets and not secrets["password"].strip():
        raise ConfigError(f"{request.password_file}: the password file is empty")
    return secrets


def _config_text(request: ProvisionRequest, mqtt: dict[str, str]) -> str:
    """The config with the managed keys set, validated; other keys and comments kept."""
    path = request.config_path
    try:
        source = path.read_text(encoding="utf-8") if path.exists() else _starting_config()
        document = tomlkit.parse(source)
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(f"{path}: cannot read the existing config: {exc}") from None
    _table(document, "terminal").update({"id": request.terminal_id, "site": request.site})
    section = _table(document, "mqtt")
    for key in MANAGED_MQTT_KEYS:
        if key in mqtt:
            section[key] = mqtt[key]
        elif key in section:
            del section[key]
    if request.data_dir is not None:
        _table(document, "storage")["data_dir"] = str(request.data_dir)
    privacy = _table(document, "privacy")
    if "template_key_file" not in privacy:  # an admin's own choice is kept
        privacy["template_key_file"] = str(request.config_dir / "template.key")
    text = tomlkit.dumps(document)
    parse_config(text, str(path))  # raises ConfigError naming the bad key
    return text


def _starting_config() -> str:
    if EXAMPLE_CONFIG.exists():
        return EXAMPLE_CONFIG.read_text(encoding="utf-8")
    return "[terminal]\n[mqtt]\n"


def _table(document: tomlkit.TOMLDocument, name: str) -> Table:
    if name not in document:
        document.add(name, tomlkit.table())
    table = document[name]
    if not isinstance(table, Table):
        raise ConfigError(f"[{name}] in the existing config is not a table")
    return table
