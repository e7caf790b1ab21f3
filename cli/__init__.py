"""The ``kiosk`` command: one click group (:mod:`cli.main`) wiring sub-commands to the kiosk
(:mod:`terminal`), the central side (:mod:`central`) and the developer tools
(:mod:`devtools`). A sub-command's module is imported only when it runs, so a kiosk-only or
central-only install runs its own commands.

May import everything; nothing imports it.
"""
