"""MQTT behind a small interface: one v5 connection owned by one thread
(:class:`~common.mqtt.link.MqttLink`; paho's callbacks only record), its options and events,
broker URLs, and the topic layout both sides use.

Imports nothing of ours but :mod:`common.errors` and :mod:`models`.
"""
