"""What the command modules share: options, reading the task, prompts, warnings, progress bars.

No command module imports another; what two of them need lives here or in the core.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from recommender.cli.render import echo_warnings, gb
from recommender.errors import InputError, InstallRefused

if TYPE_CHECKING:
    from recommender.api import Taskprof

GB = 1_000_000_000
FC = TypeVar("FC", bound=Callable[..., Any])


# --- options ----------------------------------------------------------------------------------


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for profile names (bundled and the user's)."""
    try:
        from recommender.api import profile_names

        return [name for name in profile_names() if name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the user's shell
        return []


def profile_argument(name: str = "profile", **kwargs: Any) -> Callable[[FC], FC]:
    return click.argument(name, shell_complete=complete_profiles, **kwargs)


host_option = click.option(
    "--host", metavar="URL",
    help="The Ollama server for both tiers (default: the fast_host/quality_host settings, OLLAMA_HOST, 127.0.0.1:11434).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on standard output.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
no_log_option = click.option("--no-log", is_flag=True, help="Do not record this command in the usage log.")
memory_option = click.option(
    "--memory", metavar="SIZE", help="Judge fit for a machine with SIZE of memory, e.g. 64GB (also TASKPROF_MEMORY)."
)
INSTALL_TIERS = click.Choice(["fit", "fast", "quality", "all"])
TIERS = click.Choice(["fast", "quality", "all"])


def session(*, host: str | None = None, memory: str | None = None, no_log: bool = False,
            encoder: str = "static") -> Taskprof:
    from recommender.api import Taskprof

    return Taskprof(host=host, memory=memory, log=not no_log, encoder=encoder)


# --- streams --------------------------------------------------------------------------------------


def warn(message: str | None) -> None:
    if message:
        echo_warnings([message])


def show_warnings(core: Taskprof) -> None:
    """Everything the core had to say on the side: on stderr, so stdout stays the result."""
    echo_warnings(core.drain_warnings())


def note(message: str) -> None:
    """A line for the person, not the result: stderr."""
    click.echo(message, err=True)


def read_stdin_text() -> str:
    """All of stdin as text; undecodable bytes are a one-line error, not a traceback."""
    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def task_text(words: tuple[str, ...]) -> str:
    """The task from the arguments, else from piped standard input; "" when there is neither.
    Standard input piped or redirected from a file that holds no text is a usage error (exit 2)."""
    if words:
        return " ".join(words)
    if sys.stdin.isatty():
        return ""
    text = read_stdin_text()
    if not text.strip() and _stdin_is_pipe_or_file():
        raise InputError('standard input is empty: pipe a task description, e.g. '
                         'echo "review this contract" | taskprof suggest')
    return text


def _stdin_is_pipe_or_file() -> bool:
    import os
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # no real descriptor (an embedding, a test runner)
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def piped_stdin() -> str | None:
    """Standard input when something was piped or redirected into it; None at a terminal, and None
    for an inherited stdin that is neither a pipe nor a file (reading it could wait for ever)."""
    if sys.stdin.isatty():
        return None
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, io.UnsupportedOperation):
        mode = None  # not a real descriptor (an in-process test runner): read what it holds
    if mode is not None and not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return None
    return read_stdin_text() or None


def confirm(question: str, *, yes: bool, refusal: str, default: bool = False) -> None:
    """Ask on a terminal (prompt on stderr); without one, refuse rather than hang, unless --yes.
    A "no" is InstallRefused (exit 1); Ctrl-C at the prompt propagates (exit 130)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InstallRefused(refusal)
    if not click.confirm(question, default=default, err=True):
        raise InstallRefused("cancelled: nothing was changed")


# --- progress -------------------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


class PlainProgress:
    """For logs and pipes: a line when a model starts, at each quarter, and when it ends (stderr)."""

    def __init__(self) -> None:
        self.ref = ""
        self.quarter = -1
        self.started = 0.0
        self.total = 0
        self.finished: list[str] = []

    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        self.ref, self.quarter, self.started, self.total = ref, -1, time.monotonic(), 0
        click.echo(f"pulling {ref} (~{gb(estimate_bytes / GB)}) from {host}", err=True)

    def update(self, completed: int, total: int) -> None:
        self.total = total
        quarter = int(4 * completed / total) if total else 0
        if quarter > self.quarter and quarter < 4:
            self.quarter = quarter
            click.echo(f"  {self.ref}: {25 * quarter:3d}% of {human_bytes(total)}", err=True)

    def finish(self, ok: bool) -> None:
        seconds = max(time.monotonic() - self.started, 1e-6)
        speed = f", {human_bytes(self.total / seconds)}/s on average" if ok and self.total else ""
        click.echo(f"  {self.ref}: {'done' if ok else 'stopped'} in {seconds:.1f} s{speed}", err=True)
        if ok:
            self.finished.append(self.ref)

    def close(self) -> None:
        pass


class RichProgress(PlainProgress):
    """On a terminal: one live bar per model, bytes, speed and time left summed over its layers.

    The bar's total is the larger of the layers seen so far and the catalogue's size, so it does not
    jump back when the small layers after the weights appear; a finished bar shows the average speed.
    """

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(), console=Console(stderr=True),
        )
        self.progress.start()
        self.task: Any = None
        self.estimate = 0

    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        self.ref, self.started, self.total, self.estimate = ref, time.monotonic(), 0, estimate_bytes
        self.task = self.progress.add_task(ref, total=estimate_bytes or None, speed="")

    def update(self, completed: int, total: int) -> None:
        self.total = total
        seconds = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(self.task, completed=completed, total=max(total, self.estimate),
                             speed=f"{human_bytes(completed / seconds)}/s")

    def finish(self, ok: bool) -> None:
        seconds = max(time.monotonic() - self.started, 1e-6)
        if ok:
            self.finished.append(self.ref)
            done = self.total or self.estimate
            self.progress.update(self.task, completed=done, total=done,
                                 speed=f"{human_bytes(done / seconds)}/s avg")
        else:
            self.progress.update(self.task, description=f"[red]{self.ref} (failed)")

    def close(self) -> None:
        self.progress.stop()


def progress_reporter(quiet: bool = False) -> PlainProgress:
    if quiet:
        return QuietProgress()
    return RichProgress() if sys.stderr.isatty() else PlainProgress()


class QuietProgress(PlainProgress):
    """--quiet: nothing while pulling; the result lines still say what happened."""

    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        self.ref = ref

    def update(self, completed: int, total: int) -> None:
        pass

    def finish(self, ok: bool) -> None:
        if ok:
            self.finished.append(self.ref)
