"""A report's JSON document written as it is made: byte for byte what
``json.dumps(document, ensure_ascii=False, indent=2)`` gives, but a list of rows is written one
row at a time, so a year's rows never have to be held (nor their text).

Rows of scalars (str, int, float, bool, None), as the report tables have, are formatted here
with the C string encoder; anything else goes through :func:`json.dumps`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring
from typing import Any, TextIO

_INDENT = "  "


def _scalar(value: object) -> str | None:
    """``value`` as JSON when it is a scalar (None otherwise: not handled here)."""
    if isinstance(value, str):
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return None


def nested(value: Any, depth: int) -> str:
    """``value`` as indented JSON placed ``depth`` levels deep."""
    text = _scalar(value)
    if text is None:
        text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + _INDENT * depth) if depth else text


class JsonDocument:
    """A JSON object written key by key to ``out``; :meth:`rows` streams a list of records."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._keys = 0

    def _key(self, key: str) -> None:
        self.out.write(("{" if self._keys == 0 else ",") + "\n" + _INDENT)
        self.out.write(encode_basestring(key) + ": ")
        self._keys += 1

    def value(self, key: str, value: Any) -> None:
        """Write ``key`` and ``value`` (any JSON value)."""
        self._key(key)
        self.out.write(nested(value, 1))

    def rows(self, key: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Write ``key`` with the rows as a list of records keyed by ``columns``; the count."""
        self._key(key)
        inner = "\n" + _INDENT * 3
        prefixes = [inner + encode_basestring(c) + ": " for c in columns]
        count = 0
        write = self.out.write
        write("[")
        for row in rows:
            cells = []
            for prefix, cell in zip(prefixes, row, strict=True):
                text = _scalar(cell)
                cells.append(prefix + (nested(cell, 3) if text is None else text))
            body = "{" + ",".join(cells) + "\n" + _INDENT * 2 + "}" if cells else "{}"
            write(("\n" if count == 0 else ",\n") + _INDENT * 2 + body)
            count += 1
        write("\n" + _INDENT + "]" if count else "]")
        return count

    def close(self) -> None:
        """End the object (and the line, as ``click.echo`` would)."""
        self.out.write("{}\n" if self._keys == 0 else "\n}\n")
