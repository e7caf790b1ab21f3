"""``kiosk provision``: the config and credentials it writes, idempotence, and its refusals."""

from __future__ import annotations

import getpass
import stat
from pathlib import Path

import pytest

from central.receiver.service import Receiver
from cli.main import main
from terminal.config import load_config
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Threads, commit, wait_for
from tests.tls_tools import Pki, kiosk_broker

ME = getpass.getuser()


def _provision(config_dir: Path, *extra: str, terminal: str = "kiosk-07") -> int:
    return main(
        ["provision", "--terminal-id", terminal, "--site", "canteen", "--owner", ME,
         "--config-dir", str(config_dir), "--data-dir", str(config_dir / "state"), *extra]
    )  # fmt: skip


def _tls_args(pki: Pki, url: str, terminal: str = "kiosk-07") -> list[str]:
    client = pki.client(terminal)
    return ["--broker", url, "--ca", str(pki.ca_file), "--cert", str(client.cert),
            "--key", str(client.key)]  # fmt: skip


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_provisioning_writes_a_working_config_with_private_files_kept_private(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
):
    broker = kiosk_broker(tmp_path / "broker", pki)
    broker.start()
    etc = tmp_path / "etc"
    try:
        assert _provision(etc, *_tls_args(pki, broker.url)) == 0
        printed = capsys.readouterr().out
        assert printed.count("created ") == 5, printed
        key = etc / "tls" / "kiosk-07.key"
        assert _mode(key) == 0o600 and _mode(etc / "kiosk.toml") == 0o640
        sealing = etc / "template.key"  # the face templates' key, made once
        assert _mode(sealing) == 0o600 and len(sealing.read_bytes()) == 32
        assert _mode(etc / "tls" / "kiosk-07.crt") == 0o644
        config = load_config(etc / "kiosk.toml")
        assert (config.terminal.id, config.terminal.site) == ("kiosk-07", "canteen")
        assert config.mqtt is not None and config.mqtt.key_file == key
        assert config.privacy.template_key_file == sealing

        # The written config delivers over mutual TLS through the shipped ACL.
        outbox = Outbox.open(config.database_path, "kiosk-07", "canteen")
        commit(outbox, 3)
        with Threads() as threads:
            central = Receiver(broker.url, tmp_path / "central.db", client_id="central-p",
                               tls=pki.tls(pki.client("central")))  # fmt: skip
            threads.start(lambda: central.run(threads.stop), "rx")
            assert central.ready.wait(20), "the receiver did not subscribe"
            threads.start(SyncWorker(config, threads.stop, "test").run, "sync")
            wait_for(lambda: outbox.counts()["acked"] == 3, what="delivery with the config")
        outbox.close()
    finally:
        broker.kill()

    # The same command again changes nothing, down to the modification times.
    before = {p: p.stat().st_mtime_ns for p in etc.rglob("*") if p.is_file()}
    assert _provision(etc, *_tls_args_again(pki, broker.url)) == 0
    assert capsys.readouterr().out.count("unchanged ") == 4
    assert {p: p.stat().st_mtime_ns for p in etc.rglob("*") if p.is_file()} == before


def _tls_args_again(pki: Pki, url: str) -> list[str]:
    """The arguments of the first run: the same certificate files, not new ones."""
    directory = pki.directory
    return ["--broker", url, "--ca", str(pki.ca_file), "--cert",
            str(directory / "kiosk-07.crt"), "--key", str(directory / "kiosk-07.key")]  # fmt: skip


def test_an_admins_settings_and_comments_survive_and_stale_tls_keys_go(tmp_path: Path, pki: Pki):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "kiosk.toml").write_text(
        '[terminal]\nid = "old"\n\n[camera]\nsource = "/dev/video2"  # the USB camera\nfps = 10\n'
    )
    assert _provision(etc, *_tls_args(pki, "mqtts://broker.example:8883")) == 0
    assert _provision(etc, "--broker", "mqtt://broker.example:1883") == 0
    text = (etc / "kiosk.toml").read_text()
    assert "# the USB camera" in text
    config = load_config(etc / "kiosk.toml")
    assert config.camera.source == "/dev/video2" and config.camera.fps == 10
    assert config.mqtt is not None and config.mqtt.url == "mqtt://broker.example:1883"
    assert config.mqtt.ca_file is None and config.mqtt.cert_file is None


def test_a_password_is_installed_owner_only(tmp_path: Path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    etc = tmp_path / "etc"
    args = ["--broker", "mqtt://b:1883", "--username", "kiosk-07", "--password-file", str(secret)]
    assert _provision(etc, *args) == 0
    assert _mode(etc / "mqtt.password") == 0o600
    config = load_config(etc / "kiosk.toml")
    assert config.mqtt is not None and config.mqtt.password_file == etc / "mqtt.password"
    assert "s3cret" not in (etc / "kiosk.toml").read_text()


REFUSALS = {
    "a certificate issued to another terminal": ("other", "issued to 'other'"),
    "a key that is not the certificate's": ("swap", "not the private key"),
    "a certificate from another CA": ("foreign", "not issued by --ca"),
    "TLS files with a plain mqtt:// broker": ("plain", "not mqtts://"),
    "an unknown owner": ("owner", "no user 'no-such-user-x'"),
    "a certificate without its key": ("nokey", "--cert and --key go together"),
    "a terminal id the config refuses": ("badid", "terminal.id"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_request_that_cannot_work_writes_nothing(
    tmp_path: Path, pki: Pki, case: str, capsys: pytest.CaptureFixture[str]
):
    kind, message = REFUSALS[case]
    args = _tls_args(pki, "mqtts://broker.example:8883")
    terminal = "kiosk-07"
    if kind == "other":
        args = _tls_args(pki, "mqtts://broker.example:8883", terminal="other")
    elif kind == "swap":
        args[args.index("--key") + 1] = str(pki.client("someone").key)
    elif kind == "foreign":
        args[args.index("--ca") + 1] = str(Pki(tmp_path / "other-ca").ca_file)
    elif kind == "plain":
        args[1] = "mqtt://broker.example:1883"
    elif kind == "owner":
        args += ["--owner", "no-such-user-x"]
    elif kind == "nokey":
        args = args[: args.index("--key")]
    elif kind == "badid":
        terminal = "bad id!"
        args = ["--broker", "mqtt://broker.example:1883"]
    etc = tmp_path / "etc"
    assert _provision(etc, *args, terminal=terminal) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert not etc.exists() or not any(etc.rglob("*"))


def test_broker_urls_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert _provision(tmp_path / "etc", "--broker", "http://broker.example") == 1
    assert "mqtt" in capsys.readouterr().err
