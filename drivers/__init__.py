"""Hardware adapters: one small interface per kind, one file per implementation.

Nothing here imports from ``terminal``; vendor SDKs are imported lazily so that everything
imports on a laptop.
"""
