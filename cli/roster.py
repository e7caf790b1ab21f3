"""``kiosk roster``: the central side of rosters (publish, follow terminals, export a gallery,
list the faces enrolled at the kiosks themselves)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from central.rosters.enrollments import collect_enrollments
from central.rosters.follow import RosterFollower, SignedRoster
from central.rosters.people import people_from_gallery, read_people
from central.rosters.publish import RosterPublisher
from cli.central_options import (
    EXISTING_FILE,
    broker_link,
    broker_login,
    broker_login_options,
    check_terminal_ids,
    load_signing_key,
    stop_on_signals,
)
from cli.main import CliContext, pass_cli
from common.errors import KioskError, StoreError
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from common.progress import progress_bar
from common.schedule_file import load_schedule
from models.messages import format_rfc3339
from models.roster_codec import DEFAULT_CHUNK_PEOPLE, MAX_SCHEDULE_BYTES, withheld_templates
from terminal.store.database import open_database
from terminal.store.template_seal import seal_for

_FILE = EXISTING_FILE


@click.group("roster")
def roster() -> None:
    """Rosters: the people the central system pushes to terminals, signed and versioned."""


@dataclass(frozen=True)
class _Central:
    """The flags ``publish`` and ``follow`` share, checked and loaded."""

    roster: SignedRoster
    options: LinkOptions
    topics: Topics


def _central_options(client_id: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The broker, people, key and TLS flags of ``publish`` and ``follow``."""
    options = [
        click.option(
            "--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]"
        ),
        click.option(
            "--people", "people_file", required=True, type=_FILE, help="People (.json or .csv)."
        ),
        click.option(
            "--key",
            "--signing-key",
            "signing_key",
            required=True,
            type=_FILE,
            help="Ed25519 private key (PEM) that signs the roster.",
        ),
        click.option("--key-id", required=True, help="Its id: terminals trust it as <key id>.pub."),
        click.option(
            "--version", "version", type=click.IntRange(1), help="Roster version [unix time]."
        ),
        click.option(
            "--schedule",
            "schedule_file",
            type=_FILE,
            help="Schedule (schedule.v1.json) sent in chunk 0 [none: the roster removes it].",
        ),
        click.option(
            "--chunk-size",
            default=DEFAULT_CHUNK_PEOPLE,
            show_default=True,
            type=click.IntRange(1, 1000),
            help="People per message at most.",
        ),
        click.option(
            "--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix."
        ),
        click.option("--client-id", default=client_id, show_default=True),
    ]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            command = option(command)
        return broker_login_options(command)

    return decorate


