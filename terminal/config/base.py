"""What every config section shares: strictness, error messages, secrets read from files."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from common.errors import ConfigError


class Section(BaseModel):
    """A table of the TOML config; a key it does not declare is rejected, not ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def describe(error: ValidationError) -> str:
    """The first validation error as one line naming the key, e.g. ``unknown key 'mqtt.x'``."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def read_secret(path: Path) -> str:
    """Read a secret (password, token) from a file, stripped of surrounding whitespace."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read secret file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: secret file is not UTF-8 text") from None
