"""The reference central server: what an HR system does with the kiosks' stream.

- :mod:`central.receiver`: stores every check-in once and acknowledges it.
- :mod:`central.reports`: shift and training-session attendance (text, CSV, XLSX, PNG).
- :mod:`central.alerts`: absence and low-participation alerts, published once each.
- :mod:`central.rosters`: signed rosters published to kiosks, kept current.
- :mod:`central.commands`: signed commands to one kiosk and their results.
- :mod:`central.onboarding`: the certificate service of scan-to-provision.

May import :mod:`common` and :mod:`models` only: never :mod:`terminal`, :mod:`drivers`,
:mod:`devtools` or :mod:`cli` (checked by ``lint-imports``), so it installs without OpenCV.
"""
