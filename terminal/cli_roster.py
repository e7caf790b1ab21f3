"""``kiosk roster``: the central side of rosters (publish a signed roster, export a gallery)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click

from models.messages import TERMINAL_ID_PATTERN
from models.roster import KEY_ID_PATTERN
from models.roster_codec import DEFAULT_CHUNK_PEOPLE, build_roster_messages, load_private_key
from terminal.cli import CliContext, pass_cli
from terminal.cli_receive import tls_options
from terminal.config import read_secret
from terminal.database import open_database
from terminal.errors import ConfigError, StoreError
from terminal.mqtt_types import LinkOptions
from terminal.roster_people import people_from_gallery, read_people
from terminal.roster_publish import RosterPublisher
from terminal.topics import Topics

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("roster")
def roster() -> None:
    """Rosters: the people the central system pushes to terminals, signed and versioned."""


@roster.command("publish")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@click.option("--terminal", "terminals", required=True, multiple=True, help="Terminal id (repeat).")
@click.option("--people", "people_file", required=True, type=_FILE, help="People (.json or .csv).")
@click.option(
    "--key",
    "--signing-key",
    "signing_key",
    required=True,
    type=_FILE,
    help="Ed25519 private key (PEM) that signs the roster.",
)
@click.option("--key-id", required=True, help="Its id: terminals trust it as <key id>.pub.")
@click.option("--version", "version", type=click.IntRange(1), help="Roster version [unix time].")
@click.option(
    "--chunk-size",
    default=DEFAULT_CHUNK_PEOPLE,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="People per message at most.",
)
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--client-id", default="kiosk-roster-publisher", show_default=True)
@click.option("--username", default=None, help="Broker user name.")
@click.option("--password-file", type=_FILE, default=None, help="File holding the password.")
@click.option("--ca-file", type=_FILE, default=None, help="CA (PEM) of the broker's certificate.")
@click.option("--cert-file", type=_FILE, default=None, help="Client certificate (PEM), mutual TLS.")
@click.option("--key-file", type=_FILE, default=None, help="Private key (PEM) of --cert-file.")
@click.option(
    "--wait",
    "wait_s",
    default=0.0,
    type=click.FloatRange(0),
    help="Seconds to wait for every terminal to report the version applied (0: don't).",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=300.0,
    type=click.FloatRange(1),
    show_default=True,
    help="Seconds to wait for the broker to take every message.",
)
def publish(
    broker_url: str,
    terminals: tuple[str, ...],
    people_file: Path,
    signing_key: Path,
    key_id: str,
    version: int | None,
    chunk_size: int,
    topic_prefix: str,
    client_id: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    wait_s: float,
    timeout_s: float,
) -> None:
    """Sign a roster for each --terminal and publish it on {prefix}/{terminal}/roster.

    Each terminal's copy is bound to its id. With --wait, exits 1 unless every terminal reports
    the new version in its status in time (printing what they report instead).
    """
    if password_file is not None and username is None:
        raise click.UsageError("--password-file needs --username")
    tls = tls_options(broker_url, ca_file, cert_file, key_file)
    for terminal_id in terminals:
        if not re.match(TERMINAL_ID_PATTERN, terminal_id):
            raise click.UsageError(f"--terminal {terminal_id!r}: not a valid terminal id")
    if not re.match(KEY_ID_PATTERN, key_id):
        raise click.UsageError(f"--key-id {key_id!r}: use 1-16 of A-Z a-z 0-9 _ -")
    try:
        private_key = load_private_key(signing_key.read_bytes())
    except ValueError as exc:
        reason = str(exc).split(".")[0]
        raise ConfigError(f"{signing_key}: not an Ed25519 private key (PEM): {reason}") from None
    people = read_people(people_file)
    version = int(time.time()) if version is None else version
    rosters = {
        t: build_roster_messages(people, private_key, key_id, version, chunk_size, t)
        for t in terminals
    }
    password = read_secret(password_file) if password_file is not None else None
    options = LinkOptions(
        url=broker_url, client_id=client_id, username=username, password=password, tls=tls
    )
    publisher = RosterPublisher(options, Topics(topic_prefix), list(terminals))
    try:
        publisher.publish(rosters, timeout_s)
        for terminal_id, messages in rosters.items():
            size = sum(len(m) for m in messages) / 2**20
            count = f"{len(messages)} message" + ("s" if len(messages) > 1 else "")
            click.echo(
                f"{terminal_id}: roster version {version} published, {len(people)} people"
                f" in {count} ({size:.1f} MiB)"
            )
        if wait_s > 0:
            for terminal_id in publisher.wait_applied(version, wait_s):
                click.echo(f"{terminal_id}: roster version {version} applied")
    finally:
        publisher.close()


@roster.command("export")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@pass_cli
def export(cli: CliContext, out: Path) -> None:
    """Write this database's enrolled people and templates as a --people file (JSON)."""
    path = cli.config.database_path
    if not path.exists():
        raise StoreError(f"{path}: no such database (enroll people first, or set --data-dir)")
    db = open_database(path)
    try:
        people = people_from_gallery(db)
    finally:
        db.conn.close()
    lines = [json.dumps(p.model_dump(mode="json"), ensure_ascii=False) for p in people]
    out.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    click.echo(f"{len(people)} people written to {out}")


COMMANDS = [roster]
