"""The onboarding service of scan-to-provision: a kiosk's certificate request (CSR and the
provisioning code's one-time token) in, a client certificate or a refusal out, each token
claimed once. (Enrolling *faces* is :mod:`terminal.face.enrollment`; this is certificates.)

May import :mod:`common` and :mod:`models`.
"""
