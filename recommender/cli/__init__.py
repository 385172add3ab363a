"""The taskprof command line. Each command parses, calls one core function, renders, and maps errors.

This package is the only place that imports click. Command modules register themselves on `cli`.
"""

from recommender.cli.app import cli, main

# Imported for their side effect: each module adds its commands to `cli`.
from recommender.cli import cmd_bench, cmd_config, cmd_learn, cmd_ollama, cmd_profiles, cmd_suggest, cmd_usage  # noqa: F401  isort: skip

__all__ = ["cli", "main"]
