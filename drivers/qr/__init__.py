"""QR code readers behind one interface (``base.QrDecoder``)."""

from drivers.qr.base import QrDecoder, QrDecoderUnavailable

__all__ = ["QrDecoder", "QrDecoderUnavailable"]
