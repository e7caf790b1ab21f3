"""The terminal's configuration: declared once here, validated strictly at start.

This package holds the top level (``load_config``, :class:`Config`) here and one module per
larger section (:mod:`~terminal.config.mqtt`, :mod:`~terminal.config.ui`, ...). It may import
:mod:`common` and :mod:`models`, and the provisioning state and central settings that complete
a config (:mod:`terminal.provisioning.state`, :mod:`terminal.store.settings`).

The file is TOML. Unknown keys and bad values are rejected with one line that names the key.
Secrets are never written in the TOML: the config names files that hold them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from common.errors import ConfigError
from models.messages import TERMINAL_ID_PATTERN
from terminal.config.attendance import AttendanceSection
from terminal.config.base import Section as _Section
from terminal.config.base import describe as _describe
from terminal.config.base import read_secret
from terminal.config.liveness import LivenessSection
from terminal.config.mqtt import MqttSection
from terminal.config.privacy import PrivacySection
from terminal.config.provisioning import ProvisioningSection
from terminal.config.ui import GpioSection, UiSection

__all__ = [
    "Config",
    "LivenessSection",
    "MqttSection",
    "PrivacySection",
    "check_verification_mode",
    "load_config",
    "parse_config",
    "read_secret",
]


class TerminalSection(_Section):
    """Who this terminal is."""

    id: str = Field("kiosk-01", pattern=TERMINAL_ID_PATTERN, description="Unique per terminal.")
    site: str = Field("default", min_length=1, max_length=64, description="Site or building.")
    language: Literal["zh", "en"] = Field("zh", description="Language of messages shown.")


class CameraSection(_Section):
    """Where frames come from."""

    source: str = Field(
        "0",
        min_length=1,
        description="Device index, /dev/videoN, rtsp://..., a video file, a folder of images, or"
        " a Raspberry Pi camera module through picamera2: 'picamera2' (the first) or"
        " 'picamera2:N' (camera number N; 'csi' and 'csi:N' mean the same).",
    )
    fps: float = Field(15.0, gt=0, le=60, description="Frames per second to process.")
    loop: bool = Field(False, description="For files and folders: start again at the end.")
    width: int | None = Field(
        None, gt=0, description="Requested capture width (devices; Pi cameras: 640 if unset)."
    )
    height: int | None = Field(
        None, gt=0, description="Requested capture height (devices; Pi cameras: 480 if unset)."
    )
    reconnect_s: float = Field(
        2.0, gt=0, le=300, description="Seconds between attempts to reopen a lost camera."
    )

    @field_validator("source")
    @classmethod
    def _picamera2_number(cls, value: str) -> str:
        """``picamera2:``/``csi:`` must be followed by a camera number (drivers/camera)."""
        prefix, colon, number = value.strip().partition(":")
        pi_camera = colon and prefix.lower() in ("picamera2", "csi")
        if pi_camera and not re.fullmatch(r"\d{1,2}", number):
            raise ValueError(
                f"{value!r}: a Pi camera is 'picamera2' or 'picamera2:N' with N the camera"
                " number (0, 1, ...)"
            )
        return value


class StorageSection(_Section):
    """Where the terminal keeps its database, and for how long acknowledged events stay."""

    data_dir: Path = Field(Path("/var/lib/kiosk"), description="Directory of kiosk.db.")
    retain_acked_days: float = Field(
        30.0,
        ge=0,
        le=36500,
        description="Days an event is kept after the central side acknowledged it; the sync"
        " deletes older acknowledged events once an hour (0: at the next hourly pass)."
        " Events not yet acknowledged are never deleted.",
    )
    max_size_mb: float | None = Field(
        1024.0,
        ge=1,
        description="Largest size of kiosk.db in MiB, so the kiosk never fills its SD card; when"
        " it is reached, acknowledged events are deleted early (oldest first) to make room, and"
        " when there are none, new check-ins are refused until delivery frees space (the sync's"
        " bookkeeping may go a little beyond it, so delivery never stalls). Unset: limited only"
        " by the disk.",
    )
    reserve_mb: float = Field(
        16.0,
        ge=0,
        le=4096,
        description="Disk space in MiB that check-ins leave free on the data directory's file"
        " system, so acknowledgements can still be recorded and delivered events purged when"
        " the disk fills; below it, check-ins only reuse room freed inside kiosk.db and are"
        " refused when there is none. 0: no reserve.",
    )
    keep_damaged_days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description="Days a damaged kiosk.db moved aside at start (kiosk.db.corrupt-*) is kept"
        " for recovering its undelivered events by hand; it holds names and face templates, so"
        " the sync's hourly retention pass deletes it after that (0: at the next pass).",
    )


CV_THREADS_DEFAULT = 1
"""OpenCV threads unless configured. `kiosk bench threads`, two runs (2-core x86, SFace on a
512x480 webcam video, detect + embed + match against 10,000 templates, OpenBLAS at 1 thread),
CPU / wall ms per frame: 1 thread 35.7 / 36.3 and 37.6 / 37.6; OpenCV's default (2 here)
35.9 / 36.7 and 39.1 / 41.8; 4 threads 46.9 / 61.3 and 46.5 / 66.8 (+24-31 % CPU). Beside 2
busy processes, CPU: 1 thread 37.5 and 39.4, the default 41.0 and 42.9, 4 threads 40.1 and
39.9. More threads buy no time on one small frame and cost CPU, the more so the more cores the
default takes (4 on a Pi 4); one thread leaves the other cores to the browser and the sync."""


class RecognitionSection(_Section):
    """Face recognition and de-duplication."""

    enabled: bool = Field(True, description="Recognise faces (QR codes are read regardless).")
    engine: Literal["dlib", "sface"] = Field(
        "sface",
        description="Face engine: dlib (HOG + ResNet, via face_recognition_models) or sface"
        " (OpenCV YuNet + SFace). Templates are engine-specific: re-enroll after switching.",
    )
    models_dir: Path | None = Field(
        None,
        description="Where the sface engine's model files are (default: the install's"
        " share/kiosk/models; `kiosk models install` puts them there).",
    )
    tolerance: float | None = Field(
        None,
        gt=0,
        lt=2.0,
        description="Largest face distance accepted as a match; default: the engine's own"
        " (sface 0.41 cosine: the loosest with no false accept over 76 people minus 0.04, checked"
        " by `kiosk calibrate --open-set --folds 5`; dlib 0.4 euclidean, not dlib's 0.6 which"
        " confuses East Asian faces; see docs/recognition.md).",
    )
    margin: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Required distance gap between the best two identities; default: the"
        " engine's own.",
    )
    confirm_frames: int = Field(
        2, ge=1, le=30, description="Frames that must agree before a face check-in."
    )
    min_face_px: int = Field(
        80, ge=20, le=1000, description="Smallest face height (pixels) considered."
    )
    detect_scale: float = Field(
        1.0, gt=0, le=1, description="Scale frames by this before face detection."
    )
    repeat_window_s: float = Field(
        60.0, ge=0, description="Seconds during which the same person is not checked in again."
    )
    presence_gating: bool = Field(
        True,
        description="Do no face work while nothing moves in view and no face is seen (QR"
        " codes are still read on every frame).",
    )
    presence_hold_s: float = Field(
        3.0, ge=0, le=600, description="Seconds face work goes on after the last motion or face."
    )
    presence_min_motion: float = Field(
        0.005,
        gt=0,
        le=1,
        description="Fraction of a 96x72 grey thumbnail of the frame that must change to count"
        " as motion; lower is more sensitive.",
    )
    # Default chosen with `kiosk bench threads` (docs/developers.md, "Threads"): see
    # CV_THREADS_DEFAULT.
    cv_threads: int | None = Field(
        CV_THREADS_DEFAULT,
        ge=1,
        le=64,
        description="Threads OpenCV may use (cv2.setNumThreads, set when the kiosk starts);"
        " unset: OpenCV's default, one per core. OpenBLAS's count comes from the environment"
        " (OPENBLAS_NUM_THREADS, default 1).",
    )


class QrSection(_Section):
    """QR code check-in."""

    enabled: bool = Field(True, description="Read QR codes from every frame.")
    static_badges: bool = Field(True, description="Accept static (unsigned) badges.")
    decoder: Literal["zxing", "pyzbar"] = Field(
        "zxing",
        description="QR decoder: zxing (zxing-cpp; faster and more robust, measured by"
        " `kiosk bench qr`) or pyzbar (ZBar, needs libzbar0).",
    )
    public_keys_dir: Path | None = Field(
        None,
        description="Directory of the HR system's Ed25519 public keys for signed codes, one"
        " `<key id>.pub` file (PEM) per key, so keys rotate by adding and removing files;"
        " unset: signed codes are refused.",
    )
    clock_skew_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds a signed code may be early or late against this terminal's clock.",
    )
    max_validity_s: float = Field(
        600.0,
        gt=0,
        le=86400,
        description="Signed codes valid for longer than this (expiry minus issue time) are"
        " refused: a short-lived code must be short-lived.",
    )


class VerificationSection(_Section):
    """How a person proves who they are at this terminal."""

    mode: Literal["face", "qr", "face_or_qr", "face_and_qr"] = Field(
        "face_or_qr",
        description="face: faces only; qr: QR codes only; face_or_qr: either; face_and_qr: the"
        " QR code says who, and that person's face must confirm it (1:1, stricter).",
    )
    pair_window_s: float = Field(
        15.0,
        gt=0,
        le=120,
        description="face_and_qr: seconds after the code is read within which the face must"
        " confirm it.",
    )
    pair_tolerance: float | None = Field(
        None,
        gt=0,
        le=2,
        description="face_and_qr: largest face distance to the code's person; unset: the"
        " engine's calibrated tolerance made stricter (see docs/recognition.md).",
    )


class CentralSection(_Section):
    """Trust in the central (HR) system for what it pushes to the terminal."""

    public_keys_dir: Path | None = Field(
        None,
        description="Directory of the central system's Ed25519 public keys that sign rosters"
        " and commands, one `<key id>.pub` file (PEM) per key; unset: rosters and commands"
        " are refused.",
    )


class LogSection(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class Config(_Section):
    """The whole configuration file."""

    terminal: TerminalSection = Field(default_factory=TerminalSection)
    camera: CameraSection = Field(default_factory=CameraSection)
    mqtt: MqttSection | None = Field(None, description="Absent: offline-only.")
    storage: StorageSection = Field(default_factory=StorageSection)
    recognition: RecognitionSection = Field(default_factory=RecognitionSection)
    qr: QrSection = Field(default_factory=QrSection)
    verification: VerificationSection = Field(default_factory=VerificationSection)
    central: CentralSection = Field(default_factory=CentralSection)
    liveness: LivenessSection = Field(default_factory=LivenessSection)
    provisioning: ProvisioningSection = Field(default_factory=ProvisioningSection)
    attendance: AttendanceSection = Field(default_factory=AttendanceSection)
    ui: UiSection = Field(default_factory=UiSection)
    privacy: PrivacySection = Field(default_factory=PrivacySection)
    gpio: GpioSection = Field(default_factory=GpioSection)
    log: LogSection = Field(default_factory=LogSection)

    @property
    def database_path(self) -> Path:
        """The SQLite file holding the outbox and the enrolled people."""
        return self.storage.data_dir / "kiosk.db"


def parse_config(text: str, origin: str = "<config>") -> Config:
    """Parse and validate TOML text; raise :class:`ConfigError` naming the first bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc)}") from None


