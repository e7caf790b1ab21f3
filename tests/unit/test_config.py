"""Config validation: strict keys, one readable line naming the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from common.errors import ConfigError
from terminal.config import check_runnable, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_issue_example_config_is_valid() -> None:
    config = parse_config(
        """
        [terminal]
        id = "kiosk-01"
        site = "hq"
        [camera]
        source = "0"
        fps = 15
        loop = false
        [mqtt]
        url = "mqtt://127.0.0.1:1883"
        topic_prefix = "attendance/v1"
        [storage]
        data_dir = "/var/lib/kiosk"
        """
    )
    assert config.terminal.id == "kiosk-01"
    assert config.mqtt is not None and config.mqtt.topic_prefix == "attendance/v1"
    assert config.database_path == Path("/var/lib/kiosk/kiosk.db")


def test_shipped_example_config_is_valid() -> None:
    config = load_config(REPO / "systemd" / "kiosk.example.toml")
    assert config.terminal.language == "zh"


def test_defaults_are_the_measured_choices() -> None:
    config = parse_config("")
    assert config.recognition.engine == "sface"  # kiosk calibrate: see docs/recognition.md
    assert config.qr.decoder == "zxing"  # kiosk bench qr: see docs/recognition.md
    assert config.recognition.tolerance is None  # the engine's calibrated default


def test_cv_threads_default_is_the_measured_one_and_can_be_set() -> None:
    from terminal.config import CV_THREADS_DEFAULT

    assert parse_config("").recognition.cv_threads == CV_THREADS_DEFAULT  # kiosk bench threads
    assert parse_config("[recognition]\ncv_threads = 4\n").recognition.cv_threads == 4


def test_no_mqtt_section_means_offline_only() -> None:
    assert parse_config('[terminal]\nid = "k1"\n').mqtt is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[terminal]\nid = "k1"\ncolour = "red"\n', "unknown key 'terminal.colour'"),
        ("[cameras]\nfps = 3\n", "unknown key 'cameras'"),
        ('[mqtt]\nurl = "http://broker"\n', "mqtt.url"),
        ('[mqtt]\nurl = "mqtt://broker:99999"\n', "mqtt.url"),
        ('[mqtt]\ntopic_prefix = "a/#"\n', "mqtt.topic_prefix"),
        ("[camera]\nfps = 0\n", "camera.fps"),
        ('[camera]\nfps = "fast"\n', "camera.fps"),
        ('[terminal]\nid = "kiosk/01"\n', "terminal.id"),
        ('[terminal]\nlanguage = "fr"\n', "terminal.language"),
        ("[terminal\n", "not valid TOML"),
        ("[recognition]\ncv_threads = 0\n", "recognition.cv_threads"),
        ('[recognition]\ncv_threads = "two"\n', "recognition.cv_threads"),
        ("[recognition]\ncv_threads = 1.5\n", "recognition.cv_threads"),
    ],
)
def test_bad_config_names_the_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "kiosk.toml")
    message = str(caught.value)
    assert named in message
    assert message.startswith("kiosk.toml")
    assert "\n" not in message


def test_data_dir_option_overrides_config(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[storage]\ndata_dir = "/nonexistent"\n')
    assert load_config(path, tmp_path / "d").database_path == tmp_path / "d" / "kiosk.db"


def test_cli_reports_bad_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[mqtt]\nurl = "mqtt://x"\nretries = 3\n')
    status = main(["--config", str(path), "events", "count"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == f"kiosk: error: {path}: unknown key 'mqtt.retries'\n"


def test_cli_reports_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--config", str(tmp_path / "absent.toml"), "config", "check"])
    assert status == 1
    assert "cannot read config" in capsys.readouterr().err


def test_a_config_that_is_not_utf8_is_one_line_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes('[terminal]\nid = "k1"\nsite = "食堂"\n'.encode("gb18030"))
    status = main(["--config", str(path), "config", "check"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"kiosk: error: {path}: line 3: not UTF-8 text") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[terminal]\nid = "k1"\n[qr]\nenabled = false\n[verification]\nmode = "qr"\n',
            "verification.mode = 'qr' needs qr.enabled = true",
        ),
        (
            '[terminal]\nid = "k1"\n[mqtt]\nurl = "mqtt://127.0.0.1"\nusername = "k1"\n'
            'password_file = "{missing}"\n',
            "cannot read secret file",
        ),
    ],
)
def test_config_check_refuses_what_kiosk_run_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace("{missing}", str(tmp_path / "no-such-password")))
    status = main(["--config", str(path), "config", "check"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("kiosk: error: ") and message in err and err.count("\n") == 1, err
    config = load_config(path)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_runnable(config)


@pytest.mark.parametrize("source", ["picamera2", "picamera2:1", "csi", "CSI:0"])
def test_pi_camera_sources_are_accepted(source: str) -> None:
    assert parse_config(f'[camera]\nsource = "{source}"\n').camera.source == source


@pytest.mark.parametrize("source", ["picamera2:", "picamera2:one", "csi:-1", "csi:0:1"])
def test_a_pi_camera_without_a_number_is_one_line_naming_the_key(source: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[camera]\nsource = "{source}"\n')
    message = str(caught.value)
    assert "camera.source" in message and "'picamera2:N'" in message and "\n" not in message
