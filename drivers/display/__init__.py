"""What the person in front of the kiosk sees and hears: the display interface and its
implementations (:mod:`drivers.display.web`: a page served to Chromium in kiosk mode)."""
