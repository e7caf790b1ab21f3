"""The ``kiosk`` command: one group, sub-commands registered from the modules that own them.

Every deliberate error (:class:`~terminal.errors.KioskError`) is printed as one line,
``kiosk: error: ...``, with exit status 1; usage errors exit with 2.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from terminal import __version__
from terminal.config import Config, load_config
from terminal.errors import KioskError


@dataclass
class CliContext:
    """What every sub-command shares: the global options and the config loaded from them."""

    config_path: Path | None
    data_dir: Path | None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """The validated config (loaded on first use, so ``--help`` never reads it)."""
        if self._config is None:
            self._config = load_config(self.config_path, self.data_dir)
        return self._config


pass_cli = click.make_pass_decorator(CliContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="KIOSK_CONFIG",
    help="TOML config file (env KIOSK_CONFIG).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="KIOSK_DATA_DIR",
    help="Overrides [storage] data_dir (env KIOSK_DATA_DIR).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(__version__, prog_name="kiosk")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, data_dir: Path | None, verbose: bool) -> None:
    """Edge attendance terminal: face and QR check-in with exactly-once delivery."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = CliContext(config_path, data_dir)


def _register() -> None:
    # Imported here so each module owns its commands and `kiosk --help` stays cheap.
    from terminal import (
        cli_alerts,
        cli_bench,
        cli_calibrate,
        cli_codes,
        cli_command,
        cli_doctor,
        cli_events,
        cli_loadgen,
        cli_models,
        cli_onboard,
        cli_people,
        cli_provision,
        cli_receive,
        cli_report,
        cli_roster,
        cli_run,
    )

    modules = (
        cli_run,
        cli_events,
        cli_people,
        cli_receive,
        cli_models,
        cli_calibrate,
        cli_bench,
        cli_loadgen,
        cli_codes,
        cli_provision,
        cli_doctor,
        cli_roster,
        cli_command,
        cli_onboard,
        cli_report,
        cli_alerts,
    )
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    _register()
    try:
        # Without standalone mode, click returns a command's exit status (click.exceptions.Exit
        # raised by `kiosk run`, `kiosk demo`) instead of raising it.
        status = cli.main(args=argv, prog_name="kiosk", standalone_mode=False)
    except KioskError as exc:
        click.echo(f"kiosk: error: {exc}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("kiosk: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    return status if isinstance(status, int) and not isinstance(status, bool) else 0
