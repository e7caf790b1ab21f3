"""The thread counts set at start: OpenCV's from the config, OpenBLAS's before numpy loads."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2

from terminal.system.threads import BLAS_THREADS, set_cv_threads

SHOW_BLAS = (
    "from terminal.system.threads import limit_blas_threads; limit_blas_threads();"
    " import os, numpy; print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"
)


def _child_blas(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",
                                                              "OMP_NUM_THREADS")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", SHOW_BLAS], env={**clean, **env},
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_blas_threads_are_limited_unless_the_environment_says_otherwise() -> None:
    assert _child_blas() == f"{BLAS_THREADS} {BLAS_THREADS}"
    assert _child_blas(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2") == "2 2"


def test_cv_threads_are_set_from_the_config() -> None:
    before = cv2.getNumThreads()
    try:
        set_cv_threads(1)
        assert cv2.getNumThreads() == 1
        set_cv_threads(None)  # unset: OpenCV's own choice is left alone
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
