"""``python -m terminal`` is the ``kiosk`` command."""

from terminal.cli import main

raise SystemExit(main())
