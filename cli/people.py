"""``kiosk enroll``, ``kiosk people ...``, ``kiosk identify`` and ``kiosk qr badge``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from cli.main import CliContext, pass_cli
from common.errors import ImageError, UnknownPersonError
from terminal.checkin.badges import badge_payload, write_badge_png
from terminal.checkin.engines import build_matcher, create_engine
from terminal.face.enrollment import (
    ENROLL_MIN_FACE_PX,
    EnrollResult,
    RefusedPhoto,
    identify_image,
)
from terminal.face.enrollment import enroll as enroll_person
from terminal.store.database import open_database
from terminal.store.gallery import Gallery

_PHOTO = click.Path(path_type=Path, dir_okay=False)


@contextmanager
def _database(ctx: CliContext) -> Iterator[sqlite_utils.Database]:
    db = open_database(ctx.config.database_path)
    try:
        yield db
    finally:
        db.conn.close()


@click.command()
@click.option("--id", "person_id", required=True, help="Employee id (1-64 characters).")
@click.option("--name", required=True, help="Name shown at the kiosk.")
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
@click.argument("photos", nargs=-1, type=_PHOTO)
@pass_cli
def enroll(
    ctx: CliContext, person_id: str, name: str, as_json: bool, photos: tuple[Path, ...]
) -> None:
    """Enroll a person from PHOTOS: one face at least 80 px tall each (or one clearly dominant).

    Every photo's outcome is shown; the person is enrolled with the usable photos, and nothing
    is stored when none is usable. Enrolling an existing id adds the photos to that person and
    updates the name. Without photos the person can check in with a QR badge only.
    """
    with _database(ctx) as db:
        engine = create_engine(ctx.config) if photos else None
        result = enroll_person(db, engine, person_id, name, list(photos), ENROLL_MIN_FACE_PX)
    if as_json:
        click.echo(json.dumps(_enroll_record(result), ensure_ascii=False))
        return
    person = result.person
    if not result.outcomes:
        click.echo(f"stored {person.person_id} ({person.name}): {person.templates} face templates")
        return
    refused = f"; {len(result.refused)} of {len(photos)} photos refused" if result.refused else ""
    click.echo(
        f"enrolled {person.person_id} ({person.name}): {len(result.photos)} face templates"
        f" added, {person.templates} in total{refused}"
    )
    for outcome in result.outcomes:
        if isinstance(outcome, RefusedPhoto):
            click.echo(f"  {outcome.path}: refused: {outcome.reason}")
        else:
            click.echo(f"  {outcome.path}: {outcome.describe()}")


def _enroll_record(result: EnrollResult) -> dict[str, Any]:
    """``kiosk enroll --json``: the person and every photo's outcome, in the order given."""
    photos: list[dict[str, Any]] = []
    for outcome in result.outcomes:
        if isinstance(outcome, RefusedPhoto):
            photos.append({"path": str(outcome.path), "used": False, "reason": outcome.reason})
        else:
            photos.append(
                {
                    "path": str(outcome.path),
                    "used": True,
                    "box": list(outcome.box),
                    "face_px": outcome.face_px,
                    "faces": 1 + len(outcome.other_faces_px),
                    "other_faces_px": list(outcome.other_faces_px),
                }
            )
    return {
        "person_id": result.person.person_id,
        "name": result.person.name,
        "templates_added": len(result.photos),
        "templates": result.person.templates,
        "photos": photos,
    }


@click.group()
def people() -> None:
    """List or remove enrolled people."""


@people.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def list_people(ctx: CliContext, as_json: bool) -> None:
    """Everyone enrolled on this terminal, by id."""
    with _database(ctx) as db:
        everyone = Gallery(db).people()
    for person in everyone:
        if as_json:
            record = {
                "person_id": person.person_id,
                "name": person.name,
                "templates": person.templates,
                "created_at": person.created_at,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(
                f"{person.person_id}\t{person.name}\t{person.templates} templates"
                f"\t{person.created_at}"
            )
    if not everyone and not as_json:
        click.echo("nobody is enrolled", err=True)


@people.command("remove")
@click.argument("person_id")
@pass_cli
def remove_person(ctx: CliContext, person_id: str) -> None:
    """Remove PERSON_ID and their face templates (their past check-ins stay)."""
    with _database(ctx) as db:
        person = Gallery(db).remove(person_id)
    click.echo(f"removed {person.person_id} ({person.name}) and {person.templates} face templates")


@click.command()
@click.argument("photos", nargs=-1, required=True, type=_PHOTO)
@pass_cli
def identify(ctx: CliContext, photos: tuple[Path, ...]) -> None:
    """Who is in each photo, as the kiosk would decide: one JSON object per line."""
    config = ctx.config
    engine = create_engine(config)
    with _database(ctx) as db:
        matcher = build_matcher(config, Gallery(db), engine)
    failed = 0
    for photo in photos:
        result = identify_image(engine, matcher, photo, config.recognition.min_face_px)
        failed += "error" in result
        click.echo(json.dumps(result, ensure_ascii=False))
    if failed:
        raise ImageError(f"{failed} of {len(photos)} images could not be read")


@click.command("badge")
@click.option("--id", "person_id", required=True, help="Enrolled person's id.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--name", help="Name printed under the code (default: the enrolled name).")
@pass_cli
def qr_badge(ctx: CliContext, person_id: str, out: Path, name: str | None) -> None:
    """Write a printable static badge PNG for an enrolled person."""
    with _database(ctx) as db:
        enrolled = Gallery(db).name_of(person_id)
    if enrolled is None:
        raise UnknownPersonError(
            f"{person_id!r} is not enrolled; enroll first: kiosk enroll --id {person_id} --name ..."
        )
    write_badge_png(person_id, out, name or enrolled)
    click.echo(f"wrote {out}: badge {badge_payload(person_id)} for {name or enrolled}")
