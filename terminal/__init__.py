"""The attendance terminal daemon: camera -> pipeline -> store (outbox) -> sync -> broker."""

__version__ = "0.1.0"
