"""`taskprof install / status / remove / update / ask`: a profile's models on Ollama, and using them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from recommender.cli import install_flow
from recommender.cli.app import TaskprofCommand
from recommender.cli.common import (
    INSTALL_TIERS,
    TIERS,
    confirm,
    host_option,
    human_bytes,
    json_option,
    memory_option,
    no_log_option,
    note,
    piped_stdin,
    profile_argument,
    progress_reporter,
    session,
    show_warnings,
    yes_option,
)
from recommender.cli.render import echo_json, style, table
from recommender.types import InstallTier, Tier, TierSelection

if TYPE_CHECKING:
    from recommender.api import Status, Taskprof

TIER_NAMES: tuple[Tier, ...] = ("fast", "quality")


def _remind(core: Taskprof) -> None:
    """`config set update_every 7d`: the commands that talk to Ollama say once a day when an update is due."""
    message = core.update_reminder()
    if message:
        note(style(f"Note: {message}", dim=True))


# --- install --------------------------------------------------------------------------------------


@click.command("install", cls=TaskprofCommand)
@profile_argument("profiles", nargs=-1, required=True)
@click.option("--tier", type=INSTALL_TIERS, default="fit", show_default=True,
              help="fit: the tiers this machine can run; fast, quality, or all (both, even if they do not fit).")
@yes_option
@click.option("--dry-run", is_flag=True, help="Show the plan and the disk check; download nothing.")
@json_option
@host_option
@no_log_option
def install_cmd(profiles: tuple[str, ...], tier: InstallTier, yes: bool, dry_run: bool, as_json: bool, host: str | None,
                no_log: bool) -> None:
    """Pull the models of one or more profiles into Ollama.

    Shows a plan first on stderr (models, what is already installed, bytes to download with shared
    models counted once, free disk, tiers left out because they do not fit), asks before
    downloading, then pulls with a progress bar per model. Exit status 0 only if every model is
    present at the end.

    \b
    Examples:
      taskprof install programming
      taskprof install research writing --tier fast --yes
      taskprof install document-intelligence --tier all --dry-run
    """
    core = session(host=host, no_log=no_log)
    plan, outcome = install_flow.plan_and_install(core, list(profiles), tier, yes=yes, dry_run=dry_run)
    _remind(core)
    if as_json:
        echo_json(install_flow.outcome_json(outcome, plan))
    elif outcome is not None:
        install_flow.summary(outcome, err=False)
    show_warnings(core)
    if outcome is not None and not outcome.ok:
        raise click.exceptions.Exit(1)


# --- status ---------------------------------------------------------------------------------------


@click.command("status", cls=TaskprofCommand)
@json_option
@memory_option
@host_option
def status_cmd(as_json: bool, memory: str | None, host: str | None) -> None:
    """The Ollama servers, and for every profile which tiers are installed.

    Tiers this machine's memory cannot hold are marked with x; measured speed from `taskprof bench`
    and when each model was last pulled are shown. Exit status 1 when a server cannot be reached.

    \b
    Example:
      taskprof status --json
    """
    core = session(host=host, memory=memory)
    status = core.status()
    if status.ok:
        _remind(core)
    if as_json:
        echo_json(status.to_json())
    else:
        _render_status(status)
    show_warnings(core)
    failed = [s.error or s.host for s in status.servers if not s.reachable]
    if failed:
        raise click.ClickException("; ".join(failed))


def _render_status(status: Status) -> None:
    for s in status.servers:
        reach = style("reachable", fg="green") if s.reachable else style("not reachable", fg="red")
        tiers = " and ".join(s.tiers)
        click.echo(f"Ollama at {s.host} ({tiers} tier{'s' if len(s.tiers) > 1 else ''}): {reach}"
                   + (f", version {s.version}" if s.version else ""))
    machine = status.machine
    if machine.total_gb is not None:
        avail = f", {machine.available_gb:.0f} GB available" if machine.available_gb else ""
        gpu = f", GPU {machine.gpu_gb:.0f} GB" if machine.gpu_gb else ""
        unified = " (unified)" if machine.unified_memory else ""
        click.echo(f"Memory: {machine.total_gb:.0f} GB{unified}{avail}{gpu} ({machine.source}); "
                   "'x' marks a tier this machine cannot hold.")
    if machine.models_dir:
        click.echo(f"Free disk where Ollama keeps models ({machine.models_dir}): {machine.free_disk_gb:.1f} GB")
    rows = []
    for p in status.profiles:
        cells = [p.name, p.state]
        for tier in TIER_NAMES:
            t = p.tiers.get(tier)
            if t is None:
                cells.append("-")
                continue
            mark = "" if t.fits is not False else " x"
            state = "?" if t.installed is None else ("yes" if t.installed else "no")
            speed = f", {t.seconds_per_response:.1f} s/answer" if t.seconds_per_response else ""
            cells.append(f"{t.model} [{state}{mark}{speed}]")
        disk = sum(t.disk_bytes for t in {(t.host, t.model): t for t in p.tiers.values()}.values())
        cells.append(human_bytes(disk) if disk else "-")
        rows.append(cells)
    click.echo(table(["profile", "state", "fast [installed]", "quality [installed]", "on disk"], rows, right=(4,)))
    # Each server's models, with when taskprof last pulled a new build of them.
    for s in status.servers:
        seen = {t.model: t for p in status.profiles for t in p.tiers.values() if t.host == s.host and t.installed}
        if not seen:
            continue
        click.echo(f"\nOn {s.host}:")
        for ref, t in sorted(seen.items()):
            when = (t.last_updated or "")[:16].replace("T", " ") or "not pulled through taskprof"
            policy = "follows latest" if t.follows_latest else "pinned"
            click.echo(f"  {ref:<28} {human_bytes(t.disk_bytes):>9}  {policy:<14}  last updated: {when}")


# --- remove ---------------------------------------------------------------------------------------


@click.command("remove", cls=TaskprofCommand)
@profile_argument("profile")
@click.option("--tier", type=TIERS, default="all", show_default=True, help="Which tier(s) to remove.")
@yes_option
@json_option
@host_option
@no_log_option
def remove_cmd(profile: str, tier: TierSelection, yes: bool, as_json: bool, host: str | None, no_log: bool) -> None:
    """Delete a profile's models that no other installed profile still needs.

    A model stays when another profile you installed uses it on the same server (or, before taskprof
    knows what you installed, another profile whose models of that tier are all present). Asks
    first; the answer defaults to No.

    \b
    Example:
      taskprof remove brainstorming --tier quality
    """
    core = session(host=host, no_log=no_log)
    plan = core.plan_removal(profile, tier)
    for _, ref, size in plan.goes:
        click.echo(f"  remove  {ref} ({human_bytes(size)})", err=as_json)
    for ref, why in plan.stays:
        click.echo(f"  keep    {ref}: {why}", err=as_json)
    if plan.goes:
        confirm(f"Delete {len(plan.goes)} model{'s' if len(plan.goes) != 1 else ''}?", yes=yes, default=False,
                refusal="not deleting without a yes: run this in a terminal, or add --yes")
    removal = core.remove(plan)
    if as_json:
        echo_json(removal.to_json())
    elif removal.deleted:
        click.echo(style("Deleted: ", bold=True) + ", ".join(removal.deleted))
    else:
        click.echo("Nothing to delete.")
    show_warnings(core)


# --- update ---------------------------------------------------------------------------------------


@click.command("update", cls=TaskprofCommand)
@profile_argument("profiles", nargs=-1)
@yes_option
@click.option("--quiet", "-q", is_flag=True, help="No progress; print only what changed or failed (for cron).")
@json_option
@host_option
@no_log_option
def update_cmd(profiles: tuple[str, ...], yes: bool, quiet: bool, as_json: bool, host: str | None,
               no_log: bool) -> None:
    """Re-pull every installed model that follows "latest"; report what changed.

    With no PROFILE, every installed profile. Models pinned to a digest are held and listed.
    Exit status 1 when any model failed (for a scheduled `taskprof update --yes --quiet`).

    \b
    Examples:
      taskprof update
      taskprof update programming writing
      taskprof update --yes --quiet
    """
    core = session(host=host, no_log=no_log)
    targets, pinned = core.update_targets(profiles)
    if not targets:
        if not quiet:
            click.echo('No installed model of these profiles follows "latest": nothing to update.', err=as_json)
        if as_json:
            echo_json({"models": [], "pinned": [{"model": r, "digest": d} for r, d in pinned], "ok": True})
        show_warnings(core)
        return
    if not quiet and not as_json:
        note(f"Checking {len(targets)} model{'s' if len(targets) != 1 else ''} for new builds: "
             + ", ".join(m.ref for _, m in targets))
    reporter = progress_reporter(quiet)
    try:
        outcome = core.update(profiles, reporter)
    except KeyboardInterrupt:
        reporter.close()
        note("\nInterrupted. Finished: " + (", ".join(reporter.finished) or "none"))
        raise
    reporter.close()
    if as_json:
        echo_json(outcome.to_json())
    else:
        for r in outcome.models:
            if r.result == "updated":
                click.echo(style("updated   ", fg="green")
                           + f"{r.ref}: {r.old_digest[:12]} -> {r.new_digest[:12]} ({human_bytes(r.fetched_bytes)} fetched)")
            elif r.result == "unchanged" and not quiet:
                click.echo(f"unchanged {r.ref}: {r.old_digest[:12]}")
            elif r.result == "failed":
                click.echo(style("failed    ", fg="red") + f"{r.ref}: {r.error}")
        if pinned and not quiet:
            click.echo("pinned    " + ", ".join(f"{ref} (held at {digest[:19]})" for ref, digest in pinned))
    show_warnings(core)
    if not outcome.ok:
        raise click.exceptions.Exit(1)


# --- ask ------------------------------------------------------------------------------------------


@click.command("ask", cls=TaskprofCommand)
@click.argument("text", nargs=-1)
@click.option("--continue", "-c", "continue_last", is_flag=True, help="Continue the last conversation.")
@click.option("--cid", metavar="ID", help="Continue the conversation with this id (`taskprof usage conversations`).")
@click.option("--tier", type=click.Choice(["fast", "quality"]), help="Prefer this tier (default: what fits).")
@memory_option
@no_log_option
@host_option
def ask_cmd(text: tuple[str, ...], continue_last: bool, cid: str | None, tier: Tier | None, memory: str | None,
            no_log: bool, host: str | None) -> None:
    """Route a prompt to the right installed model and stream its answer.

    The conversation router picks the profile (a follow-up keeps the conversation's profile, a new
    task of another kind switches); the recommended tier answers if installed, else the other one.
    Piped standard input is the material and TEXT the instruction. The answer goes to stdout; which
    model answered, to stderr. Conversations are kept in the data directory (not with --no-log or
    log_text false): -c continues the last one, --cid another.

    \b
    Examples:
      taskprof ask "explain what a race condition is"
      taskprof ask -c "now give an example in Go"
      git diff | taskprof ask --tier quality "review this change"
    """
    if continue_last and cid:
        raise click.UsageError("give -c or --cid, not both")
    instruction = " ".join(text)
    pasted = piped_stdin()
    core = session(host=host, memory=memory, no_log=no_log)
    answer = core.ask(instruction, pasted=pasted, conversation=cid or ("last" if continue_last else None),
                      tier=tier, keep=not no_log)
    _remind(core)
    m, r = answer.model, answer.route
    suffix = f" ({m.note})" if m.note else ""
    route = f", {r.route} conversation" if r.route != "new" else ""
    note(style(f"[{r.profile} -> {m.ref}, {m.tier} tier{suffix}{route}]", dim=True))
    for piece in answer:
        click.echo(piece, nl=False)
    click.echo()
    rate = f", {answer.tokens_per_second:.1f} tokens/s" if answer.tokens_per_second else ""
    kept = f"; conversation {answer.conversation_id} (taskprof ask -c continues it)" if answer.conversation_id else ""
    note(style(f"answered by {m.ref} in {answer.seconds:.1f} s{rate}{kept}", dim=True))
    show_warnings(core)
