"""Attendance alerts: which are due at a moment (a pure function of events and schedule), and
publishing each once on MQTT for the HR system.

May import :mod:`central.reports`, :mod:`central.receiver`, :mod:`common` and :mod:`models`.
"""
