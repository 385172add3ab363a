"""`taskprof suggest`: a task description in, the right profile and models out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from recommender.cli import install_flow
from recommender.cli.app import TaskprofCommand
from recommender.cli.common import (
    INSTALL_TIERS,
    host_option,
    json_option,
    memory_option,
    no_log_option,
    note,
    read_stdin_text,
    session,
    show_warnings,
    task_text,
    warn,
    yes_option,
)
from recommender.cli.render import echo_json, gb, style
from recommender.errors import InputError, TaskprofError
from recommender.types import ENCODERS, Decision, InstallTier

if TYPE_CHECKING:
    from recommender.api import Taskprof

BATCH_CHUNK = 1024


def render(d: Decision) -> None:
    """The suggestion on stdout; notes and hints on stderr."""
    others = ", ".join(f"{a.profile} {a.confidence:.2f}" for a in d.alternatives)
    if d.language_note:
        click.echo(style("Not read: ", fg="yellow", bold=True) + d.language_note)
        click.echo(f"Falling back to the general profile: {style(d.chosen_profile, bold=True)}")
    elif d.abstained:
        click.echo(style("No task profile fits this well.", fg="yellow", bold=True)
                   + f" Closest: {d.profile} {d.confidence:.2f}, {others}")
        click.echo(f"Falling back to the general profile: {style(d.chosen_profile, bold=True)}")
    else:
        click.echo(f"{style(d.profile, fg='green', bold=True)}  confidence {d.confidence:.2f}")
        click.echo(f"  runner-up: {others}")
        if d.history_decided:
            click.echo(f"  (a close call: your usage history chose {d.profile} over {d.alternatives[0].profile})")
    if d.focus:
        click.echo(f"  read from the request: \"{_short(d.focus)}\""
                   + (f" (pasted {d.payload_kind} around it)" if d.payload_kind else ""))
    click.echo()
    for model in d.models:
        mark = style("  <- start here", fg="cyan") if model.tier == d.recommended_tier else ""
        pace = (f"{model.measured_seconds:.1f} s/answer measured" if model.measured_seconds is not None
                else "~{}-{} s/answer expected".format(*model.expected_seconds))
        click.echo(f"  {model.tier:<8} {style(model.ref, bold=True)} ({gb(model.size_gb)}, {pace}){mark}")
        click.echo(f"           {model.purpose}")
    click.echo()
    if d.tier_fits:
        click.echo(f"Start with the {d.recommended_tier} model: {d.tier_reason}")
    else:
        click.echo(style("Neither tier fits this machine well: ", fg="yellow") + d.tier_reason)
    if d.tier_hint:
        click.echo(f"  {d.tier_hint}")
    if d.similar and not d.abstained:
        click.echo("Similar to: " + "; ".join(f'"{x.text}"' for x in d.similar))
    if d.truncated:
        note(style(f"Note: the text is longer than the encoder reads: only its first {d.max_tokens} tokens were used",
                   dim=True))
    if d.personal:
        note(style("Note: classified with your personal model (taskprof train --reset goes back to the shipped one)",
                   dim=True))
    fix = f"taskprof correct --id {d.id} PROFILE" if d.id is not None else "taskprof correct --text \"...\" PROFILE"
    note(style(f"Install: taskprof install {d.chosen_profile}    Wrong profile? {fix}", dim=True))


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.command("suggest", cls=TaskprofCommand)
@click.argument("text", nargs=-1)
@json_option
@click.option("--batch", is_flag=True, help="Classify one task per stdin line; print one JSON object per line.")
@click.option("--encoder", type=click.Choice(ENCODERS), default="static", show_default=True,
              help="'full' runs the original sentence-transformer (needs the train extra): the accuracy reference.")
@memory_option
@click.option("--install", "do_install", is_flag=True, help="Install the suggested profile's models through Ollama.")
@click.option("--tier", type=INSTALL_TIERS, help="With --install: which tier(s) to pull (default: what fits).")
@yes_option
@click.option("--dry-run", is_flag=True, help="With --install: show the plan, download nothing.")
@host_option
@no_log_option
def suggest_cmd(text: tuple[str, ...], as_json: bool, batch: bool, encoder: str, memory: str | None,
                do_install: bool, tier: InstallTier | None, yes: bool, dry_run: bool, host: str | None,
                no_log: bool) -> None:
    """Suggest the profile for a task described in plain words.

    The text comes from the arguments, or from standard input when piped. With no text at all,
    shows the profiles you use most. Every logged suggestion gets an id for `taskprof correct --id`.

    \b
    Examples:
      taskprof suggest "review this contract"
      taskprof suggest --json "write a SQL query for monthly revenue"
      echo "design a rate limiter" | taskprof suggest
      taskprof suggest --batch < tasks.txt > suggestions.jsonl
      taskprof suggest --install --tier fast "refactor this python class"
    """
    if not do_install and (tier or yes or dry_run):
        raise click.UsageError("--tier, --yes and --dry-run go with --install")
    core = session(host=host, memory=memory, no_log=no_log, encoder=encoder)
    if batch:
        if text or do_install:
            raise click.UsageError("--batch reads tasks from standard input; it takes no TEXT and no --install")
        run_batch(core)
        return
    joined = task_text(text)
    if not text and not joined.strip():
        show_history(core, as_json)
        return
    # Logged before anything is printed: a reader that hangs up (| head) must not lose the event.
    decision = core.decide(joined).log(core)
    if as_json and do_install:
        # One document: the suggestion and what installing it did, printed once the install is over.
        plan, outcome = install_flow.plan_and_install(core, [decision.chosen_profile], tier or "fit", yes=yes,
                                                      dry_run=dry_run)
        echo_json({**decision.to_json(), "install": install_flow.outcome_json(outcome, plan)})
        if outcome is not None:
            install_flow.summary(outcome, err=True)
        show_warnings(core)
        if outcome is not None and not outcome.ok:
            raise click.exceptions.Exit(1)
        return
    if as_json:
        echo_json(decision.to_json())
    else:
        render(decision)
    show_warnings(core)
    if do_install:
        outcome = install_flow.run_install(core, [decision.chosen_profile], tier or "fit", yes=yes, dry_run=dry_run)
        if outcome is not None:
            install_flow.summary(outcome, err=True)
            show_warnings(core)
            if not outcome.ok:
                raise click.exceptions.Exit(1)
    elif decision.id is not None:
        _auto_install(core, decision)


def _auto_install(core: Taskprof, decision: Decision) -> None:
    """`config set auto_install true`: pull the missing tier of a profile suggested often enough.
    Everything it says goes to stderr, and nothing it meets changes suggest's exit code."""
    due = core.auto_install_due(decision)
    if due is None:
        show_warnings(core)
        return
    name, tier = due
    note(f"\nauto-install is on and '{name}' has been suggested often enough: installing its {tier} tier.")
    try:
        outcome = install_flow.run_install(core, [name], tier, yes=True, dry_run=False)
        if outcome is not None:
            install_flow.summary(outcome, err=True)
    except TaskprofError as exc:
        warn(f"auto-install failed: {exc}")
    show_warnings(core)


