"""``kiosk enroll``, ``kiosk people ...``, ``kiosk identify`` and ``kiosk qr badge``.

A command that changes the kiosk's database (``enroll``, ``people remove``) says on stderr, in
one line, which database file it changed, and when it created that file.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from cli.main import CliContext, pass_cli
from common.errors import ConfigError, EnrollmentError, ImageError, StoreError, UnknownPersonError
from models.consent import SCOPES, Consent
from terminal.checkin.badges import badge_payload, write_badge_png
from terminal.checkin.engines import build_matcher, create_engine
from terminal.face.enrollment import (
    ENROLL_MIN_FACE_PX,
    EnrollResult,
    NoUsablePhotoError,
    RefusedPhoto,
    identify_image,
)
from terminal.face.enrollment import enroll as enroll_person
from terminal.store.database import open_database
from terminal.store.gallery import Gallery, Person
from terminal.store.template_seal import seal_for

_PHOTO = click.Path(path_type=Path, dir_okay=False)


@contextmanager
def _database(ctx: CliContext) -> Iterator[sqlite_utils.Database]:
    db = open_database(ctx.config.database_path)
    try:
        yield db
    finally:
        db.conn.close()


def plural(count: int, noun: str) -> str:
    """``1 face template``, ``3 face templates``, ``0 face templates``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def where(path: Path, existed: bool) -> str:
    """The database file a command wrote, and whether it was created by it."""
    return f"{path}" if existed else f"{path} (a new database, created now)"


def _operator() -> str:
    """Who runs the command (the sudo caller first), for a consent's ``recorded_by``."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def consent_options(scope_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--consent``, ``--consent-by`` and ``--consent-date``, shared by the commands that
    record consent."""

    def wrap(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--consent-date",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="The day the person signed (default: today).",
        )(command)
        command = click.option(
            "--consent-by", help="Who recorded the consent (default: the user running this)."
        )(command)
        return click.option("--consent", "scope", type=click.Choice(SCOPES), help=scope_help)(
            command
        )

    return wrap


def make_consent(scope: str | None, by: str | None, day: Any) -> Consent | None:
    """The :class:`Consent` the options describe (None without ``--consent``)."""
    if scope is None:
        return None
    given = day.date() if day is not None else date.today()
    return Consent.model_validate(
        {"scope": scope, "given_at": given, "recorded_by": by or _operator()}
    )


@click.command()
@click.option("--id", "person_id", required=True, help="Employee id (1-64 characters).")
@click.option("--name", required=True, help="Name shown at the kiosk.")
@consent_options(
    "The person's separate consent to face recognition: on_device (templates stay on this"
    " kiosk), transfer (may also travel in rosters), none (QR code only). Needed with PHOTOS"
    " unless recorded before."
)
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
@click.argument("photos", nargs=-1, type=_PHOTO)
@pass_cli
def enroll(
    ctx: CliContext,
    person_id: str,
    name: str,
    scope: str | None,
    consent_by: str | None,
    consent_date: Any,
    as_json: bool,
    photos: tuple[Path, ...],
) -> None:
    """Enroll a person from PHOTOS: one face at least 80 px tall each (or one clearly dominant).

    Every photo's outcome is shown; the person is enrolled with the usable photos, and nothing
    is stored when none is usable. Enrolling an existing id adds the photos to that person and
    updates the name. Without photos the person can check in with a QR badge only. Photos are
    read only with the person's consent (--consent on_device or transfer).
    """
    path = ctx.config.database_path
    existed = path.exists()
    consent = make_consent(scope, consent_by, consent_date)
    try:
        with _database(ctx) as db:
            engine = create_engine(ctx.config) if photos else None
            seal = seal_for(ctx.config.privacy.template_key_file) if photos else None
            result = enroll_person(db, engine, person_id, name, list(photos), ENROLL_MIN_FACE_PX,
                                   consent, seal)  # fmt: skip
    except NoUsablePhotoError as exc:
        if as_json or len(exc.refused) == 1:
            raise
        _refused_lines(exc.refused)
        raise EnrollmentError(
            f"{person_id} ({name}) not enrolled: none of the {len(exc.refused)} photos can be"
            f" used (every reason above); nothing stored in {path}"
        ) from None
    person = result.person
    templates = plural(person.templates, "face template")
    if as_json:
        click.echo(json.dumps(_enroll_record(result), ensure_ascii=False))
    elif not result.outcomes:
        click.echo(f"stored {person.person_id} ({person.name}): {templates}")
    else:
        _print_outcomes(result, len(photos))
    stored = f"enrolled {person.person_id} ({person.name}): {templates} in {where(path, existed)}"
    click.echo(stored, err=True)


def _print_outcomes(result: EnrollResult, photos: int) -> None:
    """The summary line, then every photo's outcome, one line each."""
    person = result.person
    refused = (
        f"; {len(result.refused)} of {plural(photos, 'photo')} refused" if result.refused else ""
    )
    click.echo(
        f"enrolled {person.person_id} ({person.name}):"
        f" {plural(len(result.photos), 'face template')} added, {person.templates} in total"
        f"{refused}"
    )
    for outcome in result.outcomes:
        if isinstance(outcome, RefusedPhoto):
            click.echo(f"  {outcome.path}: refused: {outcome.reason}")
        else:
            click.echo(f"  {outcome.path}: {outcome.describe()}")


