"""The reference receiver: kiosks' event batches validated against the published JSON
Schemas, each check-in stored once by ``event_id`` in its own database, then acknowledged.

May import :mod:`common` and :mod:`models`.
"""