def _central(
    terminals: tuple[str, ...],
    broker_url: str,
    people_file: Path,
    signing_key: Path,
    key_id: str,
    version: int | None,
    schedule_file: Path | None,
    chunk_size: int,
    topic_prefix: str,
    client_id: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> _Central:
    """Check the shared flags (usage errors first), then read the key, people and schedule."""
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    check_terminal_ids(terminals)
    private_key = load_signing_key(signing_key, key_id)
    people = read_people(people_file)
    withheld = withheld_templates(people)
    if withheld:
        shown = ", ".join(withheld[:5]) + (", ..." if len(withheld) > 5 else "")
        click.echo(
            f"{people_file}: face templates of {len(withheld)} people left out of the roster:"
            f" their consent does not allow transfer ({shown}); they enroll at the kiosk",
            err=True,
        )
    schedule = load_schedule(schedule_file) if schedule_file is not None else None
    if schedule is not None and len(schedule.model_dump_json().encode()) > MAX_SCHEDULE_BYTES:
        raise KioskError(f"{schedule_file}: too large for a roster ({MAX_SCHEDULE_BYTES} bytes)")
    version = int(time.time()) if version is None else version
    options = LinkOptions(
        url=broker_url,
        client_id=client_id,
        username=login.username,
        password=login.password,
        tls=login.tls,
    )
    roster = SignedRoster(people, private_key, key_id, version, chunk_size, schedule)
    return _Central(roster, options, Topics(topic_prefix))


@roster.command("publish")
@click.option("--terminal", "terminals", required=True, multiple=True, help="Terminal id (repeat).")
@_central_options("kiosk-roster-publisher")
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
def publish(terminals: tuple[str, ...], wait_s: float, timeout_s: float, **flags: Any) -> None:
    """Sign a roster for each --terminal and publish it on {prefix}/{terminal}/roster.

    Each terminal's copy is bound to its id. With --wait, exits 1 unless every terminal reports
    the new version in its status in time (printing what they report instead).
    """
    central = _central(terminals, **flags)
    signed = central.roster
    rosters = {t: signed.messages_for(t) for t in terminals}
    publisher = RosterPublisher(central.options, central.topics, list(terminals))
    total = sum(len(messages) for messages in rosters.values())
    bar = progress_bar("roster messages acknowledged", total, unit=" messages")
    try:
        publisher.publish(rosters, timeout_s, lambda done, _total: bar.update(done - bar.n))
        bar.close()
        for terminal_id, messages in rosters.items():
            size = sum(len(m) for m in messages) / 2**20
            count = f"{len(messages)} message" + ("s" if len(messages) > 1 else "")
            with_schedule = (
                "" if signed.schedule is None else f", schedule version {signed.schedule.version}"
            )
            click.echo(
                f"{terminal_id}: roster version {signed.version} published,"
                f" {len(signed.people)} people{with_schedule} in {count} ({size:.1f} MiB)"
            )
        if wait_s > 0:
            for terminal_id in publisher.wait_applied(signed.version, wait_s):
                click.echo(f"{terminal_id}: roster version {signed.version} applied")
    finally:
        publisher.close()


@roster.command("follow")
@click.option("--terminal", "terminals", multiple=True, help="Only this terminal (repeat) [all].")
@_central_options("kiosk-roster-follower")
@click.option(
    "--backoff",
    "backoff_s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds before a terminal gets the same version again (doubling per terminal).",
)
@click.option(
    "--backoff-max",
    "backoff_max_s",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Longest back-off, in seconds.",
)
def follow(
    terminals: tuple[str, ...], backoff_s: float, backoff_max_s: float, **flags: Any
) -> None:
    """Keep rosters current: publish to each terminal whose online status shows an older one.

    Watches {prefix}/+/status (or only the --terminal ids) and publishes the roster, bound to
    the terminal, again after --backoff (doubling) or when it reconnects. Runs until SIGINT or
    SIGTERM; one log line per decision.
    """
    central = _central(terminals, **flags)
    follower = RosterFollower(
        central.options, central.topics, central.roster, terminals, backoff_s, backoff_max_s
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        follower.run(stop)


@roster.command("export")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@pass_cli
def export(cli: CliContext, out: Path) -> None:
    """Write this database's enrolled people and templates as a --people file (JSON)."""
    path = cli.config.database_path
    if not path.exists():
        raise StoreError(f"{path}: no such database (enroll people first, or set --data-dir)")
    seal = seal_for(cli.config.privacy.template_key_file)
    db = open_database(path)
    try:
        people = people_from_gallery(db, seal.open if seal is not None else None)
    finally:
        db.conn.close()
    lines = [json.dumps(p.model_dump(mode="json"), ensure_ascii=False) for p in people]
    out.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    templates = sum(len(p.templates) for p in people)
    click.echo(
        f"{len(people)} people written to {out}, with {templates} face templates (only of"
        " people whose consent allows transfer)"
    )


@roster.command("enrollments")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@click.option(
    "--wait",
    "wait_s",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to collect the retained notices after subscribing.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON notice per line.")
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--client-id", default="kiosk-roster-enrollments", show_default=True)
@broker_login_options
def enrollments(
    broker_url: str,
    wait_s: float,
    as_json: bool,
    topic_prefix: str,
    client_id: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """List the faces enrolled at the kiosks themselves: who, where, how many templates.

    Reads the retained notices on {prefix}/+/enrollments/+ (only the fact: the templates stay on
    the kiosk). A message that is not a valid notice is reported on stderr and skipped.
    """
    options = broker_link(
        broker_url, client_id, username, password_file, ca_file, cert_file, key_file
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        found = collect_enrollments(options, Topics(topic_prefix), wait_s, stop)
    for problem in found.problems:
        click.echo(f"skipped {problem}", err=True)
    if as_json:
        for notice in found.notices:
            click.echo(notice.model_dump_json())
        return
    rows = [("terminal", "person_id", "templates", "at")]
    rows += [
        (n.terminal_id, n.person_id, str(n.templates), format_rfc3339(n.at)) for n in found.notices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
