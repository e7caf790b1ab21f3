"""The kiosk: camera -> pipeline -> store (the outbox) -> sync -> broker.

:mod:`terminal.daemon` starts it (one ordered method, one stop event) and
:mod:`terminal.camera_loop` feeds it frames. One sub-package per concern:

- :mod:`terminal.config`: ``kiosk.toml``, declared once and validated strictly.
- :mod:`terminal.checkin`: the pipeline: frames in, decisions out, check-ins committed.
- :mod:`terminal.face`: faces across frames: quality, tracks, matching, liveness, pairing,
  enrollment of face templates from photos.
- :mod:`terminal.store`: ``kiosk.db``: its schema, the outbox, the gallery, rosters, settings.
- :mod:`terminal.sync`: the MQTT uplink and what arrives over it (acks, rosters, commands).
- :mod:`terminal.output`: what the person in front of the kiosk sees and hears.
- :mod:`terminal.provisioning`: setting a kiosk up, from the command line or a scanned code.
- :mod:`terminal.doctor`: ``kiosk doctor``'s checks.
- :mod:`terminal.system`: the clock and systemd as the kiosk sees them.

May import :mod:`common`, :mod:`models` and :mod:`drivers`; never :mod:`central`,
:mod:`devtools` or :mod:`cli` (checked by ``lint-imports``, see ``.importlinter``). Data flows one
way: the pipeline never imports the sync, and the sync never imports the pipeline, the face
work or the camera; the store is their only hand-off.
"""

__version__ = "0.1.0"
