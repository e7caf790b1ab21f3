"""The MQTT uplink: delivers the outbox until the central side acknowledges each event, and
handles what the central side sends the kiosk (acks, signed rosters, signed commands).

May import :mod:`terminal.store`, :mod:`terminal.config`, :mod:`terminal.system`,
:mod:`common` and :mod:`models`; never the pipeline (:mod:`terminal.checkin`), the face work
or any driver: what it needs from them (the diagnostics) the daemon hands it.
"""
