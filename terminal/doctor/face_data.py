"""The face-data check: that nobody depends on their face alone, that faces are used only with
consent, that people are told, and what protects the templates at rest.

China's face-recognition measures: face recognition must not be the only way where another
exists; without the person's separate consent their face is not processed. So this check
warns when the terminal takes faces only (``[verification] mode = "face"``: everyone with a
face on file has no second way in), lists people no configured way lets in, people whose
templates carry no consent (a kiosk upgraded from a release before consent: they are not
recognised until it is recorded), a face terminal without the idle-screen notice, and templates
still in the clear when a template key is configured (``kiosk people seal``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from common.errors import StoreError
from terminal.config import Config
from terminal.doctor.database import open_read_only
from terminal.doctor.result import CheckResult, passed, warned
from terminal.store.template_seal import MAGIC

NAME = "face-data"
_FACE_OK = "coalesce(p.consent_scope IN ('on_device', 'transfer'), 0)"


def _people(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts of everyone, of those with a usable face, and of templates without consent."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(people)").fetchall()}
    total = conn.execute("SELECT count(*) FROM people").fetchone()[0]
    if "consent_scope" not in columns:  # an older file, not migrated yet: nobody consented
        with_templates = conn.execute("SELECT count(DISTINCT person_id) FROM templates").fetchone()[
            0
        ]
        return {"people": total, "face": 0, "no_face": total, "unconsented": with_templates,
                "no_face_ids": [], "clear_templates": 0}  # fmt: skip
    face = conn.execute(
        f"SELECT count(*) FROM people p WHERE {_FACE_OK}"
        " AND EXISTS (SELECT 1 FROM templates t WHERE t.person_id = p.person_id)"
    ).fetchone()[0]
    unconsented = conn.execute(
        f"SELECT count(DISTINCT t.person_id) FROM templates t JOIN people p USING (person_id)"
        f" WHERE NOT {_FACE_OK}"
    ).fetchone()[0]
    no_face_ids = [
        str(row[0])
        for row in conn.execute(
            f"SELECT person_id FROM people p WHERE NOT ({_FACE_OK} AND EXISTS (SELECT 1 FROM"
            " templates t WHERE t.person_id = p.person_id)) ORDER BY person_id LIMIT 5"
        ).fetchall()
    ]
    (clear,) = conn.execute(
        "SELECT count(*) FROM templates WHERE substr(embedding, 1, 6) != ?", (MAGIC,)
    ).fetchone()
    return {"people": total, "face": face, "no_face": total - face, "unconsented": unconsented,
            "no_face_ids": no_face_ids, "clear_templates": clear}  # fmt: skip


def _codes_accepted(config: Config) -> bool:
    """Whether this terminal lets anyone in with a QR code at all."""
    qr = config.qr
    return qr.enabled and (qr.static_badges or qr.public_keys_dir is not None)


def check_face_data(config: Config) -> CheckResult:
    """Ways in, consent, the notice and protection at rest (see the module docstring)."""
    mode = config.verification.mode
    faces = config.recognition.enabled and mode != "qr"
    sealed = config.privacy.template_key_file is not None
    at_rest = (
        f"templates sealed with {config.privacy.template_key_file}"
        if sealed
        else "templates protected by file permissions only"
    )
    path = config.database_path
    counts: dict[str, Any] = {"people": 0, "face": 0, "no_face": 0, "unconsented": 0,
                              "no_face_ids": [], "clear_templates": 0}  # fmt: skip
    if path.exists():
        try:
            conn = open_read_only(path)
            try:
                counts = _people(conn)
            finally:
                conn.close()
        except (sqlite3.Error, StoreError) as exc:
            return warned(NAME, f"kiosk.db cannot be read ({exc})", "see the database check")
    data = {key: value for key, value in counts.items() if key != "no_face_ids"}
    data.update(mode=mode, faces=faces, sealed=sealed)
    codes = _codes_accepted(config)
    problems: list[str] = []
    hints: list[str] = []
    shown = ", ".join(counts["no_face_ids"]) + (", ..." if counts["no_face"] > 5 else "")
    if faces and counts["no_face"] and (mode == "face_and_qr" or not codes):
        why = "this mode needs a face too" if mode == "face_and_qr" else "no QR code is accepted"
        problems.append(
            f"{counts['no_face']} people without a face on file have no way in here"
            f" ({why}): {shown}"
        )
        hints.append('use [verification] mode = "face_or_qr" with [qr] enabled')
    elif mode == "face" and faces:
        problems.append(
            f"face-only terminal: face is the only way in for the {counts['face']} people with"
            f" a face on file; {counts['no_face']} without one check in by QR code only"
        )
        hints.append('use [verification] mode = "face_or_qr": face must not be the only way')
    if counts["unconsented"]:
        problems.append(
            f"{counts['unconsented']} people have face templates but no consent recorded: they"
            " are not recognised by face"
        )
        hints.append(
            "record each one's consent (kiosk people consent ID --consent on_device), or"
            " withdraw it (--consent none deletes the templates)"
        )
    if sealed and counts["clear_templates"]:
        problems.append(f"{counts['clear_templates']} face templates are still in the clear")
        hints.append("seal them: kiosk people seal")
    if faces and not config.privacy.notice:
        problems.append("the face-recognition notice is off")
        hints.append("set [privacy] notice = true unless the notice is posted at the door")
    summary = (
        f"{counts['people']} people, {counts['face']} recognisable by face,"
        f" {counts['no_face']} by QR code only; {at_rest}"
    )
    if problems:
        return warned(NAME, "; ".join(problems) + f" ({summary})", "; ".join(hints), **data)
    return passed(NAME, summary, **data)
