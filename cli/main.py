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
from typing import Any

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


LazyTable = dict[str, tuple[str, str, str]]
"""Sub-command name: (module, attribute, the install extra the module needs)."""

COMMANDS: LazyTable = {
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
    "privacy": ("cli.privacy", "privacy", "kiosk"),
    "keys": ("cli.codes", "keys", "central"),
    "receive": ("cli.receive", "receive", "central"),
    "api": ("cli.api", "api", "central"),
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
    "leave": ("cli.records", "leave", "central"),
    "corrections": ("cli.records", "corrections", "central"),
}

QR_COMMANDS: LazyTable = {
    "badge": ("cli.people", "qr_badge", "kiosk"),
    "issue": ("cli.codes", "qr_issue", "central"),
}

OUR_PACKAGES = frozenset({"cli", "central", "common", "devtools", "drivers", "models", "terminal"})


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when the command is wanted
    (click's documented lazy-loading pattern), from a :data:`LazyTable`.

    A command whose module needs packages this install lacks (a kiosk-only install asked for
    ``kiosk report``), or that reaches for one while it runs (``kiosk report --png`` without
    matplotlib), ends with one error line naming the extra to install, not a traceback.
    """

    def __init__(self, *args: Any, lazy_subcommands: LazyTable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, without importing any command module."""
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, its module imported now."""
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, extra = self.lazy_subcommands[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if _ours(exc):
                raise
            return _missing_packages(f"{ctx.command_path} {cmd_name}", extra, _missing(exc))
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command; a package missing while it runs becomes one error line."""
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            name = ctx.invoked_subcommand
            if name is None or name not in self.lazy_subcommands or _ours(exc):
                raise
            extra = self.lazy_subcommands[name][2]
            raise KioskError(
                _missing_message(f"{ctx.command_path} {name}", extra, _missing(exc))
            ) from None


def _ours(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").split(".")[0] in OUR_PACKAGES


def _missing(exc: ModuleNotFoundError) -> str:
    return exc.name or str(exc)


def _missing_message(command: str, extra: str, missing: str) -> str:
    return (
        f"{command} needs the package {missing!r}, which this install lacks:"
        f" install kiosk-terminal[{extra}]"
    )


def _missing_packages(command: str, extra: str, missing: str) -> click.Command:
    def refuse() -> None:
        raise KioskError(_missing_message(command, extra, missing))

    return click.Command(
        command.rsplit(" ", 1)[-1],
        callback=refuse,
        help=f"(needs kiosk-terminal[{extra}]: {missing} is not installed)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


@cli.group(cls=LazyGroup, lazy_subcommands=QR_COMMANDS)
def qr() -> None:
    """QR codes: static badges (kiosk) and signed short-lived codes (the HR side)."""


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
