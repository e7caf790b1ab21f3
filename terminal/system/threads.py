"""How many threads OpenCV and OpenBLAS may use: set once, when the kiosk starts.

Left alone, both libraries start one worker thread per core. On a kiosk the cores are shared
(the browser showing the kiosk page, the sync, the web display), and a frame's work is small:
extra threads mostly wait for each other and for the other processes, and cost CPU doing so.
Measured with ``kiosk bench threads`` (see :data:`CV_THREADS` and :data:`BLAS_THREADS`).

OpenBLAS reads its thread count from the environment once, when numpy is imported, so
:func:`limit_blas_threads` must run before that: ``kiosk run`` and ``kiosk demo`` call it
before importing the daemon (cli/run.py). An ``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS``
already in the environment (a systemd drop-in's ``Environment=``) is left as it is. OpenCV's
count is set by :func:`set_cv_threads` from ``[recognition] cv_threads`` when the daemon starts.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

BLAS_THREADS = 1
"""OpenBLAS threads unless the environment says otherwise. Matching one face against the
gallery is one matrix-vector product, too small to share. ``kiosk bench threads``, two runs
(2-core x86, 10,000 templates, OpenCV default): CPU per match 0.57 and 0.59 ms at 1 thread,
20.5 and 4.9 ms at OpenBLAS's default (2 here); the whole frame (detect + embed + match)
35.9 / 39.1 ms CPU and 36.7 / 41.8 ms wall at 1 thread against 86.2 / 72.5 ms and
133.6 / 117.1 ms at the default; beside 2 busy processes 41.0 / 42.9 against 64.6 / 81.5 ms
CPU."""
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def limit_blas_threads(threads: int = BLAS_THREADS) -> None:
    """Set the BLAS thread count for numpy, unless the environment already sets it. Must run
    before numpy is imported (a warning is logged when it was: then nothing changes)."""
    if "numpy" in sys.modules:
        log.warning("numpy was imported before the BLAS thread count was set: not applied")
        return
    for name in BLAS_VARIABLES:
        os.environ.setdefault(name, str(threads))


def set_cv_threads(threads: int | None) -> None:
    """``cv2.setNumThreads(threads)``; None leaves OpenCV's default (one per core)."""
    if threads is None:
        return
    import cv2

    cv2.setNumThreads(threads)
    log.info("OpenCV threads: %d", cv2.getNumThreads())
