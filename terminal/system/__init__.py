"""The machine as the kiosk sees it: whether the clock is synchronised, and systemd's
notification protocol (readiness, watchdog, status). Imports nothing of ours but :mod:`common`.
"""
