"""``kiosk bench templates``: what sealing face templates at rest costs, beside the plain read.

One run, one process, the same random templates (``people`` x 3, float32, dim 128 as SFace's):

* ``plain_read``: the naive baseline, as :meth:`terminal.store.gallery.Gallery.matrix` reads the
  gallery: one SELECT over a real SQLite file, ``b"".join`` of the BLOBs, ``np.frombuffer``.
* ``sealed_read``: the same SELECT over a second file whose BLOBs are sealed
  (:mod:`terminal.store.template_seal`), each opened with :meth:`TemplateSeal.open` before the
  join.
* ``seal_all``: sealing every template (what enrolling them, or storing a roster, adds).

CPU seconds of this process (``time.process_time``), the best and the median of ``repeats``
rounds after one untimed warm-up read; the files are in the page cache, as a running kiosk's
are. Both reads are checked to give the same matrix. The files' sizes are compared after
``VACUUM``.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography
import numpy as np

from terminal.store.template_seal import SEAL_OVERHEAD, TemplateSeal

DIM = 128
TEMPLATES_PER_PERSON = 3
ENGINE, MODEL_DIGEST = "sface", "bench"

# The columns of kiosk.db's people and templates that Gallery.matrix reads, and its query.
_SCHEMA = """
CREATE TABLE people (
    person_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    consent_scope TEXT
);
CREATE TABLE templates (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    model_digest TEXT NOT NULL,
    dim INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX templates_person ON templates (person_id);
"""
_MATRIX_SQL = (
    "SELECT t.person_id, t.dim, t.embedding FROM templates t JOIN people p USING (person_id)"
    " WHERE t.engine = ? AND t.model_digest = ? AND p.consent_scope IN ('on_device', 'transfer')"
    " ORDER BY t.person_id, t.id"
)


def _templates(people: int, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """``people`` x 3 unit-length float32 templates as (person id, little-endian bytes)."""
    vectors = rng.standard_normal((people * TEMPLATES_PER_PERSON, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        (f"E{index // TEMPLATES_PER_PERSON:07d}", vector.astype("<f4").tobytes())
        for index, vector in enumerate(vectors)
    ]


def _write_db(path: Path, people: int, rows: list[tuple[str, bytes]]) -> int:
    """A database file holding ``rows``; returns its size in bytes after VACUUM."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SCHEMA)
        with conn:
            conn.executemany(
                "INSERT INTO people (person_id, name, consent_scope) VALUES (?, ?, 'on_device')",
                ((f"E{index:07d}", f"Person {index}") for index in range(people)),
            )
            conn.executemany(
                "INSERT INTO templates (person_id, engine, model_digest, dim, embedding)"
                " VALUES (?, ?, ?, ?, ?)",
                ((person_id, ENGINE, MODEL_DIGEST, DIM, blob) for person_id, blob in rows),
            )
        conn.execute("VACUUM")
    finally:
        conn.close()
    return path.stat().st_size


def _matrix(conn: sqlite3.Connection, seal: TemplateSeal | None) -> np.ndarray:
    """The gallery's matrix as Gallery.matrix builds it; each BLOB opened first when sealed."""
    rows = conn.execute(_MATRIX_SQL, (ENGINE, MODEL_DIGEST)).fetchall()
    if seal is None:
        data = b"".join(row[2] for row in rows)
    else:
        data = b"".join(seal.open(row[2], row[0]) for row in rows)
    return np.frombuffer(data, dtype="<f4").reshape(len(rows), DIM).astype(np.float32)


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
        plain_conn = sqlite3.connect(folder / "plain.db")
        sealed_conn = sqlite3.connect(folder / "sealed.db")
        try:
            plain_matrix = _matrix(plain_conn, None)  # warm-up, and the reference
            same = bool(np.array_equal(plain_matrix, _matrix(sealed_conn, seal)))
            plain_times = _cpu_seconds(lambda: _matrix(plain_conn, None), repeats)
            sealed_times = _cpu_seconds(lambda: _matrix(sealed_conn, seal), repeats)
        finally:
            plain_conn.close()
            sealed_conn.close()
    plain = _figures(plain_times, count)
    sealed = _figures(sealed_times, count)
    return {
        "method": "One process; people x 3 random unit float32 templates of dim 128 (SFace's)."
        " plain_read: Gallery.matrix's SELECT (people JOIN templates) over a real SQLite file,"
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
