"""The ``[mqtt]`` section: where and how the terminal delivers its check-ins."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from terminal.config.base import Section as _Section


class MqttSection(_Section):
    """The broker the terminal delivers to. Without this section the terminal is offline-only."""

    url: str = Field(
        "mqtt://127.0.0.1:1883", description="mqtt://host[:port] or mqtts://host[:port]."
    )
    topic_prefix: str = Field("attendance/v1", min_length=1, description="Topic prefix.")
    client_id: str | None = Field(None, description="MQTT client id; default: the terminal id.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive interval.")
    username: str | None = Field(None, description="Broker user name.")
    password_file: Path | None = Field(None, description="File holding the broker password.")
    ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the broker's certificate (mqtts:// only);"
        " default: the system CAs.",
    )
    cert_file: Path | None = Field(
        None,
        description="This terminal's client certificate (PEM) for mutual TLS (mqtts:// only);"
        " with key_file.",
    )
    key_file: Path | None = Field(
        None,
        description="File holding the private key (PEM, unencrypted) of cert_file; a secret:"
        " readable by the kiosk user only.",
    )
    batch_size: int = Field(100, ge=1, le=500, description="Events per published batch.")
    ack_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Resend events not acknowledged centrally after this."
    )
    reconnect_min_s: float = Field(1.0, gt=0, le=60, description="First reconnect delay.")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="Longest reconnect delay.")
    session_expiry_s: int = Field(
        3600,
        ge=0,
        le=7 * 24 * 3600,
        description="Seconds the broker keeps this terminal's session (and acks sent to it)"
        " while it is away; 0: a clean session on every connect.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        _ = parts.port  # raises ValueError on a bad port
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if any(c in value for c in "+#") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must not contain + or # nor start or end with /")
        return value

    @model_validator(mode="after")
    def _check_tls_files(self) -> MqttSection:
        if self.cert_file is not None and self.key_file is None:
            raise ValueError("key_file is missing: cert_file needs its private key in key_file")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("cert_file is missing: key_file is the key of a cert_file")
        given = [n for n in ("ca_file", "cert_file") if getattr(self, n) is not None]
        if given and urlsplit(self.url).scheme != "mqtts":
            raise ValueError(f"{given[0]} is set but the url is not mqtts://: TLS would be off")
        return self
