"""Scan-to-provision end to end, every part a real process: the shipped mosquitto config with its
enrollment listener, ``kiosk onboard serve``, ``kiosk onboard code``, ``kiosk run`` reading the
codes from replayed frames, and ``kiosk receive`` getting the provisioned kiosk's check-in over
mutual TLS through the shipped ACL."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.onboarding.tokens import TokenStore
from central.receiver.store import ReceiverStore
from common.mqtt.types import Message
from devtools.local_broker import Mosquitto
from models.enrollment import ca_topic
from models.provisioning_code import ca_fingerprint, issue_provisioning_code
from terminal.config import load_config
from terminal.daemon import RESTART_EXIT
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from tests.roster_tools import write_private_key
from tests.scenes import badge_scene, blank_frame
from tests.signed_code_tools import hr_keys
from tests.tls_tools import Pki, kiosk_broker, link, poll_until

ROOT = Path(__file__).resolve().parents[2]
KIOSK = [sys.executable, "-m", "cli"]


def _code_scene(directory: Path, shown: list[tuple[str, int]]) -> Path:
    """Frames: a few blank ones, then each (code, frames) held up, blank frames between."""
    directory.mkdir(parents=True)
    frames = [blank_frame(i) for i in range(3)]
    for number, (text, count) in enumerate(shown):
        buffer = io.BytesIO()
        segno.make_qr(text, error="m").save(buffer, kind="png", scale=4, border=4)
        image = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        for step in range(count):
            frame = blank_frame(100 * (number + 1) + step)
            y, x = 40 + step % 3, 150 + step % 5
            frame[y : y + image.shape[0], x : x + image.shape[1]] = image
            frames.append(frame)
        frames += [blank_frame(1000 * (number + 1) + i) for i in range(3)]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(directory / f"{index:04d}.png"), frame)
    return directory


def _kiosk_toml(path: Path, frames: Path, data: Path, org_keys: Path, fps: float = 5) -> Path:
    """The organisation-wide image config: no [mqtt], scan-to-provision on."""
    path.write_text(
        f'[terminal]\nlanguage = "en"\n[camera]\nsource = "{frames}"\nfps = {fps}\n'
        f'[storage]\ndata_dir = "{data}"\n[recognition]\nenabled = false\n'
        '[verification]\nmode = "qr"\n'
        f'[provisioning]\norg_keys_dir = "{org_keys}"\nenroll_timeout_s = 3\n'
    )
    return path


@contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A kiosk command running with its output in ``log``; stopped (SIGTERM) at the end."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{log.read_text()}"
        time.sleep(0.2)


def _wait_for_ca(broker: Mosquitto, pki: Pki) -> None:
    """Until the enrollment service has published the CA (it is then serving)."""
    subscriptions = ((ca_topic("attendance/v1"), 1),)
    probe = link(
        broker.enroll_url, "enroll-00000000000000aa", pki.tls(None), subscriptions=subscriptions
    )
    try:
        poll_until(probe, Message, "the retained CA certificate")
    finally:
        probe.close()


def test_a_kiosk_sets_itself_up_from_a_scanned_code_and_delivers_over_mutual_tls(
    tmp_path: Path, pki: Pki
) -> None:
    broker = kiosk_broker(tmp_path / "broker", pki, enroll=True)
    broker.start()
    central = pki.client("central")
    tls_flags = ["--ca-file", str(pki.ca_file), "--cert-file", str(central.cert)]
    tls_flags += ["--key-file", str(central.key)]
    org_keys = tmp_path / "org-keys"
    org_key = write_private_key(hr_keys(org_keys, "ORG1")["ORG1"], tmp_path / "ORG1.key")
    tokens = tmp_path / "enroll.db"
    serve = [*KIOSK, "onboard", "serve", "--broker", broker.url, *tls_flags]
    serve += ["--ca-cert", str(pki.ca_file), "--ca-key", str(pki.write_key())]
    serve += ["--org-keys", str(org_keys), "--db", str(tokens)]
    service_log = tmp_path / "service.log"
    try:
        # The service runs once (its persistent session then queues requests while it is down).
        with _process(serve, service_log):
            _wait_for_ca(broker, pki)
        issue = [*KIOSK, "onboard", "code", "--terminal-id", "kiosk-07", "--site", "canteen"]
        issue += ["--broker", broker.url, "--enroll", broker.enroll_url]
        issue += ["--ca", str(pki.ca_file), "--key", str(org_key), "--ttl", "600"]
        issued = subprocess.run(issue, cwd=ROOT, capture_output=True, text=True, check=True)
        code = issued.stdout.strip()
        forged = issue_provisioning_code(
            Ed25519PrivateKey.generate(), "ORG1", terminal_id="kiosk-66", site="canteen",
            broker_url=broker.url, enroll_url=broker.enroll_url,
            ca_sha256=ca_fingerprint(pki.ca_file.read_bytes()),
        )  # fmt: skip
        frames = _code_scene(tmp_path / "scan", [(forged, 10), (code, 200)])
        data = tmp_path / "kiosk"
        toml = _kiosk_toml(tmp_path / "kiosk.toml", frames, data, org_keys)
        run = [*KIOSK, "--config", str(toml), "run", "--exit-when-source-ends"]
        kiosk_log = tmp_path / "kiosk.log"
        with _process(run, kiosk_log) as kiosk:
            # The service is down: the first attempt times out, its request waits at the broker.
            _wait_for_text(kiosk_log, "Setup failed: timeout", kiosk)
            with _process(serve, service_log):
                assert kiosk.wait(120) == RESTART_EXIT, kiosk_log.read_text()
        said = kiosk_log.read_text()
        assert "Provisioning code refused: bad_signature" in said
        assert "Set up as kiosk-07" in said
        # Asked twice (the reply to the first request went nowhere), one key, one certificate.
        state = data / "provisioning"
        assert (state / "client.key").stat().st_mode & 0o777 == 0o600
        assert not (state / "pending").exists()
        store = TokenStore(tokens)
        try:
            assert [use.terminal_id for use in store.uses()] == ["kiosk-07"]
        finally:
            store.close()

        # Started again (as systemd would), it is kiosk-07 at the canteen, over mutual TLS.
        config = load_config(toml)
        assert (config.terminal.id, config.terminal.site) == ("kiosk-07", "canteen")
        assert config.mqtt is not None and config.mqtt.cert_file == state / "client.crt"
        db = open_database(config.database_path)
        Gallery(db).add_person("E1001", "Li Wei", [], "sface", "none", [])
        db.close()
        toml.write_text(toml.read_text().replace(str(frames), str(tmp_path / "badges")))
        badge_scene(tmp_path / "badges", ["E1001"])
        central_db = tmp_path / "central.db"
        receive = [*KIOSK, "receive", "--broker", broker.url, "--db", str(central_db)]
        with _process([*receive, *tls_flags], tmp_path / "receive.log"):
            checked_in = subprocess.run(
                [*run, "--as-fast-as-possible"], cwd=ROOT, capture_output=True, text=True
            )
        assert checked_in.returncode == 0, checked_in.stderr
        assert "backlog delivered and acknowledged" in checked_in.stderr
        events = ReceiverStore(central_db).events()
        assert [(e["terminal_id"], e["person_id"]) for e in events] == [("kiosk-07", "E1001")]

        # The same code on a second kiosk: the token was used, it stays unprovisioned.
        other = _kiosk_toml(tmp_path / "other.toml", frames, tmp_path / "other", org_keys, 10)
        with _process(serve, service_log):
            second = subprocess.run(
                [*KIOSK, "--config", str(other), "run", "--exit-when-source-ends"],
                cwd=ROOT, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert "Setup failed: refused:token_used" in second.stderr
        assert not (tmp_path / "other" / "provisioning" / "provisioned.toml").exists()
        assert load_config(other).mqtt is None
    finally:
        broker.kill()
