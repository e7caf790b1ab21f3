"""A local mosquitto broker on a free loopback port, for the demo and the tests.

The tests start it, ``kill -9`` it and restart it on the same port to inject faults.
"""

from __future__ import annotations

import dataclasses
import getpass
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from common.errors import BrokerError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``port`` (or raise TimeoutError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@dataclass(frozen=True)
class BrokerTls:
    """The TLS settings of the broker's listener (see mosquitto.conf(5)).

    ``require_certificate``: clients must present a certificate signed by ``ca_file``;
    ``use_identity_as_username``: its Common Name is then the client's user name (for the ACL);
    ``tls_version``: the only TLS version accepted (e.g. ``tlsv1.2``; None: mosquitto's default).
    """

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False
    use_identity_as_username: bool = False
    tls_version: str | None = None

    def conf(self) -> str:
        """The listener lines of mosquitto.conf."""
        lines = (
            f"cafile {self.ca_file}\ncertfile {self.cert_file}\nkeyfile {self.key_file}\n"
            f"require_certificate {str(self.require_certificate).lower()}\n"
            f"use_identity_as_username {str(self.use_identity_as_username).lower()}\n"
        )
        if self.tls_version is not None:
            lines += f"tls_version {self.tls_version}\n"
        return lines


class Mosquitto:
    """One mosquitto process with persistence in ``workdir``; can be killed and restarted.

    By default its listener is plain MQTT and anonymous. With ``tls`` it speaks TLS only;
    ``password_file`` or a TLS identity used as user name turn anonymous access off, and
    ``acl_file`` restricts each user's topics.

    With ``enroll_acl_file`` (needs ``tls``) a second listener, for enrollment, runs on
    ``enroll_port`` (default: a free port) with the same TLS files but no client certificate,
    anonymous and restricted by that ACL; ``per_listener_settings`` keeps the two apart.
    ``extra_conf`` then lands in the enrollment listener's section: only global settings there.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra_conf: str = "",
        tls: BrokerTls | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        enroll_acl_file: Path | None = None,
        enroll_port: int | None = None,
    ) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerError(
                "mosquitto is not installed (make demo / make test install it as root)"
            )
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.tls = tls
        self.password_file = password_file
        self.acl_file = acl_file
        if enroll_acl_file is not None and tls is None:
            raise ValueError("an enrollment listener needs tls")
        self.enroll_acl_file = enroll_acl_file
        self.enroll_port: int | None = None
        if enroll_acl_file is not None:
            self.enroll_port = enroll_port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT``, or ``mqtts://`` with TLS."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    @property
    def enroll_url(self) -> str:
        """``mqtts://127.0.0.1:PORT`` of the enrollment listener (ValueError if there is none)."""
        if self.enroll_port is None:
            raise ValueError("this broker has no enrollment listener")
        return f"mqtts://127.0.0.1:{self.enroll_port}"

    def _security_conf(self) -> str:
        lines = self.tls.conf() if self.tls else ""
        identified = self.tls is not None and self.tls.use_identity_as_username
        anonymous = self.password_file is None and not identified
        lines += f"allow_anonymous {str(anonymous).lower()}\n"
        if self.password_file is not None:
            lines += f"password_file {self.password_file}\n"
        if self.acl_file is not None:
            lines += f"acl_file {self.acl_file}\n"
        return lines

    def _listeners_conf(self) -> str:
        main = f"listener {self.port} 127.0.0.1\n" + self._security_conf()
        if self.enroll_port is None or self.tls is None:
            return main
        enroll = dataclasses.replace(
            self.tls, require_certificate=False, use_identity_as_username=False
        )
        return (
            "per_listener_settings true\n"
            + main
            + f"listener {self.enroll_port} 127.0.0.1\n"
            + enroll.conf()
            + f"allow_anonymous true\nacl_file {self.enroll_acl_file}\n"
        )

    def start(self) -> None:
        """Start (or restart) the broker on the same port and wait until it listens."""
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            self._listeners_conf()
            # As root mosquitto drops to the "mosquitto" user, which cannot use workdir.
            + f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            f"log_dest file {self.workdir}/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 100000\n" + self.extra_conf
        )
        # A session of its own: Ctrl-C in the terminal (kiosk demo --keep-open) stops the kiosk,
        # which then stops the broker after the last acknowledgement, not the broker first.
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)
        if self.enroll_port is not None:
            wait_for_port(self.enroll_port)

    def kill(self) -> None:
        """``kill -9`` the broker (no clean shutdown, no will suppression)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM), saving its persistence file."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
