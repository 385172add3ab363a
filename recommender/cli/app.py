"""The root `taskprof` group and the one place where failures become messages and exit codes.

Exit codes, the same for every command: 0 done; 1 the operation failed (Ollama down, a pull failed,
the user declined); 2 a bad argument or usage; 130 interrupted (Ctrl-C, at a prompt too).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from recommender.errors import InputError, TaskprofError

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130  # 2, a usage error, is click's own

def _mapped(ctx: click.Context, invoke: Callable[[], Any]) -> Any:
    """Run a command; a core error becomes click's usage error (exit 2) or a one-line failure (exit 1),
    reported with this command's own context so the usage line is the subcommand's."""
    try:
        return invoke()
    except InputError as exc:
        raise click.UsageError(str(exc), ctx=ctx) from None
    except TaskprofError as exc:
        raise click.ClickException(str(exc)) from None


class TaskprofCommand(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        return _mapped(ctx, lambda: click.Command.invoke(self, ctx))


class TaskprofGroup(click.Group):
    command_class = TaskprofCommand
    group_class = type  # subgroups are TaskprofGroups too

    def invoke(self, ctx: click.Context) -> Any:
        return _mapped(ctx, lambda: click.Group.invoke(self, ctx))


# Each top-level command and the module that defines it. A module is imported only when its command
# runs (or help lists them all), so `taskprof suggest` does not pay for the options of twelve others.
COMMANDS = {
    "suggest": "cmd_suggest:suggest_cmd",
    "profiles": "cmd_profiles:profiles_cmd",
    "install": "cmd_ollama:install_cmd",
    "status": "cmd_ollama:status_cmd",
    "remove": "cmd_ollama:remove_cmd",
    "update": "cmd_ollama:update_cmd",
    "ask": "cmd_ollama:ask_cmd",
    "bench": "cmd_bench:bench_cmd",
    "correct": "cmd_learn:correct_cmd",
    "train": "cmd_learn:train_cmd",
    "usage": "cmd_usage:usage_cmd",
    "config": "cmd_config:config_cmd",
    "serve": "cmd_serve:serve_cmd",
    "export": "cmd_export:export_group",
}


class RootGroup(TaskprofGroup):
    """The `taskprof` group: its commands are loaded from COMMANDS on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            import importlib

            module, attr = COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(f"recommender.cli.{module}"), attr), name)
        return self.commands.get(name)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=RootGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="taskprof", prog_name="taskprof")
def cli() -> None:
    """Pick the right local LLMs for a task and install them with Ollama.

    \b
    Examples:
      taskprof suggest "review this contract"
      taskprof profiles
      taskprof install programming --tier fast

    \b
    Exit codes: 0 done, 1 the operation failed or was declined, 2 bad usage, 130 interrupted.
    """


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and turns every way out into one exit code."""
    # taskprof's arrays are small: a second OpenBLAS thread only spins, on the core the process needs
    # for reading its files (half a cold suggest's CPU time, ~8% of its wall time). Set before numpy
    # is imported (command modules load lazily); the user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        # Not standalone: click returns an explicit exit code (--help, --version) instead of exiting,
        # and lets its exceptions through, so that they all meet the one table below.
        code = cli.main(args=args, prog_name="taskprof", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        # click turns Ctrl-C and end of input inside a command into Abort; the chained exception tells which.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        click.echo("Aborted: no answer." if isinstance(cause, EOFError) else "Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # Output piped into `head` and the reader left: not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
