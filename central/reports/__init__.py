"""Attendance reports from the receiver's database: daily shifts (late, early leave,
absence) and training sessions (minutes present, participation), as text, CSV, XLSX and PNG.

May import :mod:`central.receiver`'s store, :mod:`common` and :mod:`models`.
"""
