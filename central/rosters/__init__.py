"""The central side of rosters: the people (from a file or a gallery export), publishing signed
chunks to kiosks, and following kiosks that report an older version.

May import :mod:`common` and :mod:`models`.
"""
