"""What the central-side commands share: broker login flags, signing keys, signals.

``kiosk receive``, ``kiosk roster publish|follow`` and ``kiosk command send`` talk to the
broker as the central system: they take the same login flags (:func:`broker_login_options`,
checked by :func:`broker_login`), and the signing ones load an HR key the same way
(:func:`load_signing_key`).
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.errors import ConfigError
from common.mqtt.broker_url import BrokerAddress, TlsOptions
from common.mqtt.types import LinkOptions
from models.messages import TERMINAL_ID_PATTERN
from models.signed_code import load_private_key
from models.signed_envelope import KEY_ID_PATTERN
from terminal.config import read_secret

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., None])

_LOGIN_OPTIONS = (
    click.option("--username", default=None, help="Broker user name."),
    click.option(
        "--password-file", type=EXISTING_FILE, default=None, help="File holding the password."
    ),
    click.option(
        "--ca-file", type=EXISTING_FILE, default=None, help="CA (PEM) of the broker's certificate."
    ),
    click.option(
        "--cert-file",
        type=EXISTING_FILE,
        default=None,
        help="Client certificate (PEM), mutual TLS.",
    ),
    click.option(
        "--key-file", type=EXISTING_FILE, default=None, help="Private key (PEM) of --cert-file."
    ),
)


DATABASE_HELP = (
    " A database URL: sqlite:///FILE (or a plain path) or postgresql://USER@HOST/DB"
    " (password in a file: ?passfile=FILE); default: $KIOSK_CENTRAL_DB."
)


def database_option(what: str) -> Callable[[F], F]:
    """``--db URL`` (or ``$KIOSK_CENTRAL_DB``), the central database ``what`` describes."""
    return click.option(
        "--db",
        "database",
        required=True,
        envvar="KIOSK_CENTRAL_DB",
        metavar="URL",
        help=what + DATABASE_HELP,
    )


SCHEDULE_OPTION = click.option(
    "--schedule",
    "schedule_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Schedule JSON (schedule.v1.json).",
)
"""``--schedule FILE``, the schedule the reports and alerts judge by."""


def broker_login_options(command: F) -> F:
    """Add ``--username --password-file --ca-file --cert-file --key-file`` to ``command``."""
    for option in reversed(_LOGIN_OPTIONS):
        command = option(command)
    return command


@dataclass(frozen=True)
class BrokerLogin:
    """How to log in to the broker: user, password (read from its file) and TLS."""

    username: str | None
    password: str | None
    tls: TlsOptions | None


def broker_login(
    broker_url: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> BrokerLogin:
    """The login of the flags; a usage error when they cannot work together."""
    if password_file is not None and username is None:
        raise click.UsageError("--password-file needs --username")
    tls = tls_options(broker_url, ca_file, cert_file, key_file)
    password = read_secret(password_file) if password_file is not None else None
    return BrokerLogin(username, password, tls)


def tls_options(
    broker_url: str, ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> TlsOptions | None:
    """The TLS options of the flags; a usage error when they cannot work together."""
    if (cert_file is None) != (key_file is None):
        raise click.UsageError("--cert-file and --key-file go together")
    if ca_file is None and cert_file is None:
        return None
    if not BrokerAddress.parse(broker_url).tls:
        raise click.UsageError("--ca-file, --cert-file and --key-file need an mqtts:// broker")
    return TlsOptions(ca_file, cert_file, key_file)


def check_terminal_ids(terminal_ids: tuple[str, ...] | list[str]) -> None:
    """A usage error for the first ``--terminal`` that is not a valid terminal id."""
    for terminal_id in terminal_ids:
        if not re.match(TERMINAL_ID_PATTERN, terminal_id):
            raise click.UsageError(f"--terminal {terminal_id!r}: not a valid terminal id")


def load_signing_key(path: Path, key_id: str) -> Ed25519PrivateKey:
    """The HR private key at ``path`` (PEM), after checking ``key_id``'s shape."""
    if not re.match(KEY_ID_PATTERN, key_id):
        raise click.UsageError(f"--key-id {key_id!r}: use 1-16 of A-Z a-z 0-9 _ -")
    try:
        return load_private_key(path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def broker_link(
    broker_url: str,
    client_id: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> LinkOptions:
    """The connection options of a central command: ``client_id`` and the login of the flags
    (:func:`broker_login`)."""
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    return LinkOptions(
        url=broker_url,
        client_id=client_id,
        username=login.username,
        password=login.password,
        tls=login.tls,
    )
