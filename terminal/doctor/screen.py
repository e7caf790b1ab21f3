"""``kiosk doctor``'s screen line: is the kiosk page served, is a screen showing it, can it
render Chinese names.

- the page: ``GET /healthz`` on ``[ui] listen`` answers while the daemon runs and says how many
  screens are connected; nobody connected means the screen (``kiosk-screen.service``) is not
  showing it;
- the font: ``fc-list :lang=zh`` must name a font, or Chinese names are drawn as boxes.

Both are warnings, never failures: the kiosk checks people in without its screen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request

from terminal.config import Config
from terminal.doctor.result import CheckResult, passed, warned

NAME = "screen"
TIMEOUT_S = 2.0
FONT_HINT = "apt-get install fonts-noto-cjk (Noto Sans CJK SC)"


def cjk_font() -> str | None:
    """The first font fontconfig has for Chinese, or None."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    families = [line.split(",")[0].strip() for line in listed.stdout.splitlines() if line.strip()]
    return sorted(families)[0] if families else None


def check_screen(config: Config) -> CheckResult:
    """Whether the page is served and watched, and a CJK font is installed."""
    ui = config.ui
    if not ui.enabled:
        return passed(NAME, "off ([ui] enabled = false)", enabled=False)
    font = cjk_font()
    url = f"http://{ui.listen}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            health = json.loads(response.read())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return warned(
            NAME,
            f"the page is not served at http://{ui.listen}/ ({reason})",
            "start the kiosk (systemctl start kiosk): the daemon serves the page",
            served=False,
            cjk_font=font,
        )
    clients = int(health.get("clients", 0))
    if font is None:
        detail = f"served at http://{ui.listen}/, but no CJK font: Chinese names show as boxes"
        return warned(NAME, detail, FONT_HINT, served=True, screens=clients, cjk_font=None)
    if clients == 0:
        return warned(
            NAME,
            f"served at http://{ui.listen}/ but no screen shows it",
            "start the screen (systemctl start kiosk-screen) and check the display cable",
            served=True,
            screens=0,
            cjk_font=font,
        )
    detail = f"served at http://{ui.listen}/ to {clients} screen(s); font {font}"
    return passed(NAME, detail, served=True, screens=clients, cjk_font=font)