def _refused_lines(refused: list[RefusedPhoto]) -> None:
    """Every refused photo and why, one line each on stderr (the style of a kiosk enroll that
    stored something)."""
    for outcome in refused:
        click.echo(f"  {outcome.path}: refused: {outcome.reason}", err=True)


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
    path = ctx.config.database_path
    if not path.exists():
        click.echo(f"nobody is enrolled: there is no database at {path}", err=True)
        return
    with _database(ctx) as db:
        everyone = Gallery(db).people()
    for person in everyone:
        if as_json:
            record = {
                "person_id": person.person_id,
                "name": person.name,
                "templates": person.templates,
                "created_at": person.created_at,
                "consent": None
                if person.consent is None
                else person.consent.model_dump(mode="json"),
                "consent_source": person.consent_source,
                "face": person.face_allowed,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(
                f"{person.person_id}\t{person.name}\t{plural(person.templates, 'template')}"
                f"\t{describe_consent(person)}\t{person.created_at}"
            )
    if not everyone and not as_json:
        click.echo(f"nobody is enrolled in {path}", err=True)


def describe_consent(person: Person) -> str:
    """``consent transfer 2026-12-01 by hr-li``, or ``no consent: QR only``."""
    consent = person.consent
    if consent is None:
        return "no consent: QR only"
    qr_only = "" if consent.allows_face else ": QR only"
    return f"consent {consent.scope} {consent.given_at} by {consent.recorded_by}{qr_only}"


@people.command("consent")
@click.argument("person_id")
@consent_options("The consent to record (none deletes the person's face templates).")
@pass_cli
def record_consent(
    ctx: CliContext, person_id: str, scope: str | None, consent_by: str | None, consent_date: Any
) -> None:
    """Record PERSON_ID's consent to face recognition, or its withdrawal (--consent none
    deletes their templates at once; they check in by QR code)."""
    consent = make_consent(scope, consent_by, consent_date)
    if consent is None:
        raise click.UsageError("--consent on_device|transfer|none is required")
    path = ctx.config.database_path
    if not path.exists():
        raise UnknownPersonError(f"{person_id!r} is not enrolled: there is no database at {path}")
    with _database(ctx) as db:
        gallery = Gallery(db)
        changed = gallery.set_consent(person_id, consent)
        person = gallery.get(person_id)
    assert person is not None
    state = "recorded" if changed else "already recorded"
    click.echo(f"{person.person_id} ({person.name}): {state}: {describe_consent(person)};"
               f" {plural(person.templates, 'face template')}")  # fmt: skip
    if changed:
        click.echo(f"consent of {person_id} recorded in {path}", err=True)


@people.command("seal")
@pass_cli
def seal_templates(ctx: CliContext) -> None:
    """Seal the face templates still stored in the clear with [privacy] template_key_file
    (templates made before the key was configured; new ones are sealed as they are made)."""
    path = ctx.config.database_path
    if not path.exists():
        raise StoreError(f"{path}: no kiosk database, so no templates to seal")
    seal = seal_for(ctx.config.privacy.template_key_file)
    if seal is None:
        raise ConfigError("set [privacy] template_key_file first: the key to seal them with")
    with _database(ctx) as db:
        gallery = Gallery(db, seal)
        done = gallery.seal_plain_templates()
        sealed, clear = gallery.sealed_counts()
    click.echo(f"sealed {plural(done, 'face template')} with key {seal.key_id}:"
               f" {sealed} sealed, {clear} in the clear in {path}")  # fmt: skip


@people.command("remove")
@click.argument("person_id")
@pass_cli
def remove_person(ctx: CliContext, person_id: str) -> None:
    """Remove PERSON_ID and their face templates (their past check-ins stay)."""
    path = ctx.config.database_path
    if not path.exists():
        raise UnknownPersonError(f"{person_id!r} is not enrolled: there is no database at {path}")
    with _database(ctx) as db:
        person = Gallery(db).remove(person_id)
    templates = plural(person.templates, "face template")
    click.echo(f"removed {person.person_id} ({person.name}) and {templates}")
    click.echo(f"removed {person.person_id} ({person.name}) from {path}", err=True)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=_PHOTO)
@pass_cli
def identify(ctx: CliContext, photos: tuple[Path, ...]) -> None:
    """Who is in each photo, as the kiosk would decide: one JSON object per line."""
    config = ctx.config
    if not config.database_path.exists():  # reading must not create the database
        raise UnknownPersonError(
            f"{config.database_path}: no kiosk database, so no one is enrolled to identify;"
            " enroll first: kiosk enroll --id ID --name NAME PHOTO..."
        )
    engine = create_engine(config)
    with _database(ctx) as db:
        matcher = build_matcher(config, Gallery(db, seal_for(config.privacy.template_key_file)),
                                engine)  # fmt: skip
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
    enrolled = None
    if ctx.config.database_path.exists():  # reading must not create the database
        with _database(ctx) as db:
            enrolled = Gallery(db).name_of(person_id)
    if enrolled is None:
        raise UnknownPersonError(
            f"{person_id!r} is not enrolled; enroll first: kiosk enroll --id {person_id} --name ..."
        )
    write_badge_png(person_id, out, name or enrolled)
    click.echo(f"wrote {out}: badge {badge_payload(person_id)} for {name or enrolled}")
