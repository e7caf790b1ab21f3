"""The ``kiosk`` command: one group, sub-commands registered from the modules that own them.

Every deliberate error (:class:`~common.errors.KioskError`) is printed as one line,
``kiosk: error: ...``, with exit status 1; usage errors exit with 2.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from common.errors import KioskError
from terminal import __version__
from terminal.config import Config, load_config


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


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when the command is wanted.

    A command whose module needs packages this install lacks (a kiosk-only install asked for
    ``kiosk report``) becomes a stub that says which extra to install, as one error line.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, without importing any command module."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, its module imported now."""
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, extra = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OUR_PACKAGES:
                raise
            return _missing_packages(cmd_name, extra, exc.name or str(exc))
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


OUR_PACKAGES = frozenset({"cli", "central", "common", "devtools", "drivers", "models", "terminal"})


def _missing_packages(name: str, extra: str, missing: str) -> click.Command:
    def refuse() -> None:
        raise KioskError(
            f"kiosk {name} needs the package {missing!r}, which this install lacks:"
            f" install kiosk-terminal[{extra}]"
        )

    return click.Command(
        name,
        callback=refuse,
        help=f"(needs kiosk-terminal[{extra}]: {missing} is not installed)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute, the install extra it needs). Modules are imported only when
    # their command runs (or `kiosk --help` lists it), so a kiosk-only or central-only install
    # runs its own commands without the other side's packages.
    "run": ("cli.run", "run", "kiosk"),
    "demo": ("cli.run", "demo", "demo"),
    "config": ("cli.run", "config_group", "kiosk"),
    "events": ("cli.events", "events", "kiosk"),
    "enroll": ("cli.people", "enroll", "kiosk"),
    "people": ("cli.people", "people", "kiosk"),
    "identify": ("cli.people", "identify", "kiosk"),
    "qr": ("cli.codes", "qr_group", "kiosk"),
    "keys": ("cli.codes", "keys", "central"),
    "receive": ("cli.receive", "receive", "central"),
    "models": ("cli.model_files", "models", "kiosk"),
    "calibrate": ("cli.calibrate", "calibrate", "kiosk"),
    "bench": ("cli.bench", "bench_group", "dev"),
    "loadgen": ("cli.loadgen", "loadgen", "kiosk"),
    "provision": ("cli.provision", "provision", "kiosk"),
    "doctor": ("cli.doctor", "doctor", "kiosk"),
    "roster": ("cli.roster", "roster", "central"),
    "command": ("cli.command", "command", "central"),
    "onboard": ("cli.onboard", "onboard", "central"),
    "report": ("cli.report", "report", "central"),
    "alerts": ("cli.alerts", "alerts", "central"),
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
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
