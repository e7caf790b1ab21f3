"""The ``[provisioning]`` section: how an unprovisioned kiosk may set itself up from a QR code."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from terminal.config.base import Section as _Section


class ProvisioningSection(_Section):
    """Scan-to-provision: trust in the organisation's provisioning codes."""

    org_keys_dir: Path | None = Field(
        None,
        description="Directory of the organisation's Ed25519 public keys for provisioning"
        " codes, one `<key id>.pub` file (PEM) per key. Set, on a kiosk whose config has no"
        " [mqtt] section and that has not been provisioned yet, the kiosk shows no check-in"
        " screen but waits for a provisioning code (ATT1:P:...) signed by one of these keys,"
        " enrolls with the broker it names and restarts provisioned. Unset: scan-to-provision"
        " is off.",
    )
    clock_skew_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description="Seconds a provisioning code may be early or late against this kiosk's"
        " clock (when the clock is not synchronised the kiosk does not check the times; the"
        " enrollment service does, with its own clock).",
    )
    enroll_timeout_s: float = Field(
        20.0,
        gt=1,
        le=25,
        description="Seconds to wait for the broker and the enrollment service before giving"
        " up on a code (kept below the systemd watchdog's 30 s).",
    )
