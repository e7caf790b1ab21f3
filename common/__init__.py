"""What the kiosk and the central side share: the one exception hierarchy
(:mod:`common.errors`), SQLite opened our way (:mod:`common.sqlite`), the MQTT link, topics and
broker URLs (:mod:`common.mqtt`), and the schedule rules both judge attendance by
(:mod:`common.shift_rules`, :mod:`common.schedule_file`).

Imports :mod:`models` only: never :mod:`terminal`, :mod:`central`, :mod:`devtools`, :mod:`cli`
or :mod:`drivers`.
"""
