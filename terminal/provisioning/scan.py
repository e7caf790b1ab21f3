"""Scan-to-provision: what an unprovisioned kiosk does with each QR code it reads.

:class:`ProvisioningScanner` is given every decoded text. The same code is in every frame
while it is held up, so a text is looked at again only after :data:`REPEAT_S`. Then:

- not ``ATT1:P:``: a person's check-in code or badge (``ATT1:...``) is told "this kiosk is not
  set up yet"; anything else is told to show a provisioning code;
- a provisioning code is verified with the organisation's keys
  (``[provisioning] org_keys_dir``, :class:`~common.code_keys.PublicKeys`) and refused
  with
  its reason (``bad_signature``, ``unknown_key``, ``expired``, ...), or ``already_applied``
  when its ``jti`` was applied on this kiosk
  before;
- a valid code is enrolled (:func:`terminal.provisioning.certificate_client.enroll`); on
  success the daemon exits with ``RESTART_EXIT`` and starts again provisioned.

**Times and an unsynchronised clock.** A kiosk that was never set up has often never had the
network, so its clock may be anything. When ``clock_synced()`` is False, the code's ``iat`` and
``exp`` are not checked here (the code is verified as if now were its ``iat``); the enrollment
service checks them with its own clock and refuses an expired code, and the one-time ``jti``
stops replays. With a synchronised clock they are checked with ``clock_skew_s`` of leeway.

Each refusal is logged and announced once per code (a failed enrollment every time it is tried).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jwt

from common.code_keys import PublicKeys
from models.provisioning_code import PREFIX, ProvisioningCodeError, read_provisioning_code
from terminal.config import Config
from terminal.output.announcements import announce
from terminal.provisioning.certificate_client import EnrollmentResult, enroll
from terminal.provisioning.state import state_dir, used_codes

log = logging.getLogger(__name__)

REPEAT_S = 5.0
"""A text offered again within this many seconds of being looked at is ignored."""
MAX_REMEMBERED = 1000

OutcomeKind = Literal["ignored", "not_provisioning_code", "not_set_up", "refused", "failed",
                      "provisioned"]  # fmt: skip


@dataclass(frozen=True)
class ScanOutcome:
    """What one offered text came to; ``message`` is the sentence said (None: nothing new)."""

    kind: OutcomeKind
    reason: str | None = None
    detail: str = ""
    message: str | None = None

    @property
    def provisioned(self) -> bool:
        """The kiosk is provisioned: the daemon must exit to be restarted."""
        return self.kind == "provisioned"


class ProvisioningScanner:
    """Judges decoded QR texts on an unprovisioned kiosk and enrolls with a valid
    code.

    ``enroll_with`` replaces :func:`~terminal.provisioning.certificate_client.enroll` (tests);
    ``on_wait`` is called while enrolling (the daemon pings the systemd watchdog).
    """

    def __init__(
        self,
        config: Config,
        clock_synced: Callable[[], bool],
        stop: threading.Event,
        *,
        enroll_with: Callable[..., EnrollmentResult] = enroll,
        on_wait: Callable[[], None] | None = None,
        repeat_s: float = REPEAT_S,
    ) -> None:
        keys_dir = config.provisioning.org_keys_dir
        if keys_dir is None:
            raise ValueError("scan-to-provision needs [provisioning] org_keys_dir")
        self.config = config
        self.clock_synced = clock_synced
        self.stop = stop
        self.keys = PublicKeys(keys_dir)
        self.enroll_with = enroll_with
        self.on_wait = on_wait
        self.repeat_s = repeat_s
        self._looked_at: dict[str, float] = {}
        self._said: set[tuple[str, str]] = set()

    def offer(self, qr_text: str, now: float | None = None) -> ScanOutcome:
        """Judge one decoded text (``now``: monotonic seconds, default the clock's)."""
        now = time.monotonic() if now is None else now
        self._looked_at = {t: at for t, at in self._looked_at.items() if now - at < self.repeat_s}
        if qr_text in self._looked_at:
            return ScanOutcome("ignored")
        self._looked_at[qr_text] = now
        if len(self._said) > MAX_REMEMBERED:
            self._said.clear()
        if not qr_text.startswith(PREFIX):
            if qr_text.startswith("ATT1:"):
                return self._tell(qr_text, "not_set_up", "not_set_up", "not_set_up")
            return self._tell(
                qr_text, "not_provisioning_code", "show_provisioning_code", "not_provisioning_code"
            )
        try:
            claims = read_provisioning_code(
                qr_text,
                self.keys.get,
                now=self._check_time(qr_text),
                leeway_s=self.config.provisioning.clock_skew_s,
            )
        except ProvisioningCodeError as exc:
            return self._refuse(qr_text, exc.reason, exc.detail)
        if claims.jti in used_codes(state_dir(self.config)):
            return self._refuse(qr_text, "already_applied", "this code was applied here before")
        language = self.config.terminal.language
        log.info("%s", announce("provisioning", language))
        log.info("provisioning code for %s (site %s) from %s", claims.tid, claims.site,
                 claims.iss or "an unnamed issuer")  # fmt: skip
        started = time.monotonic()
        try:
            result = self.enroll_with(
                claims,
                qr_text,
                state_dir(self.config),
                self.config.provisioning.enroll_timeout_s,
                self.stop,
                on_wait=self.on_wait,
            )
        except Exception as exc:  # an enrollment bug must not take the daemon down
            log.exception("enrollment failed unexpectedly")
            return self._failed(f"internal_error: {type(exc).__name__}")
        finally:
            # Held up all along: look at it again REPEAT_S after the attempt, not before.
            self._looked_at[qr_text] = now + time.monotonic() - started
        if result.reason is not None:
            return self._failed(result.reason, result.detail)
        message = announce("provisioned", language, name=claims.tid)
        log.info("%s", message)
        return ScanOutcome("provisioned", None, f"provisioned as {claims.tid}", message)

    @property
    def key_ids(self) -> list[str]:
        """The organisation key ids codes may be signed with."""
        return self.keys.key_ids

    def _check_time(self, qr_text: str) -> float | None:
        """The instant to check the code's times at: now, or its ``iat`` when the clock is not
        synchronised (then only the enrollment service checks them)."""
        if self.clock_synced():
            return None
        try:
            raw = jwt.decode(qr_text[len(PREFIX) :], options={"verify_signature": False})
        except jwt.PyJWTError:
            return None  # the verification says why
        issued = raw.get("iat")
        if not isinstance(issued, int):
            return None
        log.info("clock not synchronised: the code's validity times are not checked here; the"
                 " enrollment service checks them")  # fmt: skip
        return float(issued)

    def _refuse(self, qr_text: str, reason: str, detail: str) -> ScanOutcome:
        first = (qr_text, reason) not in self._said
        level = logging.WARNING if first else logging.DEBUG
        log.log(level, "provisioning code refused: %s: %s", reason, detail)
        return self._tell(qr_text, "refused", "provisioning_refused", reason, detail)

    def _failed(self, reason: str, detail: str = "") -> ScanOutcome:
        message = announce("provisioning_failed", self.config.terminal.language, reason=reason)
        log.warning("%s (%s)", message, detail or "no detail")
        return ScanOutcome("failed", reason, detail, message)

    def _tell(
        self, qr_text: str, kind: OutcomeKind, phrase: str, reason: str, detail: str = ""
    ) -> ScanOutcome:
        """Say ``phrase`` the first time ``qr_text`` comes to ``reason``; the outcome anyway."""
        message = None
        if (qr_text, reason) not in self._said:
            self._said.add((qr_text, reason))
            message = announce(phrase, self.config.terminal.language, reason=reason)
            log.info("%s", message)
        return ScanOutcome(kind, reason, detail, message)
