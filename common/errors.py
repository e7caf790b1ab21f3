"""The one exception hierarchy of the terminal.

Every error the terminal raises on purpose derives from :class:`KioskError`; its message is one
readable line that names what is wrong and, where possible, what to do. The CLI prints it as is
and exits non-zero.
"""


class KioskError(Exception):
    """Base class of every deliberate terminal error."""


class ConfigError(KioskError):
    """The configuration file is missing, unreadable or invalid."""


class StoreError(KioskError):
    """The local database cannot be opened, read or written."""


class StoreFullError(StoreError):
    """The disk (or the database's size limit) is full: new check-ins are refused."""


class StoreCorruptError(StoreError):
    """The database file is damaged; it is quarantined, never silently replaced."""


class EnrollmentError(KioskError):
    """A photo cannot be used to enroll a person (no face, several faces, too small...)."""


class ImageError(KioskError):
    """An image file cannot be read or decoded."""


class UnknownPersonError(KioskError):
    """A command names a person who is not enrolled."""


class CameraError(KioskError):
    """The camera cannot be opened or stopped delivering frames."""


class FaceEngineError(KioskError):
    """The face engine (models, native library) cannot be loaded or used."""


class MessageError(KioskError):
    """An MQTT message is malformed, oversized or does not match its schema."""


class BrokerError(KioskError):
    """The MQTT broker cannot be reached or refused the connection."""


class RosterError(MessageError):
    """A roster from the central system is refused; ``kind`` names the check it failed."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class RecordError(KioskError):
    """An HR record (leave, a correction) is refused: malformed, or contradicting what is
    stored (voiding an unknown or already voided check-in)."""


class UnknownRecordError(RecordError):
    """A command names a leave period or a check-in that is not stored."""
