"""``python -m cli`` is the ``kiosk`` command."""

from cli.main import main

raise SystemExit(main())
