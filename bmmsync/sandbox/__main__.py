"""`python -m bmmsync.sandbox [options]`: the same as `bmmsync sandbox serve`."""

import typer

from bmmsync.cli.sandbox import serve

typer.run(serve)
