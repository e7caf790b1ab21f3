"""``kiosk demo``: the whole product on one machine, without camera or network.

Starts a local mosquitto on a free port and the reference receiver (the "central HR system"),
enrolls a demo person, plays the built-in scene through the real daemon (replay camera,
pipeline, outbox, sync) and shows the check-ins arriving centrally. Ends by itself.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import click

from central.receiver.service import Receiver
from central.receiver.store import ReceiverStore
from devtools.demo_scene import build_scene
from devtools.local_broker import Mosquitto, free_port
from devtools.sample_consent import SAMPLE_CONSENT
from models.messages import CheckInEvent
from terminal.checkin.engines import create_engine
from terminal.checkin.pipeline import Decision
from terminal.config import (
    CameraSection,
    Config,
    LivenessSection,
    MqttSection,
    StorageSection,
    TerminalSection,
)
from terminal.config.ui import UiSection
from terminal.daemon import Daemon, RunOptions
from terminal.face.enrollment import enroll
from terminal.output.announcements import Language, announce
from terminal.store.database import open_database
from terminal.store.outbox import Outbox

ARRIVAL_TIMEOUT_S = 30.0
RECEIVER_READY_TIMEOUT_S = 15.0


_STARTED = time.monotonic()


def _say(text: str) -> None:
    click.echo(f"[{time.monotonic() - _STARTED:6.2f} s] {text}")


class _Narrator:
    """Prints what the kiosk decided and what its screen says, each refusal reason once."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.seen: set[str] = set()

    def __call__(self, decision: Decision) -> None:
        if decision.kind == "checked_in" and decision.event is not None:
            event = decision.event
            _say(
                f"  kiosk    : {decision.name} ({event.person_id}) by {event.method.value},"
                f" event #{event.seq} committed to SQLite"
            )
            screen = announce(
                "checked_in", self.language, name=decision.name or "", at=event.captured_at
            )
            _say(f"  screen   : {screen}")
        elif decision.kind in ("refused", "unknown") and decision.reason not in self.seen:
            self.seen.add(decision.reason)
            _say(f"  kiosk    : {decision.kind}: {decision.reason}")


def _on_central_event(event: CheckInEvent) -> None:
    _say(
        f"  central  : received #{event.seq} {event.person_id} ({event.method.value})"
        f" from {event.terminal_id}, stored and acknowledged"
    )


def demo_config(
    workdir: Path,
    broker_url: str,
    frames_dir: Path,
    language: Language,
    keep_open: bool = False,
    listen: str | None = None,
) -> Config:
    """The demo terminal's config: replay camera on the scene (played again and again with
    ``keep_open``), the local broker, the screen on ``listen`` (default: a free local port)."""
    return Config(
        terminal=TerminalSection(id="demo-kiosk", site="demo", language=language),
        camera=CameraSection(source=str(frames_dir), fps=15, loop=keep_open),
        mqtt=MqttSection(url=broker_url, ack_timeout_s=5, reconnect_max_s=5),
        storage=StorageSection(data_dir=workdir / "kiosk"),
        # The demo's face is a photo moved across the frame: liveness would (rightly) refuse it.
        liveness=LivenessSection(mode="off"),
        ui=UiSection(listen=listen or f"127.0.0.1:{free_port()}"),
    )


def run_demo(
    workdir: Path | None = None,
    language: Language = "en",
    keep_open: bool = False,
    listen: str | None = None,
) -> int:
    """Run the demo; return 0 when every check-in reached the receiver exactly once. With
    ``keep_open`` the scene plays again and again, with the screen on, until Ctrl-C (or
    SIGTERM); ``listen`` is the screen's ``HOST:PORT``."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    _say(f"demo: working in {workdir}")
    scene = build_scene(workdir / "scene")
    _say(f"demo: built a {scene.frame_count}-frame scene in {scene.frames_dir}")

    broker = Mosquitto(workdir / "broker")
    broker.start()
    _say(f"demo: mosquitto listening on {broker.url}")
    stop_receiver = threading.Event()
    central_db = workdir / "central.db"
    receiver = Receiver(broker.url, central_db, on_event=_on_central_event)
    receiver_thread = threading.Thread(
        target=receiver.run, args=(stop_receiver,), name="receiver", daemon=True
    )
    receiver_thread.start()
    if not receiver.ready.wait(RECEIVER_READY_TIMEOUT_S):
        _say("demo: the receiver did not subscribe in time; going on, delivery will be retried")
    try:
        config = demo_config(workdir, broker.url, scene.frames_dir, language, keep_open, listen)
        db = open_database(config.database_path)
        engine = create_engine(config)
        face_id, face_name = scene.face_person
        enroll(db, engine, face_id, face_name, [scene.enroll_photo], consent=SAMPLE_CONSENT)
        badge_id, badge_name = scene.badge_person
        enroll(db, None, badge_id, badge_name, [])
        db.conn.close()
        _say(
            f"demo: enrolled {face_name} ({face_id}) by face and {badge_name} ({badge_id}) by badge"
        )
        if keep_open:
            _say(
                f"demo: open http://{config.ui.listen}/ in a browser to watch the kiosk's screen;"
                " the scene plays again and again until you press Ctrl-C"
            )
        else:
            _say(
                "demo: starting the kiosk on the replayed scene; its screen is at"
                f" http://{config.ui.listen}/ while it runs (about 6 s: kiosk demo --keep-open"
                " keeps it running)"
            )
        _say(
            "demo: liveness is off here: the scene's face is a photo, which the kiosk's"
            ' liveness check ([liveness] mode = "passive", the default) would not let through'
        )
        options = RunOptions(exit_when_source_ends=not keep_open, on_decision=_Narrator(language))
        Daemon(config, options).run()
        return _report(config, central_db)
    finally:
        stop_receiver.set()
        receiver_thread.join(timeout=10)
        broker.stop()


def _report(config: Config, central_db: Path) -> int:
    outbox = Outbox.open(config.database_path, config.terminal.id, config.terminal.site)
    try:
        committed = [row.event for row in outbox.rows()]
        counts = outbox.counts()
    finally:
        outbox.close()
    store = ReceiverStore(central_db)
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while store.count() < len(committed) and time.monotonic() < deadline:
        time.sleep(0.2)
    received = store.count()
    _say(
        f"demo: kiosk committed {len(committed)} check-ins ({counts['acked']} acknowledged);"
        f" central received {received}, duplicates discarded: {store.duplicates()}"
    )
    ok = len(committed) >= 2 and received == len(committed) and counts["acked"] == len(committed)
    _say(
        "demo: OK, every check-in reached the central side exactly once"
        if ok
        else "demo: FAILED, see the lines above"
    )
    return 0 if ok else 1
