"""The root `taskprof` group and the one place where core errors become one-line messages."""

from __future__ import annotations

import os
import sys

import click

from recommender.errors import InputError, TaskprofError


class TaskprofGroup(click.Group):
    """A group that turns every TaskprofError raised below it into a one-line message and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            # Bad text or flags from the user: a usage error, exit 2, like click's own.
            raise click.UsageError(str(exc), ctx=ctx) from None
        except TaskprofError as exc:
            raise click.ClickException(str(exc)) from None


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=TaskprofGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="taskprof", prog_name="taskprof")
def cli() -> None:
    """Pick the right local LLMs for a task and install them with Ollama.

    \b
    Examples:
      taskprof suggest "review this contract"
      taskprof profiles
      taskprof install programming --tier fast
    """


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="taskprof")
    except BrokenPipeError:
        # Output piped into `head` and the reader left: not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
