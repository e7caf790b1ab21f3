"""A real small file system for disk faults: a tmpfs of a few MiB mounted for one test.

Mounting needs root (CI runs the tests as root). Elsewhere the tests that need it are skipped
with the reason, unless ``KIOSK_TEST_MOUNTS`` is set (``make test`` as root sets it), where a
mount that fails is a failure, never a skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_filesystem(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MiB mounted on ``where`` (created) for the ``with`` block."""
    where.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(where)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = f"cannot mount a {size_mb} MiB tmpfs: {result.stderr.strip()}"
        if os.environ.get("KIOSK_TEST_MOUNTS") or os.geteuid() == 0:
            pytest.fail(reason)
        pytest.skip(f"{reason} (run as root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=False)


def free_bytes(path: Path) -> int:
    """Bytes still free for an unprivileged writer on the file system of ``path``."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_disk(path: Path) -> int:
    """Write a file at ``path`` until the disk is full (ENOSPC); return its size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = 0
    try:
        for block in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    written += os.write(fd, b"\0" * block)
            except OSError:
                continue
    finally:
        os.close(fd)
    return written
