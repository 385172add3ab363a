"""`taskprof usage`: the usage log — what you asked for and used, kept in SQLite."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

import recommender.api as api
from recommender.cli import install_flow
from recommender.cli.app import TaskprofGroup
from recommender.cli.common import (
    TIERS,
    confirm,
    host_option,
    json_option,
    session,
    show_warnings,
    yes_option,
)
from recommender.cli.render import echo_json, style, table
from recommender.errors import InputError
from recommender.types import TierSelection

BAR_WIDTH = 30


@click.group("usage", cls=TaskprofGroup)
def usage_cmd() -> None:
    """The usage log: what you asked for and used, kept in SQLite in the data directory.

    Uses are suggestions shown, `ask` answers and chats routed by `taskprof serve`; installs,
    removals, updates and benchmarks are recorded too but do not count as uses.

    \b
    Examples:
      taskprof usage stats --days 30
      taskprof usage export --format csv > usage.csv
      taskprof usage off
    """


@usage_cmd.command("stats")
@click.option("--days", type=click.IntRange(1, 36500), help="Only the last N days.")
@json_option
@host_option
def stats_cmd(days: int | None, as_json: bool, host: str | None) -> None:
    """Which profiles you use most: uses, share, last use, installed tiers, a bar chart; and how many
    conversations serve and `ask -c` routed, and how often one switched profile.

    \b
    Example:
      taskprof usage stats --days 30
    """
    core = session(host=host)
    result = core.usage_stats(days)
    rows = [u.to_json() for u in result.profiles]
    if as_json:
        echo_json(result.to_json())
        show_warnings(core)
        return
    if not rows:
        click.echo("No usage recorded yet" + (f" in the last {days} days." if days else "."))
        show_warnings(core)
        return
    span = f"the last {days} days" if days else "all time"
    click.echo(style(f"{result.total} {'use' if result.total == 1 else 'uses'} of profiles, {span}", bold=True))
    top = max(r["uses"] for r in rows)
    lines = []
    for r in rows:
        bar = "#" * max(1, round(BAR_WIDTH * r["uses"] / top))
        lines.append([r["profile"], str(r["uses"]), f"{r['share'] * 100:.0f}%", bar,
                      r["last_used"][:16].replace("T", " "), r["top_tier"] or "-", r["installed"] or "?"])
    click.echo(table(["PROFILE", "USES", "SHARE", "", "LAST USED (UTC)", "TIER", "INSTALLED"], lines, right=[1, 2]))
    if result.conversations:
        click.echo(f"{result.conversations} routed conversation{'s' if result.conversations != 1 else ''} "
                   f"(each one use per profile it used), {result.switches} "
                   f"switch{'es' if result.switches != 1 else ''} to another profile")
    if result.ollama_reachable is False:
        click.echo(style("INSTALLED ?: Ollama was not reachable.", dim=True), err=True)
    show_warnings(core)


@usage_cmd.command("path")
def path_cmd() -> None:
    """Print the usage database's path (the data directory holds profiles/ and config.json too)."""
    click.echo(api.usage_db_path())


@usage_cmd.command("on")
def on_cmd() -> None:
    """Record suggestions, uses and maintenance again."""
    api.set_setting("logging", "true")
    click.echo("Usage logging is on.")


@usage_cmd.command("off")
def off_cmd() -> None:
    """Stop recording anything in the usage log (what is stored stays; install state is kept apart)."""
    api.set_setting("logging", "false")
    click.echo("Usage logging is off; `taskprof usage on` turns it back on.")


@usage_cmd.command("clear")
@yes_option
def clear_cmd(yes: bool) -> None:
    """Delete every recorded event (corrections, benchmark results and install state stay)."""
    confirm("Delete every recorded event?", yes=yes, default=False,
            refusal="not clearing the usage log without a yes: run this in a terminal, or add --yes")
    count = api.clear_usage()
    click.echo(f"Deleted {count} event{'s' if count != 1 else ''}.")


@usage_cmd.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="Output format.")
@click.option("--days", type=click.IntRange(1, 36500), help="Only the last N days.")
def export_cmd(fmt: str, days: int | None) -> None:
    """Write every event to standard output.

    \b
    Example:
      taskprof usage export --format csv > usage.csv
    """
    fields = ["id", "ts", "command", "profile", "tier", "model", "confidence", "abstained", "text"]
    out = sys.stdout
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for event in api.Taskprof().usage_events(days):
        row: dict[str, Any] = {f: getattr(event, f) for f in fields}
        if writer:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@usage_cmd.command("auto-install")
@click.option("--top", type=click.IntRange(1, 20), default=3, show_default=True, help="How many most-used profiles.")
@click.option("--min-uses", type=click.IntRange(1), default=3, show_default=True, help="Skip profiles used fewer times.")
@click.option("--tier", type=TIERS, default="fast", show_default=True, help="Which tier(s) to pull.")
@click.option("--days", type=click.IntRange(1, 36500), help="Count uses in the last N days only.")
@yes_option
@click.option("--dry-run", is_flag=True, help="Show the plan, download nothing.")
@host_option
def auto_install_cmd(top: int, min_uses: int, tier: TierSelection, days: int | None, yes: bool, dry_run: bool,
                     host: str | None) -> None:
    """Install the profiles you use most that are not fully installed yet.

    \b
    Example:
      taskprof usage auto-install --top 2 --tier fast --dry-run
    """
    used = api.top_profiles(limit=top, days=days, min_uses=min_uses)
    if not used:
        click.echo(f"No profile has been used {min_uses}+ times yet: nothing to install.")
        return
    core = session(host=host)
    click.echo("Most used: " + ", ".join(f"{u.profile} ({u.uses})" for u in used), err=True)
    outcome = install_flow.run_install(core, [u.profile for u in used], tier, yes=yes, dry_run=dry_run)
    if outcome is not None:
        install_flow.summary(outcome, err=False)
    show_warnings(core)
    if outcome is not None and not outcome.ok:
        raise click.exceptions.Exit(1)


@usage_cmd.command("conversations")
@click.option("--delete", "delete_id", metavar="ID", help="Delete this conversation.")
@click.option("--clear", "clear_all", is_flag=True, help="Delete every conversation.")
@yes_option
@json_option
def conversations_cmd(delete_id: str | None, clear_all: bool, yes: bool, as_json: bool) -> None:
    """The conversations `taskprof ask` keeps for -c and --cid: id, profile, turns, last used.

    \b
    Examples:
      taskprof usage conversations
      taskprof usage conversations --delete 3f9a0c1d2e4b
      taskprof usage conversations --clear --yes
    """
    core = session()
    if delete_id and clear_all:
        raise InputError("give --delete ID or --clear, not both")
    if delete_id:
        core.delete_conversation(delete_id)
        click.echo(f"Deleted conversation {delete_id}.")
        return
    if clear_all:
        confirm("Delete every conversation?", yes=yes, default=False,
                refusal="not deleting conversations without a yes: run this in a terminal, or add --yes")
        count = core.clear_conversations()
        click.echo(f"Deleted {count} conversation{'s' if count != 1 else ''}.")
        return
    found = core.conversations()
    if as_json:
        echo_json([c.to_json() for c in found])
        return
    if not found:
        click.echo('No conversations kept yet: taskprof ask "..." starts one.')
        return
    click.echo(table(["ID", "PROFILE", "TURNS", "LAST USED (UTC)"],
                     [[c.id, c.profile or "-", str(c.turns), c.last_used[:16].replace("T", " ")] for c in found],
                     right=[2]))
