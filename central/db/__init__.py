"""The central side's databases behind one database URL: an SQLite file or PostgreSQL.

- :mod:`central.db.url`: ``sqlite:///central.db``, ``postgresql://...`` (or a plain path) parsed.
- :mod:`central.db.connection`: :class:`~central.db.connection.Database`, one connection with
  the SQL dialect's differences (placeholders, transactions, chunked reads, errors) in one place.
- :mod:`central.db.migrations`: a schema's numbered migrations applied at open, per dialect.

Each database schema stays owned by one module of its own package (the receiver's by
:mod:`central.receiver.schema`). May import :mod:`common` only.
"""
