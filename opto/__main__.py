"""``python -m opto``: the ``opto`` command."""

from opto.cli import main

raise SystemExit(main())
