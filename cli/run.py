"""``kiosk run``, ``kiosk demo`` and ``kiosk config check``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from cli.main import CliContext, pass_cli
from terminal.config import check_runnable
from terminal.system.threads import limit_blas_threads

# OpenBLAS reads its thread count once, when numpy is imported: terminal.daemon imports it.
limit_blas_threads()
from terminal.daemon import Daemon, RunOptions  # noqa: E402
from terminal.output.announcements import Language  # noqa: E402


@click.command()
@click.option(
    "--exit-when-source-ends",
    is_flag=True,
    help="For a file or folder source: stop at its end, after delivering the backlog.",
)
@click.option(
    "--as-fast-as-possible",
    is_flag=True,
    help="Do not pace file and folder sources at the configured fps.",
)
@pass_cli
def run(ctx: CliContext, exit_when_source_ends: bool, as_fast_as_possible: bool) -> None:
    """Run the kiosk: camera, recognition, durable store and delivery."""
    config = ctx.config
    logging.getLogger().setLevel(config.log.level)
    options = RunOptions(
        realtime=not as_fast_as_possible, exit_when_source_ends=exit_when_source_ends
    )
    raise click.exceptions.Exit(Daemon(config, options).run())


@click.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's files here (default: a new temporary directory).",
)
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option(
    "--keep-open",
    is_flag=True,
    help="Play the scene again and again, the screen on, until Ctrl-C (to watch the screen).",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Serve the screen here (default: a free port on 127.0.0.1; 0.0.0.0:8080 to watch it"
    " from another machine).",
)
def demo(workdir: Path | None, language: Language, keep_open: bool, listen: str | None) -> None:
    """Play the built-in scene through a real kiosk, broker and receiver; no camera needed."""
    from devtools.demo import run_demo

    logging.getLogger().setLevel(logging.WARNING)
    raise click.exceptions.Exit(run_demo(workdir, language, keep_open, listen))


@click.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@pass_cli
def config_check(ctx: CliContext) -> None:
    """Validate the config file as `kiosk run` does and print the effective settings as JSON."""
    check_runnable(ctx.config)
    click.echo(json.dumps(ctx.config.model_dump(mode="json"), indent=2, ensure_ascii=False))
