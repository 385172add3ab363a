"""The taskprof command line. Each command parses, calls one core function, renders, and maps errors.

This package is the only place that imports click. The root group (app.py) loads each command's
module when that command is used; no command module imports another.
"""

from recommender.cli.app import cli, main

__all__ = ["cli", "main"]