def show_history(core: Taskprof, as_json: bool) -> None:
    """No text: the profiles this user relies on most, which tiers are installed, how to install the rest."""
    used = core.history()
    if not used.profiles and not as_json:
        raise InputError('no task given: describe it, e.g. taskprof suggest "review this contract"')
    if as_json:
        echo_json(used.to_json())
        show_warnings(core)
        return
    click.echo("No task given. The profiles you use most:")
    for u in used.profiles:
        t = u.installed
        mark = "install state unknown" if t is None else "not installed" if t == "no" else f"installed: {t}"
        click.echo(f"  {u.profile:<24} {u.uses:>5} {'use' if u.uses == 1 else 'uses'}  "
                   f"last {u.last_used[:16].replace('T', ' ')}  {mark}")
    if used.missing:
        note(f"Install the missing ones: taskprof install {' '.join(used.missing)}")
    elif used.ollama_reachable is False:
        note("Ollama was not reachable, so the install state is unknown. To install them: "
             f"taskprof install {' '.join(u.profile for u in used.profiles)}")
    show_warnings(core)


def iter_lines(text: str) -> Iterator[str]:
    """--batch input: one task a line, whitespace collapsed."""
    for line in text.splitlines():
        yield " ".join(line.split())


def run_batch(core: Taskprof) -> None:
    """One task a line in, one JSON object a line out. The same decide() as a single suggestion."""
    lines = list(iter_lines(read_stdin_text()))
    out = sys.stdout
    for start in range(0, len(lines), BATCH_CHUNK):
        chunk = lines[start:start + BATCH_CHUNK]
        decisions = iter(core.decide_many([t for t in chunk if t]))
        for line in chunk:
            if not line:
                out.write(json.dumps({"text": "", "error": "empty line"}) + "\n")
                continue
            out.write(json.dumps(next(decisions).to_json(), ensure_ascii=False) + "\n")
    out.flush()
    show_warnings(core)
