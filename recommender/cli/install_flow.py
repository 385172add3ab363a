"""The install conversation shared by `install`, `suggest --install`, `usage auto-install` and
suggest's auto-install: show the plan, check the disk, ask, pull with progress, summarise.

Plans and progress go to stderr; the caller decides where the summary goes (stdout for `install`,
stderr where the command's result is something else) and what the exit code is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from recommender.cli.common import GB, confirm, note, progress_reporter
from recommender.cli.render import gb, style, table
from recommender.errors import InstallRefused

if TYPE_CHECKING:
    from recommender.api import InstallOutcome, InstallPlan, Taskprof
    from recommender.types import InstallTier


def render_plan(plan: InstallPlan) -> None:
    servers = ", ".join(f"{s.host} (Ollama {s.version})" for s in plan.servers)
    tiers = "; ".join(f"{name}: {' + '.join(t)}" for name, t in plan.tiers.items())
    note(f"Plan for {style(', '.join(plan.profiles), bold=True)} on {servers} ({tiers}):")
    rows = []
    for m in plan.models:
        state = style("installed", fg="green") if m.installed else "to download"
        row = [m.ref, "/".join(m.tiers), gb(m.size_gb), state, ", ".join(dict.fromkeys(m.used_by))]
        rows.append(row + ([m.host] if len(plan.servers) > 1 else []))
    headers = ["model", "tier", "size", "state", "used by"] + (["server"] if len(plan.servers) > 1 else [])
    note(table(headers, rows, right=(2,)))
    for profile, tier, why in plan.left_out:
        note(f"Left out: {profile}'s {tier} tier: {why}")
    missing = plan.missing
    note(f"To download: {gb(plan.download_bytes() / GB)} in {len(missing)} model{'s' if len(missing) != 1 else ''}; "
         f"{len(plan.models) - len(missing)} already installed.")
    for s in plan.servers:
        if s.free_bytes is None:
            note(f"{s.host} is remote: its free disk is not checked.")
        else:
            note(f"Free disk where Ollama keeps models ({s.models_dir}): {gb(s.free_bytes / GB)}.")


def run_install(core: Taskprof, names: list[str], tier: InstallTier, *, yes: bool, dry_run: bool,
                quiet: bool = False) -> InstallOutcome | None:
    """Plan and, with consent, install. None for a dry run. Ctrl-C says what finished, then propagates."""
    return plan_and_install(core, names, tier, yes=yes, dry_run=dry_run, quiet=quiet)[1]


def plan_and_install(core: Taskprof, names: list[str], tier: InstallTier, *, yes: bool, dry_run: bool,
                     quiet: bool = False) -> tuple[InstallPlan, InstallOutcome | None]:
    """The plan shown and what installing it did (None for a dry run)."""
    plan = core.plan_install(names, tier)
    if not quiet:
        render_plan(plan)
    problem = plan.disk_problem
    if problem:
        raise InstallRefused(problem)
    if dry_run:
        note("Dry run: nothing was downloaded.")
        return plan, None
    if plan.missing:
        need = gb(plan.download_bytes() / GB)
        confirm(f"Download {need}?", yes=yes, default=True,
                refusal=f"not downloading {need} without a yes: run this in a terminal, or add --yes")
    reporter = progress_reporter(quiet)
    try:
        return plan, core.install(plan, reporter)
    except KeyboardInterrupt:
        reporter.close()
        done = ", ".join(reporter.finished) or "none"
        note(f"\nInterrupted while pulling {reporter.ref}. Finished: {done}. "
             "Run the same command again to resume where it stopped.")
        raise
    finally:
        reporter.close()


def summary(outcome: InstallOutcome, *, err: bool) -> None:
    def say(line: str) -> None:
        click.echo(line, err=err)

    if not outcome.installed and not outcome.failed and not outcome.not_started:
        say(style("Everything is already installed.", fg="green"))
    if outcome.installed:
        say(style("Installed: ", fg="green", bold=True) + ", ".join(outcome.installed))
    if outcome.present:
        say("Already present: " + ", ".join(outcome.present))
    for ref, why in outcome.failed.items():
        say(style("Failed: ", fg="red", bold=True) + f"{ref}: {why}")
    if outcome.not_started:
        say("Not attempted (Ollama went away): " + ", ".join(outcome.not_started))
    if outcome.resumable:
        say("Run the same command again: finished models are skipped and interrupted ones resume.")


def outcome_json(outcome: InstallOutcome | None, plan: InstallPlan | None = None) -> dict[str, Any]:
    """`--json` of an install: what it did, and the plan it followed (a dry run: the plan alone)."""
    shown = {} if plan is None else {"plan": plan.to_json()}
    return {"dry_run": True, **shown} if outcome is None else {**outcome.to_json(), **shown}

