"""``kiosk provision``: set a terminal up from the command line (over SSH), idempotently."""

from __future__ import annotations

from pathlib import Path

import click

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command("provision")
@click.option("--terminal-id", required=True, help="This terminal's id (its MQTT identity).")
@click.option("--site", required=True, help="Site or building.")
@click.option("--broker", "broker_url", required=True, metavar="URL",
              help="mqtt://host:1883 or mqtts://host:8883.")  # fmt: skip
@click.option("--ca", type=_FILE, default=None, help="CA certificate of the broker (PEM).")
@click.option("--cert", type=_FILE, default=None,
              help="This terminal's client certificate (PEM, CN = terminal id).")  # fmt: skip
@click.option("--key", type=_FILE, default=None, help="Its private key (PEM, no passphrase).")
@click.option("--username", default=None, help="Broker user name (with --password-file).")
@click.option("--password-file", type=_FILE, default=None, help="File holding the password.")
@click.option(
    "--config-dir", type=click.Path(path_type=Path, file_okay=False),
    default=Path("/etc/kiosk"), show_default=True,
    help="Where kiosk.toml and the credentials go.",
)  # fmt: skip
@click.option(
    "--data-dir", "state_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Set [storage] data_dir (default: leave it as it is).",
)  # fmt: skip
@click.option("--owner", default="kiosk", show_default=True,
              help="The user the daemon runs as; it gets the private files.")  # fmt: skip
def provision(
    terminal_id: str,
    site: str,
    broker_url: str,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    username: str | None,
    password_file: Path | None,
    config_dir: Path,
    state_dir: Path | None,
    owner: str,
) -> None:
    """Write kiosk.toml and install the broker credentials with the right owners and modes.

    Existing settings and comments in kiosk.toml are kept; running the same command again
    changes nothing. Nothing is written when the result would not work (e.g. a certificate
    issued to another terminal, or a key that is not the certificate's).
    """
    from terminal.provisioning.provision import ProvisionRequest
    from terminal.provisioning.provision import provision as run

    request = ProvisionRequest(
        terminal_id=terminal_id,
        site=site,
        broker_url=broker_url,
        config_dir=config_dir,
        ca=ca,
        cert=cert,
        key=key,
        username=username,
        password_file=password_file,
        data_dir=state_dir,
        owner=owner,
    )
    for installed in run(request):
        click.echo(installed.line())
    click.echo(f"start it with: systemctl restart kiosk  (config: {request.config_path})")
