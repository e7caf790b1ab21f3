"""``kiosk doctor``'s broker check: DNS, TCP, then a real MQTT v5 CONNECT, each bounded in time.

The CONNECT uses the kiosk's own settings (TLS files, user name, password file) through
:func:`~common.mqtt.paho_client.paho_client`, but its own client id, ``<client id>-doctor``, a
clean start and no session, so the running kiosk's session is never taken over; it
disconnects as soon as the broker answers. Each way of failing has its own line: DNS,
refused, timeout, TLS verification (CA, host name), TLS handshake, CONNACK refused.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from common.errors import ConfigError
from common.mqtt.broker_url import BrokerAddress, TlsOptions
from common.mqtt.paho_client import paho_client
from common.mqtt.types import LinkOptions
from terminal.config import Config, MqttSection, read_secret
from terminal.doctor.result import CheckResult, failed, passed

TCP_TIMEOUT_S = 3.0
"""For the TCP connection and, separately, for the TLS handshake."""
CONNACK_TIMEOUT_S = 5.0

_REFUSED_HINTS = {
    0x85: "the broker refuses the client id: check [mqtt] client_id",
    0x86: "check [mqtt] username and the password in password_file (broker: mosquitto_passwd)",
    0x87: "the broker does not let this client in: check username and password_file, or the"
    " client certificate's CN (its user name), and the broker's ACL",
}


def _fail(address: BrokerAddress, detail: str, hint: str, stage: str, **data: Any) -> CheckResult:
    return failed("broker", f"{address}: {detail}", hint, stage=stage, **data)


def check_broker(config: Config) -> CheckResult:
    """Reach the ``[mqtt]`` broker and log in as the kiosk would (pass when offline-only)."""
    settings = config.mqtt
    if settings is None:
        return passed("broker", "not configured: offline-only, every check-in is kept")
    try:
        address = BrokerAddress.parse(settings.url)
    except ConfigError as exc:
        return failed("broker", str(exc), "fix [mqtt] url", stage="config")
    unreachable = _reach(address)
    if unreachable is not None:
        return unreachable
    return _login(config, settings, address)


def _reach(address: BrokerAddress) -> CheckResult | None:
    try:
        socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        hint = "check the host name in [mqtt] url and this kiosk's DNS (resolvectl status)"
        return _fail(address, f"DNS cannot resolve {address.host!r} ({exc.strerror})", hint, "dns")
    try:
        with socket.create_connection((address.host, address.port), timeout=TCP_TIMEOUT_S):
            pass
    except ConnectionRefusedError:
        hint = (
            f"nothing listens on port {address.port}: is the broker running (systemctl status"
            " mosquitto) and is the port in [mqtt] url right?"
        )
        return _fail(address, "connection refused", hint, "tcp")
    except TimeoutError:
        hint = (
            "packets are dropped on the way: a firewall, a wrong address or a network outage"
            f" (try: nc -vz {address.host} {address.port})"
        )
        return _fail(address, f"no answer within {TCP_TIMEOUT_S:g} s", hint, "tcp")
    except OSError as exc:
        hint = "check this kiosk's network (ip addr, ip route)"
        return _fail(address, f"cannot connect: {exc.strerror or exc}", hint, "tcp")
    return None


def _login(config: Config, settings: MqttSection, address: BrokerAddress) -> CheckResult:
    client_id = f"{settings.client_id or config.terminal.id}-doctor"
    try:
        password = read_secret(settings.password_file) if settings.password_file else None
        options = LinkOptions(
            url=settings.url, client_id=client_id, keepalive_s=settings.keepalive_s,
            username=settings.username, password=password, clean_start=True,
            session_expiry_s=0, connect_timeout_s=TCP_TIMEOUT_S,
            tls=TlsOptions(settings.ca_file, settings.cert_file, settings.key_file),
        )  # fmt: skip
        client = paho_client(options, address)
    except ConfigError as exc:
        return _fail(address, str(exc), "see the tls and credentials lines", "setup")
    answers: list[ReasonCode | str] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.append(reason)
    client.on_disconnect = lambda _c, _u, _f, reason, _p: answers.append(str(reason))
    try:
        client.connect(address.host, address.port, settings.keepalive_s, clean_start=True)
        return _answer(client, address, answers, client_id, settings.username)
    except ssl.SSLCertVerificationError as exc:
        return _verify_failed(address, exc)
    except ssl.SSLError as exc:
        hint = (
            "the broker refused this kiosk's TLS: does it require a client certificate"
            " (cert_file, key_file) signed by its CA? See the broker's log"
        )
        return _fail(address, f"TLS handshake failed: {exc.reason or exc}", hint, "tls")
    except TimeoutError:
        hint = "the broker accepts TCP but does not answer: is the url's mqtt:// or mqtts:// right?"
        return _fail(address, f"no TLS/MQTT answer within {TCP_TIMEOUT_S:g} s", hint, "tls")
    except OSError as exc:
        hint = "check this kiosk's network and the broker's log"
        return _fail(address, f"cannot connect: {exc}", hint, "tcp")
    finally:
        _close(client)


def _answer(
    client: mqtt.Client,
    address: BrokerAddress,
    answers: list[ReasonCode | str],
    client_id: str,
    username: str | None,
) -> CheckResult:
    deadline = time.monotonic() + CONNACK_TIMEOUT_S
    while not answers and time.monotonic() < deadline:
        rc = client.loop(0.1)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and not answers:
            answers.append(mqtt.error_string(rc))
    if not answers:
        hint = (
            "the broker accepts TCP but does not answer MQTT: is it an MQTT broker, is the"
            " url's mqtt:// or mqtts:// right, or is the link black-holed?"
        )
        return _fail(address, f"no CONNACK within {CONNACK_TIMEOUT_S:g} s", hint, "mqtt")
    answer = answers[0]
    if isinstance(answer, str):
        hint = (
            "the broker refused this client: does it require a client certificate (cert_file,"
            " key_file)? See the broker's log"
            if address.tls
            else "is it an MQTT broker, and does it want mqtts:// (TLS)? See the broker's log"
        )
        why = "" if answer == "Unspecified error" else f" ({answer})"
        return _fail(address, f"the broker closed the connection before CONNACK{why}", hint, "mqtt")
    if answer.is_failure:
        code = int(answer.value)
        hint = _REFUSED_HINTS.get(code, "see the broker's log")
        detail = f"CONNACK refused: {answer} (0x{code:02X})"
        return _fail(address, detail, hint, "connack", reason_code=code)
    how = "MQTT v5" + (", TLS" if address.tls else "") + (f", user {username}" if username else "")
    return passed("broker", f"{address}: connected as {client_id} ({how})", stage="connected")


def _verify_failed(address: BrokerAddress, exc: ssl.SSLCertVerificationError) -> CheckResult:
    message = exc.verify_message or str(exc)
    if "mismatch" in message:
        hint = f"the broker's certificate is not for {address.host}: use its name in [mqtt] url"
    elif "expired" in message or "not yet valid" in message:
        hint = "the broker's certificate is out of date, or this kiosk's clock is wrong"
    else:
        hint = "[mqtt] ca_file must be the CA that signed the broker's certificate"
    return _fail(address, f"TLS verify failed: {message}", hint, "tls-verify")


def _close(client: mqtt.Client) -> None:
    """Disconnect at once and make sure the socket is closed."""
    if client.is_connected():
        client.disconnect()
        deadline = time.monotonic() + 1.0
        while client.socket() is not None and time.monotonic() < deadline:
            client.loop(0.05)
    sock = client.socket()
    if sock is not None:
        sock.close()
