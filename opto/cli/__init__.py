"""The ``opto`` command line: ``opto show|report|resume|doctor|estimate`` (see docs/cli.md).

``main(argv)`` parses and runs one command and returns its exit code (``opto.cli.errors``).
"""

from opto.cli.main import main

__all__ = ["main"]
