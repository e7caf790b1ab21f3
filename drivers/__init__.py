"""Hardware adapters: one small interface per kind, one file per implementation.

Nothing here imports anything of ours (checked by ``lint-imports``); vendor SDKs are imported
lazily so that everything imports on a laptop.
"""
