"""Setting a kiosk up: ``kiosk provision`` from the command line, and scan-to-provision (a
signed provisioning code read by the camera, then a client certificate from the central
side's onboarding service), with the state that leaves on the kiosk.

May import :mod:`terminal.config`, :mod:`terminal.checkin`'s key loading, :mod:`terminal.system`,
:mod:`common`, :mod:`models` and the camera and QR drivers.
"""
