"""``kiosk doctor``'s checks of this machine: camera, face models, disk space and clock."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from drivers.camera import (
    CameraUnavailable,
    Picamera2Missing,
    is_picamera2_source,
    open_camera,
)
from drivers.face.dlib_engine import dlib_model_files
from terminal.config import Config
from terminal.doctor.result import CheckResult, Findings, Status, failed, mib, passed
from terminal.face.model_files import check_models, models_dir
from terminal.store import damaged_copies
from terminal.store.disk_room import BALLAST_NAME, ballast_fits
from terminal.system.clock import clock_is_synchronised

DISK_FAIL_BYTES = 100 * 2**20
"""Less free space than this in data_dir's file system fails: check-ins are about to be refused."""
DISK_WARN_BYTES = 2**30
DB_WARN_SHARE = 0.9
"""kiosk.db at this share of ``[storage] max_size_mb`` or more gives a warning."""

_DEVICE_HINT = (
    "is the camera plugged in? `v4l2-ctl --list-devices` lists the devices; set [camera]"
    " source to one of them"
)
_BUSY_HINT = (
    "is it plugged in and free? A running kiosk holds the camera: stop it first (systemctl"
    " stop kiosk) or read its log (journalctl -u kiosk)"
)
_PI_CAMERA_HINT = (
    "`rpicam-hello --list-cameras` lists the Pi cameras (check the ribbon cable); a running kiosk"
    " holds the camera: stop it first (systemctl stop kiosk)"
)
_FILE_HINT = "set [camera] source to a readable video file or a folder of images"
_STREAM_HINT = "check the stream URL, the network path to the camera and its credentials"


def _device_path(source: str) -> Path | None:
    """The device file of a device source (``0`` or ``/dev/video0``), None for anything else."""
    if source.isdigit():
        return Path(f"/dev/video{source}") if sys.platform.startswith("linux") else None
    return Path(source) if source.startswith("/dev/") else None


def check_camera(config: Config) -> CheckResult:
    """Open ``[camera] source`` with the kiosk's own driver and read one frame."""
    settings = config.camera
    source = settings.source
    pi_camera = is_picamera2_source(source)
    device = None if pi_camera else _device_path(source)
    stream = "://" in source
    if device is not None and not device.exists():
        return failed("camera", f"{source}: no such device ({device})", _DEVICE_HINT)
    if device is not None and not os.access(device, os.R_OK | os.W_OK):
        hint = "add the kiosk user to the video group: usermod -aG video kiosk"
        return failed("camera", f"{device}: permission denied", hint)
    if device is None and not stream and not pi_camera and not Path(source).exists():
        return failed("camera", f"{source}: no such file or folder", _FILE_HINT)
    if pi_camera:
        hint = _PI_CAMERA_HINT
    else:
        hint = _BUSY_HINT if device is not None else _STREAM_HINT if stream else _FILE_HINT
    camera = open_camera(
        source, settings.fps, loop=False, width=settings.width, height=settings.height,
        realtime=False,
    )  # fmt: skip
    try:
        camera.open()
        frame = camera.read()
    except Picamera2Missing as exc:
        python = Path(sys.executable)
        hint = f"then check with `{python} -c 'import picamera2'` (the Python the kiosk runs)"
        return failed("camera", str(exc), hint)
    except CameraUnavailable as exc:
        return failed("camera", str(exc), hint)
    finally:
        camera.close()
    if frame is None:
        return failed("camera", f"{camera.description}: opened, but no frame could be read", hint)
    height, width = frame.image.shape[:2]
    detail = f"{camera.description}: read a frame, {width}x{height}"
    return passed("camera", detail, width=width, height=height)


def check_models_present(config: Config) -> CheckResult:
    """The face engine's model files are there (and, for sface, match their pinned sha256)."""
    recognition = config.recognition
    if not recognition.enabled:
        return passed("models", "not used: [recognition] enabled = false (QR codes only)")
    if recognition.engine == "dlib":
        return _dlib_models()
    directory = models_dir(config)
    try:
        problems = check_models(directory)
    except OSError as exc:
        hint = "make the model files readable by the kiosk user"
        return failed("models", f"sface: cannot read {directory}: {exc.strerror}", hint)
    if problems:
        found = ", ".join(f"{name}: {problem}" for name, problem in problems.items())
        hint = "run `kiosk models install` (or fix [recognition] models_dir)"
        return failed("models", f"sface in {directory}: {found}", hint, directory=str(directory))
    detail = f"sface: YuNet and SFace in {directory}, sha256 as pinned"
    return passed("models", detail, directory=str(directory))