def check_verification_mode(config: Config) -> None:
    """Refuse (:class:`ConfigError`) a verification mode that needs a part switched off."""
    mode = config.verification.mode
    if mode in ("face", "face_and_qr") and not config.recognition.enabled:
        raise ConfigError(f"verification.mode = {mode!r} needs recognition.enabled = true")
    if mode in ("qr", "face_and_qr") and not config.qr.enabled:
        raise ConfigError(f"verification.mode = {mode!r} needs qr.enabled = true")


def check_runnable(config: Config) -> None:
    """What ``kiosk run`` refuses at start beyond the file's own validation: a verification
    mode that needs a part switched off, a secret file that cannot be read. ``kiosk config
    check`` runs the same checks, so a config it passes is one the kiosk starts with."""
    check_verification_mode(config)
    if config.mqtt is not None and config.mqtt.password_file is not None:
        read_secret(config.mqtt.password_file)


def load_config(path: Path | None, data_dir: Path | None = None) -> Config:
    """Load the config file (defaults when ``path`` is None); ``data_dir`` overrides storage.

    A kiosk provisioned by a scanned code gets its terminal id, site and ``[mqtt]`` from that
    state (:mod:`terminal.provisioning.state`). Settings the central system changed
    (``set_setting``, stored in the database) are laid over the file's
    (:mod:`terminal.store.settings`).
    """
    from terminal.provisioning.state import overlay  # they import this module
    from terminal.store.settings import apply_overrides

    if path is None:
        config = Config()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"{path}: line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x});"
                " save the file as UTF-8"
            ) from None
        config = parse_config(text, str(path))
    if data_dir is not None:
        config.storage.data_dir = data_dir
    return apply_overrides(overlay(config))
