"""Where the MQTT broker is: ``mqtt://host[:port]`` or ``mqtts://host[:port]``, and TLS options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from common.errors import ConfigError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for ``mqtts://``; all None means: verify the broker with the system CAs.

    ``verify=False`` encrypts without checking the broker's certificate or host name at all:
    only for fetching a CA certificate whose fingerprint is checked afterwards (enrollment).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True


@dataclass(frozen=True)
class BrokerAddress:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``url``; raise :class:`ConfigError` with one readable line if it is not valid."""
        problem = "must look like mqtt://host[:port] or mqtts://host[:port]"
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ConfigError(f"broker URL {url!r}: bad port; {problem}") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(f"broker URL {url!r}: {problem}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"broker URL {url!r}: no path or query allowed; {problem}")
        if parts.username is not None or parts.password is not None:
            raise ConfigError(f"broker URL {url!r}: credentials do not belong in the URL")
        return cls(parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"
