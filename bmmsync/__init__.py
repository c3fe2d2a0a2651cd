"""bmmsync: trace every backlog item up to the strategy it serves."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bmmsync")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
