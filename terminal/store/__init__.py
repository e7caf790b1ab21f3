"""``kiosk.db``: its schema and migrations, the outbox of check-ins, the gallery of enrolled
people, rosters, commands carried out, settings set centrally, retention.

The store is the only hand-off between the pipeline and the sync: both import it, it imports
neither. May import :mod:`terminal.config`, :mod:`common` and :mod:`models`; never the
pipeline, the face work, the sync, the output or :mod:`drivers`.
"""
