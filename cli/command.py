"""``kiosk command send``: the central side of commands (sign, publish, print the result)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
from pydantic import ValidationError

from central.commands import CommandSender
from cli.central_options import (
    EXISTING_FILE,
    broker_login,
    broker_login_options,
    check_terminal_ids,
    load_signing_key,
)
from common.errors import KioskError
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from models.command import DEFAULT_TTL_S, CommandKind, CommandStatus, Scalar, build_command
from models.signed_envelope import describe_error

_FILE = EXISTING_FILE


def parse_args(kind: str, pairs: tuple[str, ...]) -> dict[str, Scalar]:
    """``key=value`` pairs as command args; ``set_setting``'s ``value`` is read as JSON when it
    is a JSON number or ``true``/``false`` (``60``, ``0.5``, ``false``), else as text."""
    args: dict[str, Scalar] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--arg {pair!r}: use key=value")
        value: Scalar = text
        if kind == CommandKind.SET_SETTING and key == "value":
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            value = parsed if isinstance(parsed, str | int | float | bool) else text
        args[key] = value
    return args


@click.group("command")
def command() -> None:
    """Commands to one terminal: signed, answered with a result, run once."""


@command.command("send")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@click.option("--terminal", "terminal_id", required=True, help="The terminal's id.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in CommandKind]))
@click.option("--arg", "pairs", multiple=True, metavar="KEY=VALUE", help="An argument (repeat).")
@click.option("--key", "signing_key", required=True, type=_FILE, help="Ed25519 private key (PEM).")
@click.option("--key-id", required=True, help="Its id: terminals trust it as <key id>.pub.")
@click.option(
    "--ttl",
    "ttl_s",
    default=DEFAULT_TTL_S,
    show_default=True,
    type=click.FloatRange(1, 7 * 86400),
    help="Seconds the command stays valid.",
)
@click.option(
    "--command-id",
    type=click.UUID,
    default=None,
    help="Reuse an id to ask for a result again (never runs twice) [new id].",
)
@click.option(
    "--wait",
    "wait_s",
    default=0.0,
    type=click.FloatRange(0),
    help="Seconds to wait for the terminal's result (0: don't).",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=30.0,
    type=click.FloatRange(1),
    show_default=True,
    help="Seconds to wait for the broker to take the command.",
)
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--client-id", default=None, help="MQTT client id [kiosk-command-<random>].")
@broker_login_options
def send(
    broker_url: str,
    terminal_id: str,
    kind: str,
    pairs: tuple[str, ...],
    signing_key: Path,
    key_id: str,
    ttl_s: float,
    command_id: uuid.UUID | None,
    wait_s: float,
    timeout_s: float,
    topic_prefix: str,
    client_id: str | None,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """Sign a command for --terminal and publish it on {prefix}/{terminal}/commands.

    Kinds and their --arg: sync_now; remove_person person_id=ID; set_setting key=SECTION.NAME
    value=V; report_diagnostics. With --wait, prints the terminal's result (JSON) and exits 1
    unless it is "done" (refused, failed, or no answer in time).
    """
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    check_terminal_ids([terminal_id])
    private_key = load_signing_key(signing_key, key_id)
    args = parse_args(kind, pairs)
    try:
        built, message = build_command(
            private_key, key_id, terminal_id, kind, args, ttl_s, command_id
        )
    except ValidationError as exc:
        raise click.UsageError(f"not a valid {kind} command: {describe_error(exc)}") from None
    client = client_id or f"kiosk-command-{uuid.uuid4().hex[:8]}"
    options = LinkOptions(
        url=broker_url,
        client_id=client,
        username=login.username,
        password=login.password,
        tls=login.tls,
    )
    sender = CommandSender(options, Topics(topic_prefix), terminal_id, listen=wait_s > 0)
    try:
        sender.send(message, timeout_s)
        click.echo(f"{terminal_id}: command {built.command_id} ({kind}) published", err=True)
        if wait_s <= 0:
            return
        result = sender.wait_result(built.command_id, wait_s)
    finally:
        sender.close()
    if result is None:
        raise KioskError(f"{terminal_id}: no result for command {built.command_id} in {wait_s:g} s")
    click.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    if result.status is not CommandStatus.DONE:
        raise KioskError(f"{terminal_id}: command {result.status.value}: {result.detail}")
