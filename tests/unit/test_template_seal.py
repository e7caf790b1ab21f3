"""Face templates sealed with AES-256-GCM: round trip, refusals, and the key file (real files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from common.errors import ConfigError, StoreError
from terminal.store.template_seal import MAGIC, SEAL_OVERHEAD, TemplateSeal, is_sealed

PLAIN = np.linspace(-1, 1, 128, dtype="<f4").tobytes()


@pytest.fixture
def seal(tmp_path: Path) -> TemplateSeal:
    return TemplateSeal.from_key_file(tmp_path / "template.key")


def test_a_sealed_template_opens_to_the_same_bytes(seal: TemplateSeal) -> None:
    blob = seal.seal(PLAIN, "E1")
    assert len(blob) == len(PLAIN) + SEAL_OVERHEAD
    assert blob.startswith(MAGIC)
    assert PLAIN not in blob
    assert seal.open(blob, "E1") == PLAIN
    assert np.array_equal(np.frombuffer(seal.open(blob, "E1"), "<f4"), np.frombuffer(PLAIN, "<f4"))


def test_a_template_moved_to_another_person_does_not_open(seal: TemplateSeal) -> None:
    blob = seal.seal(PLAIN, "E1")
    with pytest.raises(StoreError, match="could not be unsealed"):
        seal.open(blob, "E2")
    with pytest.raises(StoreError):
        seal.open(blob, "e1")


@pytest.mark.parametrize("index", [len(MAGIC), len(MAGIC) + 12, 100, -1])
def test_a_changed_byte_does_not_open(seal: TemplateSeal, index: int) -> None:
    blob = bytearray(seal.seal(PLAIN, "E1"))
    blob[index] ^= 0x01
    with pytest.raises(StoreError, match="wrong key file or damaged data"):
        seal.open(bytes(blob), "E1")


def test_truncated_or_plain_data_does_not_open(seal: TemplateSeal) -> None:
    blob = seal.seal(PLAIN, "E1")
    for bad in (blob[:-1], blob[:SEAL_OVERHEAD - 1], PLAIN, b"", MAGIC):  # fmt: skip
        with pytest.raises(StoreError):
            seal.open(bad, "E1")


def test_another_key_does_not_open(tmp_path: Path, seal: TemplateSeal) -> None:
    other = TemplateSeal.from_key_file(tmp_path / "other.key")
    assert other.key_id != seal.key_id
    with pytest.raises(StoreError):
        other.open(seal.seal(PLAIN, "E1"), "E1")


def test_the_same_key_file_gives_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    first = TemplateSeal.from_key_file(path)
    second = TemplateSeal.from_key_file(path, create=False)
    assert first.key_id == second.key_id
    assert second.open(first.seal(PLAIN, "张三"), "张三") == PLAIN


def test_two_seals_of_the_same_template_differ(seal: TemplateSeal) -> None:
    first, second = seal.seal(PLAIN, "E1"), seal.seal(PLAIN, "E1")
    assert first != second
    assert first[len(MAGIC) : len(MAGIC) + 12] != second[len(MAGIC) : len(MAGIC) + 12]
    assert seal.open(first, "E1") == seal.open(second, "E1") == PLAIN


def test_is_sealed_tells_sealed_from_plain(seal: TemplateSeal) -> None:
    assert is_sealed(seal.seal(PLAIN, "E1"))
    assert is_sealed(seal.seal(b"", "E1"))
    assert not is_sealed(PLAIN)
    assert not is_sealed(b"")
    assert not is_sealed(MAGIC)


def test_a_missing_key_file_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    old_umask = os.umask(0)
    try:
        seal = TemplateSeal.from_key_file(path)
    finally:
        os.umask(old_umask)
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_size == 32
    assert len(seal.key_id) == 8
    int(seal.key_id, 16)


def test_the_key_never_shows(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    seal = TemplateSeal.from_key_file(path)
    key = path.read_bytes()
    assert key.hex() not in repr(seal)
    assert seal.key_id in repr(seal)


def test_a_missing_key_file_is_refused_without_create(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    with pytest.raises(ConfigError, match="does not exist"):
        TemplateSeal.from_key_file(path, create=False)
    assert not path.exists()


def test_no_folder_is_created_for_the_key(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "template.key"
    with pytest.raises(ConfigError, match="folder does not exist"):
        TemplateSeal.from_key_file(path)
    assert not path.parent.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_a_key_file_others_may_use_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "template.key"
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        TemplateSeal.from_key_file(path)
    message = str(caught.value)
    assert str(path) in message and f"{mode:04o}" in message and "\n" not in message


def test_an_owner_read_only_key_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o400)
    assert len(TemplateSeal.from_key_file(path).key_id) == 8


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "template.key"
    path.write_bytes(os.urandom(size))
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=f"exactly 32 bytes, it holds {size}") as caught:
        TemplateSeal.from_key_file(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes().__len__() == size  # never replaced


def test_an_unreadable_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "template.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o000)
    if os.geteuid() == 0:  # root reads a file of mode 000 anyway: the kernel's answer to others
        real_open = os.open

        def refuse(name: object, flags: int, *args: object, **kwargs: object) -> int:
            if Path(str(name)) == path:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(name, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ConfigError, match="cannot be read: Permission denied") as caught:
        TemplateSeal.from_key_file(path)
    assert str(path) in str(caught.value)


def test_a_folder_is_not_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    path.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        TemplateSeal.from_key_file(path)


def test_a_raw_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ConfigError):
        TemplateSeal(b"\x00" * 16)
