"""`taskprof usage` (the usage log) and `taskprof config` (settings)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from recommender import paths
from recommender.cli.app import cli
from recommender.cli.render import echo_json, style, table

BAR_WIDTH = 30


def warn(message: str | None) -> None:
    if message:
        click.echo(f"Warning: {message}", err=True)


def record_use(command: str, **fields: Any) -> None:
    """Log one event (usage.record never fails a command) and show its warning, if any."""
    from recommender import usage

    warn(usage.record(usage.Event(command=command, **fields)))


def report_read_warnings() -> None:
    """Show what reads of the log had to say (a damaged log moved aside) when no write follows."""
    from recommender import usage

    for message in usage.pop_warnings():
        warn(message)


def installed_state(host: str | None) -> dict[str, bool] | None:
    """Per profile: are all its models installed? None when Ollama cannot be asked (quickly)."""
    try:
        from recommender import installer
        from recommender.profiles import load_catalogue

        refs = installer.installed_refs(host, timeout=1.0)
    except Exception:
        return None
    return {name: all(m.ref in refs for m in p.models) for name, p in load_catalogue().items()}


@cli.group("usage")
def usage_cmd() -> None:
    """The usage log: what you asked for and installed, kept in SQLite in the data directory.

    \b
    Examples:
      taskprof usage stats --days 30
      taskprof usage export --format csv > usage.csv
      taskprof usage off
    """


@usage_cmd.command("stats")
@click.option("--days", type=click.IntRange(1, 36500), help="Only the last N days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--host", metavar="URL", help="The Ollama server asked for install state (default: OLLAMA_HOST).")
def stats_cmd(days: int | None, as_json: bool, host: str | None) -> None:
    """Which profiles you use most: uses, share, last use, install state, a bar chart.

    \b
    Example:
      taskprof usage stats --days 30
    """
    from recommender import usage

    result, warning = usage.stats(days)
    warn(warning)
    installed = installed_state(host) if result.profiles else None
    rows = [
        {
            "profile": u.profile,
            "uses": u.uses,
            "share": round(u.share, 4),
            "last_used": u.last_used,
            "installed": None if installed is None else installed.get(u.profile),
            "top_tier": u.top_tier,
        }
        for u in result.profiles
    ]
    if as_json:
        echo_json({"total": result.total, "days": days, "profiles": rows, "commands": result.commands})
        return
    if not rows:
        click.echo("No usage recorded yet" + (f" in the last {days} days." if days else "."))
        return
    span = f"the last {days} days" if days else "all time"
    click.echo(style(f"{result.total} uses of profiles, {span}", bold=True))
    top = max(r["uses"] for r in rows)
    lines = []
    for r in rows:
        bar = "#" * max(1, round(BAR_WIDTH * r["uses"] / top))
        state = {True: "yes", False: "no", None: "?"}[r["installed"]]
        lines.append([r["profile"], str(r["uses"]), f"{r['share'] * 100:.0f}%", bar, r["last_used"][:16].replace("T", " "),
                      r["top_tier"] or "-", state])
    click.echo(table(["PROFILE", "USES", "SHARE", "", "LAST USED (UTC)", "TIER", "INSTALLED"], lines, right=[1, 2]))
    if installed is None:
        click.echo(style("INSTALLED ?: Ollama was not reachable.", dim=True))


@usage_cmd.command("path")
def path_cmd() -> None:
    """Print the usage database's path (the data directory holds profiles/ and config.json too)."""
    click.echo(str(paths.usage_db_path()))


@usage_cmd.command("on")
def on_cmd() -> None:
    """Record suggestions, installs and uses again."""
    from recommender import config

    config.set_value("logging", "true")
    click.echo("Usage logging is on.")


@usage_cmd.command("off")
def off_cmd() -> None:
    """Stop recording anything in the usage log (what is stored stays)."""
    from recommender import config

    config.set_value("logging", "false")
    click.echo("Usage logging is off; `taskprof usage on` turns it back on.")


@usage_cmd.command("clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def clear_cmd(yes: bool) -> None:
    """Delete every recorded event (corrections and benchmark results stay)."""
    from recommender import usage

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to clear the usage log without a terminal to ask on: add --yes")
        click.confirm("Delete every recorded event?", abort=True)
    click.echo(f"Deleted {usage.clear()} event(s).")


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
    from recommender import usage

    fields = ["id", "ts", "command", "profile", "tier", "model", "confidence", "abstained", "text"]
    out = sys.stdout
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for event in usage.events(days):
        row: dict[str, Any] = {f: getattr(event, f) for f in fields}
        if writer:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@usage_cmd.command("auto-install")
@click.option("--top", type=click.IntRange(1, 20), default=3, show_default=True, help="How many most-used profiles.")
@click.option("--min-uses", type=click.IntRange(1), default=3, show_default=True, help="Skip profiles used fewer times.")
@click.option("--tier", type=click.Choice(["fast", "quality", "all"]), default="fast", show_default=True,
              help="Which tier(s) to pull.")
@click.option("--days", type=click.IntRange(1, 36500), help="Count uses in the last N days only.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before downloading.")
@click.option("--dry-run", is_flag=True, help="Show the plan, download nothing.")
@click.option("--host", metavar="URL", help="The Ollama server (default: OLLAMA_HOST or 127.0.0.1:11434).")
def auto_install_cmd(top: int, min_uses: int, tier: str, days: int | None, yes: bool, dry_run: bool, host: str | None) -> None:
    """Install the profiles you use most that are not fully installed yet.

    \b
    Example:
      taskprof usage auto-install --top 2 --tier fast --dry-run
    """
    from recommender import usage
    from recommender.cli.cmd_ollama import run_install

    used = [u for u in usage.top_profiles(limit=top, days=days) if u.uses >= min_uses]
    if not used:
        click.echo(f"No profile has been used {min_uses}+ times yet: nothing to install.")
        return
    click.echo("Most used: " + ", ".join(f"{u.profile} ({u.uses})" for u in used))
    run_install([u.profile for u in used], tier, yes, dry_run, host)


@cli.group("config")
def config_cmd() -> None:
    """Settings, kept in config.json in the data directory.

    \b
    Examples:
      taskprof config list
      taskprof config set auto_install true
    """


@config_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_list_cmd(as_json: bool) -> None:
    """Show every setting with its value and what it does."""
    from recommender import config

    values = config.load()
    if as_json:
        echo_json(values)
        return
    click.echo(table(["SETTING", "VALUE", "MEANING"],
                     [[k, json.dumps(v), s.help] for k, s in config.SETTINGS.items() for v in [values[k]]]))


@config_cmd.command("get")
@click.argument("name")
def config_get_cmd(name: str) -> None:
    """Print one setting's value."""
    from recommender import config

    click.echo(json.dumps(config.load()[config.check_name(name)]))


@config_cmd.command("set")
@click.argument("name")
@click.argument("value")
def config_set_cmd(name: str, value: str) -> None:
    """Change a setting, e.g. `taskprof config set auto_install true`."""
    from recommender import config

    stored = config.set_value(name, value)
    click.echo(f"{name} = {json.dumps(stored)}")


@config_cmd.command("unset")
@click.argument("name")
def config_unset_cmd(name: str) -> None:
    """Return a setting to its default."""
    from recommender import config

    config.unset(name)
    click.echo(f"{name} = {json.dumps(config.SETTINGS[name].default)} (default)")
