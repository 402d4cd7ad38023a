"""The installed version of opto, read from the package metadata (pyproject.toml is the one
place it is written). A source tree that was never installed reports "0+unknown"."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opto")
except PackageNotFoundError:  # imported from a source tree without installing it
    __version__ = "0+unknown"
