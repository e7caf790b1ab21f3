"""The face work: quality gates, tracks across frames, matching, liveness by request,
faces confirming QR codes, and enrolling face templates from photos.

May import :mod:`terminal.store` (the gallery), :mod:`terminal.checkin`'s decisions and desk,
:mod:`terminal.config`, :mod:`common`, :mod:`models` and :mod:`drivers`; never
:mod:`terminal.sync`.
"""
