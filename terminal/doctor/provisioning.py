"""``kiosk doctor``'s provisioning line: where this kiosk's identity and broker come from.

- provisioned by a scanned code: the state in ``<data_dir>/provisioning`` supplies the
  terminal id, site and ``[mqtt]`` (:mod:`terminal.provisioning.state`);
- configured in kiosk.toml: it has an ``[mqtt]`` section (or is offline-only on purpose);
- not provisioned: scan-to-provision is on and no usable state exists, so the kiosk waits for a
  provisioning code and takes no check-ins (a failure).

Only reads: the state is never repaired here.
"""

from __future__ import annotations

from terminal.config import Config
from terminal.doctor.result import CheckResult, failed, passed
from terminal.provisioning.state import (
    ProvisionedStateError,
    needs_provisioning,
    read_state,
    state_dir,
)

NAME = "provisioning"


def check_provisioning(config: Config) -> CheckResult:
    """Whether the kiosk is provisioned, and by what (a scanned code or kiosk.toml)."""
    directory = state_dir(config)
    try:
        state = read_state(directory)
        damage = None
    except ProvisionedStateError as exc:
        state, damage = None, str(exc)
    if needs_provisioning(config):
        detail = "not provisioned: waiting for a provisioning code"
        if damage is not None:
            detail += f" (the state there is damaged and ignored: {damage})"
        hint = (
            "show the kiosk a provisioning code (kiosk onboard issues one), or give kiosk.toml"
            " an [mqtt] section"
        )
        keys = str(config.provisioning.org_keys_dir)
        return failed(NAME, detail, hint, provisioned=False, org_keys_dir=keys)
    mqtt = config.mqtt
    if state is not None and mqtt is not None and mqtt.cert_file == state.cert_file:
        day = state.provisioned_at.date().isoformat()
        detail = (
            f"provisioned by code as {state.terminal_id} (site {state.site}) on {day}"
            f"{f' by {state.issuer}' if state.issuer else ''}, broker {state.mqtt_url}"
        )
        return passed(
            NAME,
            detail,
            provisioned=True,
            terminal_id=state.terminal_id,
            site=state.site,
            provisioned_at=state.provisioned_at.isoformat(),
            state_dir=str(directory),
        )
    if mqtt is None:
        return passed(NAME, "configured in kiosk.toml (offline-only, scan-to-provision off)")
    return passed(NAME, f"configured in kiosk.toml (broker {mqtt.url})")
