"""``kiosk bench templates``: what sealing face templates at rest costs, beside the plain read.

One run, one process, the same random templates (``people`` x 3, float32, dim 128 as SFace's):

* ``plain_read``: the naive baseline: :meth:`terminal.store.gallery.Gallery.matrix` over a
  real ``kiosk.db`` whose templates are stored in the clear (one SELECT, ``b"".join`` of the
  BLOBs, ``np.frombuffer``).
* ``sealed_read``: the same over a second ``kiosk.db`` whose templates are sealed
  (:mod:`terminal.store.template_seal`), as the kiosk reads it with ``[privacy]
  template_key_file`` set: each BLOB opened with :meth:`TemplateSeal.open` before the join.
* ``seal_all``: sealing every template (what enrolling them, or storing a roster, adds).

CPU seconds of this process (``time.process_time``), the best and the median of ``repeats``
rounds after one untimed warm-up read; the files are in the page cache, as a running kiosk's
are. Both reads are checked to give the same matrix. The files' sizes are compared after
``VACUUM``.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography
import numpy as np

from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.template_seal import SEAL_OVERHEAD, TemplateSeal

DIM = 128
TEMPLATES_PER_PERSON = 3
ENGINE, MODEL_DIGEST = "sface", "bench"


def _templates(people: int, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """``people`` x 3 unit-length float32 templates as (person id, little-endian bytes)."""
    vectors = rng.standard_normal((people * TEMPLATES_PER_PERSON, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        (f"E{index // TEMPLATES_PER_PERSON:07d}", vector.astype("<f4").tobytes())
        for index, vector in enumerate(vectors)
    ]


def _write_db(path: Path, people: int, rows: list[tuple[str, bytes]]) -> int:
    """A real kiosk.db (:func:`open_database`, every migration) holding ``people`` consenting
    people and ``rows`` as templates (one transaction); its size in bytes after VACUUM."""
    db = open_database(path)
    try:
        with db.conn:
            db.conn.executemany(
                "INSERT INTO people (person_id, name, created_at, consent_scope,"
                " consent_given_at, consent_recorded_by) VALUES (?, ?, '', 'on_device',"
                " '2026-01-01', 'bench')",
                ((f"E{index:07d}", f"Person {index}") for index in range(people)),
            )
            db.conn.executemany(
                "INSERT INTO templates (person_id, engine, model_digest, dim, embedding,"
                " created_at) VALUES (?, ?, ?, ?, ?, '')",
                ((person_id, ENGINE, MODEL_DIGEST, DIM, blob) for person_id, blob in rows),
            )
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.execute("VACUUM")
    finally:
        db.conn.close()
    return path.stat().st_size


def _matrix(gallery: Gallery) -> np.ndarray:
    """The matcher's matrix, as the pipeline reads it (:meth:`Gallery.matrix`)."""
    return gallery.matrix(ENGINE, MODEL_DIGEST)[0]


def _cpu_seconds(work: Callable[[], object], repeats: int) -> list[float]:
    """CPU seconds of this process for each of ``repeats`` calls of ``work``."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return times


def _figures(times: list[float], templates: int) -> dict[str, float]:
    best = min(times)
    return {
        "cpu_s": round(best, 6),
        "cpu_s_median": round(statistics.median(times), 6),
        "us_per_template": round(1e6 * best / templates, 3),
    }


def bench_templates(people: int = 2000, repeats: int = 10) -> dict[str, Any]:
    """CPU cost of reading the gallery's templates plain and sealed, and of sealing them all;
    the database file's size both ways. Returns the figures as a JSON-ready dict."""
    rng = np.random.default_rng(2024)
    rows = _templates(people, rng)
    count = len(rows)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-templates-") as workdir:
        folder = Path(workdir)
        seal = TemplateSeal.from_key_file(folder / "template.key")
        seal_times = _cpu_seconds(
            lambda: [seal.seal(blob, person_id) for person_id, blob in rows], repeats
        )
        sealed_rows = [(person_id, seal.seal(blob, person_id)) for person_id, blob in rows]
        plain_bytes = _write_db(folder / "plain.db", people, rows)
        sealed_bytes = _write_db(folder / "sealed.db", people, sealed_rows)
        plain_db = open_database(folder / "plain.db")
        sealed_db = open_database(folder / "sealed.db")
        plain_gallery, sealed_gallery = Gallery(plain_db), Gallery(sealed_db, seal)
        try:
            plain_matrix = _matrix(plain_gallery)  # warm-up, and the reference
            same = bool(np.array_equal(plain_matrix, _matrix(sealed_gallery)))
            plain_times = _cpu_seconds(lambda: _matrix(plain_gallery), repeats)
            sealed_times = _cpu_seconds(lambda: _matrix(sealed_gallery), repeats)
        finally:
            plain_db.conn.close()
            sealed_db.conn.close()
    plain = _figures(plain_times, count)
    sealed = _figures(sealed_times, count)
    return {
        "method": "One process; people x 3 random unit float32 templates of dim 128 (SFace's)."
        " plain_read: Gallery.matrix over a real kiosk.db (templates in the clear),"
        " b''.join of the BLOBs, np.frombuffer (the naive baseline). sealed_read: the same over a"
        " file of AES-256-GCM sealed BLOBs, each opened with TemplateSeal.open before the join."
        " seal_all: TemplateSeal.seal of every template. CPU seconds (time.process_time) of this"
        " process, best and median of `repeats` rounds after an untimed warm-up read; files in"
        " the page cache. Sizes after VACUUM.",
        "host": {
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cryptography": cryptography.__version__,
        },
        "people": people,
        "templates_per_person": TEMPLATES_PER_PERSON,
        "dim": DIM,
        "templates": count,
        "repeats": repeats,
        "same_matrix": same,
        "plain_read": plain,
        "sealed_read": sealed,
        "seal_all": _figures(seal_times, count),
        "ratio_sealed_to_plain_read": round(sealed["cpu_s"] / max(plain["cpu_s"], 1e-9), 2),
        "added_us_per_template_read": round(1e6 * (sealed["cpu_s"] - plain["cpu_s"]) / count, 3),
        "blob_bytes": {"plain": DIM * 4, "sealed": DIM * 4 + SEAL_OVERHEAD},
        "db_bytes": {
            "plain": plain_bytes,
            "sealed": sealed_bytes,
            "ratio": round(sealed_bytes / plain_bytes, 3),
        },
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few readable lines: each read and the sealing, then the files' sizes."""
    host = result["host"]
    lines = [
        f"host: {host['cpu_count']} CPUs, {host['machine']}, cryptography {host['cryptography']};"
        f" {result['people']} people x {result['templates_per_person']} templates of dim"
        f" {result['dim']} ({result['templates']}), best of {result['repeats']}",
    ]
    for key, label in (
        ("plain_read", "plain read"),
        ("sealed_read", "sealed read"),
        ("seal_all", "seal all"),
    ):
        figures = result[key]
        lines.append(
            f"{label:<12} {figures['cpu_s']:.4f} CPU-s"
            f"  {figures['us_per_template']:.2f} us/template"
        )
    lines.append(
        f"sealed/plain read: x{result['ratio_sealed_to_plain_read']}"
        f" (+{result['added_us_per_template_read']:.2f} us/template);"
        f" same matrix: {result['same_matrix']}"
    )
    sizes = result["db_bytes"]
    lines.append(
        f"database file: plain {sizes['plain']:,} B, sealed {sizes['sealed']:,} B"
        f" (x{sizes['ratio']})"
    )
    return lines
