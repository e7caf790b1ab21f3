"""Installing a file with exact bytes, mode and owner: atomically, and only when it differs.

Used by provisioning for configs, certificates and secrets. A secret is never readable by
anyone else, not even for an instant: the temporary file is created with the final mode
(``O_EXCL``, then ``fchmod`` against the umask) before a byte is written, then renamed over
the target and the directory synced, so a power cut leaves the old file or the new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.errors import KioskError

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Installed:
    """What :func:`install_bytes` did to one file."""

    path: Path
    action: Action
    mode: int
    uid: int
    gid: int

    def line(self) -> str:
        """E.g. ``created /etc/kiosk/kiosk.toml (0640, root:kiosk)``."""
        return f"{self.action} {self.path} ({self.mode:04o}, {_name(self.uid, self.gid)})"


def install_bytes(target: Path, data: bytes, mode: int, uid: int, gid: int) -> Installed:
    """Make ``target`` hold ``data`` with ``mode`` and owner ``uid:gid``.

    Without root, files stay owned by the current user (the caller checks that this is what
    was asked). Raises :class:`~common.errors.KioskError` with the path on any OS error.
    """
    if os.geteuid() != 0:
        uid, gid = os.geteuid(), os.getegid() if gid == 0 else gid
    if _already(target, data, mode, uid, gid):
        return Installed(target, "unchanged", mode, uid, gid)
    action: Action = "updated" if target.exists() else "created"
    temporary = target.with_name(f".{target.name}.provision-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)
            os.fchown(fd, uid, gid)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
        _sync_directory(target.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise KioskError(f"{target}: cannot install: {exc.strerror or exc}") from None
    return Installed(target, action, mode, uid, gid)


def _already(target: Path, data: bytes, mode: int, uid: int, gid: int) -> bool:
    try:
        status = target.stat()
        same = target.read_bytes() == data
    except OSError:
        return False
    return same and (status.st_mode & 0o7777, status.st_uid, status.st_gid) == (mode, uid, gid)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _name(uid: int, gid: int) -> str:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{user}:{group}"
