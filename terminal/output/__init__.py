"""What the kiosk tells the person in front of it: the announcements catalogue (Chinese and
English), the screen's views, the lamps, buzzer and door relay, and the log lines.

May import :mod:`terminal.checkin`'s decisions, :mod:`terminal.config`, :mod:`common`,
:mod:`models` and the display and GPIO drivers; never :mod:`terminal.sync`.
"""
