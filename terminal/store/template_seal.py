"""Face templates sealed at rest: each template BLOB encrypted with AES-256-GCM under a key
kept in a file of its own.

What it protects against, and what not:

* The key file on the same SD card as ``kiosk.db`` protects **copies of kiosk.db**: backups,
  support bundles, a ``kiosk.db`` sent by mail or left on a laptop. Their templates cannot be
  opened without the key file, which is never part of them.
* It does **not** protect against a stolen SD card (or a copy of the whole data folder) that holds
  both the database and the key: whoever has both opens the templates as the kiosk does.
* A key kept **off the card** (a USB key, systemd credentials, a TPM-backed credentials store)
  protects a stolen card too.
* Only the templates are sealed. Without the key, an attacker with the card still gets the names,
  person ids, consent records and check-in history, but no usable face templates.

Each sealed template is ``MAGIC + nonce (12 random bytes) + AES-GCM ciphertext and tag``, with
the person id (UTF-8) as associated data, so a sealed template moved to another person's row
fails to open. A damaged byte or a wrong key fails to open too (:class:`~common.errors.
StoreError`), never returns garbage. A plain template is ``dim * 4`` bytes of little-endian
float32, a multiple of 4; a sealed one is :data:`SEAL_OVERHEAD` (34) bytes longer, never a
multiple of 4, and starts with :data:`MAGIC`, so :func:`is_sealed` tells them apart.

The key is 32 random bytes in a raw file readable by its owner only (mode 0600 or 0400);
:meth:`TemplateSeal.from_key_file` creates it when missing and refuses one that others may read.
The key itself is never logged nor shown: :attr:`TemplateSeal.key_id` (8 hex characters of its
SHA-256) tells which key sealed a database.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.errors import ConfigError, StoreError

MAGIC = b"KSEAL1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SEAL_OVERHEAD = len(MAGIC) + NONCE_BYTES + TAG_BYTES
"""Bytes a sealed template has beyond its plain one: magic, nonce and GCM tag (34)."""

_UNSEAL_FAILED = "a face template could not be unsealed: wrong key file or damaged data"


def is_sealed(blob: bytes) -> bool:
    """Whether ``blob`` is a sealed template (starts with :data:`MAGIC`, long enough to hold a
    nonce and a tag), as opposed to a plain float32 one."""
    return len(blob) >= SEAL_OVERHEAD and blob[: len(MAGIC)] == MAGIC


def _create_key_file(path: Path) -> None:
    """Write 32 random bytes to ``path``, which must not exist, readable by its owner only."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # another process made it first: read theirs
    except OSError as exc:
        raise ConfigError(
            f"{path}: the template key file cannot be created: {exc.strerror or exc}"
        ) from None
    try:
        try:
            data = os.urandom(KEY_BYTES)
            written = 0
            while written < KEY_BYTES:
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)  # never leave a short key behind
        raise ConfigError(
            f"{path}: the template key file cannot be written: {exc.strerror or exc}"
        ) from None
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read_key_file(path: Path) -> bytes:
    """The key in ``path``: a regular file of exactly 32 bytes that only its owner may use."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigError(f"{path}: the template key file does not exist") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: the template key file cannot be read: {exc.strerror or exc}"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: the template key file is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{path}: the template key file has mode {mode:04o}, which lets other users"
                f" read or change it; run: chmod 600 {path}"
            )
        data = b""
        while len(data) <= KEY_BYTES:
            chunk = os.read(fd, KEY_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise ConfigError(
            f"{path}: the template key file cannot be read: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        size = f"{info.st_size}" if len(data) > KEY_BYTES else f"{len(data)}"
        raise ConfigError(
            f"{path}: the template key file must hold exactly {KEY_BYTES} bytes, it holds {size}"
        )
    return data


class TemplateSeal:
    """Seals and opens face templates with one AES-256-GCM key (see the module's docstring)."""

    __slots__ = ("_aead", "_key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError(f"a template key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(bytes(key))
        self._key_id = hashlib.sha256(key).hexdigest()[:8]

    @classmethod
    def from_key_file(cls, path: Path, create: bool = True) -> TemplateSeal:
        """The seal whose key is the 32 raw bytes in ``path``.

        When the file is missing and ``create`` is true, it is made (mode 0600, 32 bytes of
        ``os.urandom``, never overwriting a file that appears meanwhile); its folder must exist.
        Raises :class:`~common.errors.ConfigError` when the file is missing (and not created),
        unreadable, not 32 bytes, or open to the group or others.
        """
        path = Path(path)
        if create and not path.exists():
            if not path.parent.is_dir():
                raise ConfigError(
                    f"{path}: the template key file cannot be created, its folder does not exist"
                )
            _create_key_file(path)
        return cls(_read_key_file(path))

    @property
    def key_id(self) -> str:
        """The first 8 hex characters of the key's SHA-256: which key sealed a database."""
        return self._key_id

    def seal(self, plain: bytes, person_id: str) -> bytes:
        """``plain`` encrypted for ``person_id``: MAGIC + random 12-byte nonce + ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, bytes(plain), person_id.encode("utf-8"))

    def open(self, blob: bytes, person_id: str) -> bytes:
        """The plain bytes of a template sealed for ``person_id``.

        Raises :class:`~common.errors.StoreError` when ``blob`` is not sealed, was damaged,
        belongs to another person or was sealed with another key.
        """
        if not is_sealed(blob):
            raise StoreError(_UNSEAL_FAILED)
        start = len(MAGIC)
        nonce = bytes(blob[start : start + NONCE_BYTES])
        try:
            return self._aead.decrypt(
                nonce, bytes(blob[start + NONCE_BYTES :]), person_id.encode("utf-8")
            )
        except InvalidTag:
            raise StoreError(_UNSEAL_FAILED) from None

    def __repr__(self) -> str:
        return f"TemplateSeal(key_id={self._key_id!r})"


def seal_for(key_file: Path | None) -> TemplateSeal | None:
    """The seal of ``[privacy] template_key_file`` (created when missing), or None when unset
    (templates stored in the clear). :class:`~common.errors.ConfigError` on a bad key file."""
    return None if key_file is None else TemplateSeal.from_key_file(key_file)
