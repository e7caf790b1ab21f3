"""``kiosk bench``: recognition, QR, liveness, sync and the screen, each measured beside its
naive baseline in the same run, printed as JSON. May import everything of ours but :mod:`cli`.
"""
