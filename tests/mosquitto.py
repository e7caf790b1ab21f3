"""The tests' broker: the same local mosquitto launcher the demo uses."""

from devtools.local_broker import Mosquitto, free_port, wait_for_port

__all__ = ["Mosquitto", "free_port", "wait_for_port"]
