"""``kiosk onboard code`` and ``kiosk onboard serve`` through the real CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from central.onboarding.tokens import TokenStore
from cli.main import main
from drivers.qr.zxing_decoder import ZxingDecoder
from models.provisioning_code import ca_fingerprint, read_provisioning_code
from models.signed_code import load_public_key
from tests.onboard_tools import PREFIX, Enrollment, Kiosk, make_code, make_csr, request
from tests.signed_code_tools import hr_keys
from tests.tls_tools import REPO, Pki, kiosk_broker


def _org_keys(out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    assert main(["keys", "generate", "--out", str(out), "--key-id", "ORG1"]) == 0
    capsys.readouterr()
    return out / "ORG1.key", out / "ORG1.pub"


def _code_args(pki: Pki, key: Path, *extra: str) -> list[str]:
    return ["onboard", "code", "--terminal-id", "kiosk-07", "--site", "canteen",
            "--broker", "mqtts://broker.example:8883", "--enroll", "mqtts://broker.example:8884",
            "--ca", str(pki.ca_file), "--key", str(key), *extra]  # fmt: skip


def test_onboard_code_prints_a_code_the_kiosk_accepts_and_writes_its_qr(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
):
    private, public = _org_keys(tmp_path / "org", capsys)
    png = tmp_path / "code.png"
    extra = ("--key-id", "ORG1", "--ttl", "600", "--issuer", "HR desk", "--png", str(png))
    assert main(_code_args(pki, private, *extra, "--prefix", "acme/att")) == 0
    out, err = capsys.readouterr()
    text = out.strip()
    assert text.startswith("ATT1:P:") and "\n" not in text
    claims = read_provisioning_code(text, {"ORG1": load_public_key(public.read_bytes())}.get)
    assert (claims.tid, claims.site, claims.iss, claims.pfx) == (
        "kiosk-07",
        "canteen",
        "HR desk",
        "acme/att",
    )
    assert (claims.mqtt, claims.enroll) == (
        "mqtts://broker.example:8883",
        "mqtts://broker.example:8884",
    )
    assert claims.ca == ca_fingerprint(pki.ca_file.read_bytes())
    assert claims.exp - claims.iat == 600
    assert f"wrote {png}" in err
    image = cv2.imread(str(png))
    assert image is not None
    assert ZxingDecoder().decode(image) == [text]  # zxing-cpp

    # Each code carries a fresh one-time token.
    assert main(_code_args(pki, private)) == 0
    again = read_provisioning_code(
        capsys.readouterr().out.strip(), {"ORG1": load_public_key(public.read_bytes())}.get
    )
    assert again.jti != claims.jti and again.pfx == PREFIX


@pytest.mark.parametrize(
    "case", ["not a key", "public key as private", "plain mqtt broker", "CA not a certificate"]
)
def test_onboard_code_errors_are_one_line(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str], case: str
):
    private, public = _org_keys(tmp_path / "org", capsys)
    args = _code_args(pki, private)
    if case == "not a key":
        (tmp_path / "junk.key").write_text("not a key\n")
        args = _code_args(pki, tmp_path / "junk.key")
    elif case == "public key as private":
        args = _code_args(pki, public)
    elif case == "plain mqtt broker":
        args[args.index("--broker") + 1] = "mqtt://broker.example:1883"
    else:
        args[args.index("--ca") + 1] = str(public)
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("kiosk: error: ") and err.count("\n") == 1, err


def test_onboard_serve_enrolls_a_kiosk_until_sigterm(tmp_path: Path, pki: Pki):
    broker = kiosk_broker(tmp_path / "broker", pki, enroll=True)
    broker.start()
    keys_dir = tmp_path / "org-keys"
    org_key = hr_keys(keys_dir, "ORG1")["ORG1"]
    central = pki.client("central")
    db = tmp_path / "tokens.db"
    command = ["onboard", "serve", "--broker", broker.url, "--ca-cert", str(pki.ca_file),
               "--ca-key", str(pki.write_key()), "--org-keys", str(keys_dir), "--db", str(db),
               "--ca-file", str(pki.ca_file), "--cert-file", str(central.cert),
               "--key-file", str(central.key), "--cert-days", "30"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tokens = TokenStore(db)
    env = Enrollment(broker, pki, org_key, keys_dir, tokens)
    try:
        kiosk = Kiosk(env, also=(f"{PREFIX}/enroll/ca",))
        assert kiosk.next_message().payload == pki.ca_file.read_bytes()  # the service is up
        reply = kiosk.ask(request(make_code(env, "kiosk-07"), make_csr()[1]))
        kiosk.close()
        assert (reply.status, reply.terminal_id) == ("enrolled", "kiosk-07")
        assert [use.terminal_id for use in tokens.uses()] == ["kiosk-07"]
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        broker.kill()
        tokens.close()
    assert process.returncode == 0, err.decode()
    assert f"enroll kiosk-07 from {kiosk.client_id}: enrolled" in err.decode()


@pytest.mark.parametrize("case", ["no org keys", "CA key of another CA"])
def test_onboard_serve_refuses_to_start_with_unusable_files(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str], case: str
):
    keys_dir = tmp_path / "org-keys"
    keys_dir.mkdir()
    ca_key = pki.write_key()
    if case == "no org keys":
        (keys_dir / "ORG1.pub").write_text("not a key\n")
    else:
        hr_keys(keys_dir, "ORG1")
        ca_key = Pki(tmp_path / "other", "Other CA").write_key()
    args = ["onboard", "serve", "--broker", "mqtts://127.0.0.1:1", "--ca-cert", str(pki.ca_file),
            "--ca-key", str(ca_key), "--org-keys", str(keys_dir),
            "--db", str(tmp_path / "t.db")]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: ") and err.count("\n") == 1, err
