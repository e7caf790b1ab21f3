"""``kiosk enroll / people / identify / qr badge`` end to end through the real CLI entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli.main import main
from drivers.qr.pyzbar_decoder import PyzbarDecoder
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from tests.consent_tools import TRANSFER
from tests.recognition_tools import person_photo


def _kiosk(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def test_enroll_list_identify_badge_remove(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    obama = person_photo(faces_dir, "barack_obama", 1)
    assert (
        _kiosk(
            data, "enroll", "--id", "E1001", "--name", "张三", "--consent", "on_device", str(obama)
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "enrolled E1001 (张三): 1 face template added, 1 in total" in captured.out
    db = data / "kiosk.db"
    assert captured.err == (
        f"enrolled E1001 (张三): 1 face template in {db} (a new database, created now)\n"
    )

    assert _kiosk(data, "people", "list", "--json") == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["person_id"], listed["name"], listed["templates"]) == ("E1001", "张三", 1)

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    photos = [
        person_photo(faces_dir, "barack_obama", 2),
        broken,
        faces_dir / "scenes" / "two_people.jpg",
    ]
    assert _kiosk(data, "identify", *map(str, photos)) == 1
    captured = capsys.readouterr()
    first, second, third = (json.loads(line) for line in captured.out.splitlines())
    assert [face["person_id"] for face in first["faces"]] == ["E1001"]
    assert first["faces"][0]["name"] == "张三"  # ensure_ascii=False keeps it readable
    assert "张三" in captured.out
    assert "broken.jpg" in second["error"]
    assert len(third["faces"]) == 2
    assert "1 of 3 images could not be read" in captured.err

    badge = tmp_path / "badge.png"
    assert _kiosk(data, "qr", "badge", "--id", "E1001", "--out", str(badge)) == 0
    image = cv2.imread(str(badge))
    assert image is not None
    assert PyzbarDecoder().decode(image) == ["ATT1:B:E1001"]

    assert _kiosk(data, "people", "remove", "E1001") == 0
    captured = capsys.readouterr()
    assert "removed E1001 (张三) and 1 face template" in captured.out
    assert captured.err == f"removed E1001 (张三) from {db}\n"
    assert _kiosk(data, "people", "remove", "E1001") == 1
    assert "kiosk: error: 'E1001' is not enrolled" in capsys.readouterr().err


def test_refused_enrollment_and_badge_for_unknown_id_print_one_line(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    group = faces_dir / "scenes" / "two_people.jpg"
    assert (
        _kiosk(data, "enroll", "--id", "E1", "--name", "A", "--consent", "on_device", str(group))
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "two_people.jpg: 2 faces of similar size found (" in err
    assert err.endswith("; use a photo with only this person")
    assert _kiosk(data, "qr", "badge", "--id", "E9", "--out", str(tmp_path / "b.png")) == 1
    assert "'E9' is not enrolled" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()
    assert _kiosk(data, "enroll", "--id", "E2", "--name", "QR only") == 0
    captured = capsys.readouterr()
    assert "E2 (QR only): 0 face templates" in captured.out
    assert captured.err == f"enrolled E2 (QR only): 0 face templates in {data / 'kiosk.db'}\n"


def test_several_refused_photos_give_a_line_each_and_fail(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    group = faces_dir / "scenes" / "two_people.jpg"
    missing = tmp_path / "missing.jpg"
    wall = tmp_path / "wall.jpg"
    assert cv2.imwrite(str(wall), np.full((480, 640, 3), 150, dtype=np.uint8))
    args = [
        "enroll",
        "--id",
        "E1",
        "--name",
        "A",
        "--consent",
        "on_device",
        str(group),
        str(missing),
        str(wall),
    ]
    assert _kiosk(data, *args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    first, second, third, error = captured.err.splitlines()
    assert first.startswith(f"  {group}: refused: 2 faces of similar size found (")
    assert second.startswith(f"  {missing}: refused: ")
    assert third == f"  {wall}: refused: no face found"
    assert error == (
        "kiosk: error: E1 (A) not enrolled: none of the 3 photos can be used (every reason"
        f" above); nothing stored in {data / 'kiosk.db'}"
    )
    assert _kiosk(data, "people", "list") == 0
    assert capsys.readouterr().err == f"nobody is enrolled in {data / 'kiosk.db'}\n"


def test_reading_commands_create_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert _kiosk(data, "people", "list") == 0
    assert (
        capsys.readouterr().err
        == f"nobody is enrolled: there is no database at {data / 'kiosk.db'}\n"
    )
    assert _kiosk(data, "people", "remove", "E1") == 1
    assert "'E1' is not enrolled: there is no database at" in capsys.readouterr().err
    assert _kiosk(data, "qr", "badge", "--id", "E1", "--out", str(tmp_path / "b.png")) == 1
    assert "'E1' is not enrolled" in capsys.readouterr().err
    assert not data.exists()


def test_enroll_reports_every_photo_and_which_face_was_used(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    dominant = person_photo(faces_dir, "jennifer_aniston", 4)
    group = faces_dir / "scenes" / "two_people.jpg"
    args = [
        "enroll",
        "--id",
        "E1",
        "--name",
        "Jennifer Aniston",
        "--consent",
        "transfer",
        str(dominant),
        str(group),
    ]
    assert _kiosk(data, *args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "enrolled E1 (Jennifer Aniston): 1 face template added, 1 in total; 1 of 2 photos refused"
    )
    assert re.fullmatch(
        rf"  {re.escape(str(dominant))}: used the largest face \((\d+) px, box \[[\d, ]+\]\)"
        r" of \d; the others are (\d+ px, )*\d+ px and \d+ px",
        lines[1],
    ), lines[1]
    assert lines[2].startswith(f"  {group}: refused: 2 faces of similar size found (")

    assert _kiosk(data, *args[:2], "E2", *args[3:], "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["person_id"], record["templates_added"], record["templates"]) == ("E2", 1, 1)
    used, refused = record["photos"]
    assert (used["path"], used["used"]) == (str(dominant), True)
    assert used["faces"] == 1 + len(used["other_faces_px"]) >= 2
    assert len(used["box"]) == 4 and used["face_px"] > 2 * max(used["other_faces_px"])
    assert (refused["path"], refused["used"]) == (str(group), False)
    assert refused["reason"].startswith("2 faces of similar size found (")


def test_people_remove_leaves_nothing_of_the_person_in_the_database_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = open_database(data / "kiosk.db")
    gallery = Gallery(db)
    marker = np.full(128, 0.123456789, dtype=np.float32)
    gallery.add_person(
        "E7777", "Zyxw Quor", [marker, marker * 2], "sface", "d1", ["a", "b"], consent=TRANSFER
    )
    gallery.add_person("E1001", "Kept Person", [marker * 3], "sface", "d1", ["c"], consent=TRANSFER)
    db.conn.close()
    assert _kiosk(data, "people", "remove", "E7777") == 0
    files = sorted(data.glob("kiosk.db*"))
    raw = b"".join(path.read_bytes() for path in files)
    for trace in (b"E7777", b"Zyxw Quor", marker.tobytes(), (marker * 2).tobytes()):
        assert trace not in raw, f"{trace[:12]!r} is still in {[p.name for p in files]}"
    assert b"Kept Person" in raw


def test_identify_without_a_database_says_so_and_creates_none(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    photo = person_photo(faces_dir, "barack_obama", 1)
    assert _kiosk(data, "identify", str(photo)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no kiosk database" in err and "kiosk enroll" in err
    assert not (data / "kiosk.db").exists()
