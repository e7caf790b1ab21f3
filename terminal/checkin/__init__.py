"""The check-in pipeline: frames in, decisions out, check-ins committed to the outbox.

Holds the pipeline itself, how faces and QR codes become a check-in (confirmation, no
repeats, verification modes), QR badges and signed codes, presence gating, and what a
check-in means for attendance (direction and verdict).

May import :mod:`terminal.face`, :mod:`terminal.store`, :mod:`terminal.config`,
:mod:`common`, :mod:`models` and :mod:`drivers`; never :mod:`terminal.sync`.
"""