def _dlib_models() -> CheckResult:
    hint = (
        "install dlib-bin and face_recognition_models (docs/recognition.md: How dlib is installed)"
    )
    if importlib.util.find_spec("dlib") is None:
        return failed("models", "dlib: the dlib module is not installed", hint)
    files = dlib_model_files()
    if files is None:
        return failed("models", "dlib: face_recognition_models is not installed", hint)
    needed = [files["landmarks"], files["encoder"]]
    missing = [path.name for path in needed if not path.is_file()]
    if missing:
        return failed("models", f"dlib: missing {', '.join(missing)}", hint)
    return passed("models", f"dlib: 5-point landmarks and ResNet model in {needed[0].parent}")


def check_disk(config: Config) -> CheckResult:
    """Free space where kiosk.db lives, and kiosk.db's size against ``max_size_mb``."""
    storage = config.storage
    where = storage.data_dir
    while not where.exists() and where != where.parent:
        where = where.parent  # data_dir is created at the first start
    usage = shutil.disk_usage(where)
    database = config.database_path
    size = sum(p.stat().st_size for p in (database, Path(f"{database}-wal")) if p.exists())
    findings = Findings()
    place = str(storage.data_dir) + ("" if where == storage.data_dir else " (not created yet)")
    space = f"{place}: {mib(usage.free)} free of {mib(usage.total)}"
    free_hint = (
        "free space on this file system (e.g. journalctl --vacuum-size=50M); a full disk"
        " refuses new check-ins"
    )
    if usage.free < DISK_FAIL_BYTES:
        findings.add(Status.FAIL, space, free_hint)
    elif usage.free < DISK_WARN_BYTES:
        findings.add(Status.WARN, space, free_hint)
    else:
        findings.add(Status.PASS, space)
    limit_mb = storage.max_size_mb
    if limit_mb is None:
        findings.add(Status.PASS, f"kiosk.db {mib(size)}, no size limit")
    else:
        limit = limit_mb * 2**20
        used = f"kiosk.db {mib(size)} of max_size_mb {limit_mb:g} MiB"
        if size >= DB_WARN_SHARE * limit:
            hint = "let the backlog be delivered (see broker, database) or raise max_size_mb"
            findings.add(Status.WARN, f"{used} ({size / limit:.0%})", hint)
        else:
            findings.add(Status.PASS, used)
        if limit - size > usage.free:
            hint = "lower [storage] max_size_mb below the free space, or free space"
            findings.add(Status.WARN, "the disk fills up before max_size_mb is reached", hint)
    _check_room(config, usage.free, findings)
    return findings.result(
        "disk", free_bytes=usage.free, total_bytes=usage.total, database_bytes=size,
        max_size_mb=limit_mb,
    )  # fmt: skip


def _check_room(config: Config, free: int, findings: Findings) -> None:
    """The reserve check-ins leave, the ballast, and damaged copies waiting to expire."""
    storage = config.storage
    database = config.database_path
    if not database.exists():
        return
    reserve = int(storage.reserve_mb * 2**20)
    hint = "free space on this file system; check-ins only reuse room freed by delivery"
    if reserve and free <= reserve:
        text = f"less than reserve_mb {storage.reserve_mb:g} MiB free: new check-ins are refused"
        findings.add(Status.FAIL, text, hint)
    ballast = storage.data_dir / BALLAST_NAME
    if reserve and not ballast.exists() and not ballast_fits(free, reserve):
        text = (
            f"{ballast} is missing: the kiosk released it when the disk filled up, and new"
            " check-ins are refused until there is room for it again"
        )
        findings.add(Status.FAIL, text, hint)
    for copy in damaged_copies.copies(database):
        age = (time.time() - copy.stat().st_mtime) / 86400
        left = max(0.0, storage.keep_damaged_days - age)
        text = f"damaged copy {copy.name} kept for recovery, deleted in {left:.0f} days"
        hint = "it holds names and face templates; see docs/site-admins.md, privacy"
        findings.add(Status.WARN, text, hint)


def check_clock(config: Config) -> CheckResult:
    """Whether the kernel reports the wall clock as NTP-synchronised."""
    del config  # the clock is the machine's, whatever the config says
    if clock_is_synchronised():
        return passed("clock", "synchronised (the kernel reports NTP sync)", synchronised=True)
    return failed(
        "clock",
        "not synchronised (the kernel reports no NTP sync)",
        "enable systemd-timesyncd/chrony; check-ins made now carry clock_synced=false",
        synchronised=False,
    )
