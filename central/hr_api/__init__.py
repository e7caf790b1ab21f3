"""The HR system's read-only HTTP API: check-ins after a cursor, daily shift and training-session
attendance, and the terminals' status, over HTTP with bearer tokens (TLS from a reverse proxy).

- :mod:`central.hr_api.auth`: the tokens, read from a file, and the check of each request.
- :mod:`central.hr_api.statuses`: the terminals' retained status, followed over MQTT.
- :mod:`central.hr_api.routes`: the endpoints (aiohttp), described by ``openapi.json``.
- :mod:`central.hr_api.service`: start-up and shut-down of the whole service.

May import :mod:`common`, :mod:`models` and the other central packages; never the kiosk,
the drivers, the tools or the CLI (checked by ``lint-imports``).
"""
