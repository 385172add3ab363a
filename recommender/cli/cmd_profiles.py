"""`taskprof profiles`: the catalogue, one profile in full, and the storage plan."""

from __future__ import annotations

import click

from recommender.api import Model, Taskprof
from recommender.cli.app import TaskprofGroup
from recommender.cli.common import show_warnings
from recommender.cli.render import echo_json, gb, style, table
from recommender.types import TierSelection

TIER_CHOICE = click.Choice(["fast", "quality", "all"])


@click.group("profiles", cls=TaskprofGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--memory", metavar="SIZE", help="Judge which tiers fit a machine with SIZE of memory, e.g. 64GB.")
@click.pass_context
def profiles_cmd(ctx: click.Context, as_json: bool, memory: str | None) -> None:
    """List every profile: kind, fast and quality model, total size.

    A model marked "(too big)" needs more memory than this machine (or --memory) can give it.

    \b
    Examples:
      taskprof profiles
      taskprof profiles --json
      taskprof profiles show programming
      taskprof profiles size --tier fast
    """
    if ctx.invoked_subcommand is not None:
        return
    # The same fit as suggest and install: each tier judged on the machine that runs it.
    tp = Taskprof(memory=memory)
    catalogue = tp.catalogue
    show_warnings(tp)
    if as_json:
        out = []
        for p in catalogue.values():
            item = p.to_json()
            for m, js in zip(p.models, item["models"], strict=True):
                js["fits"] = tp.fits(m)
                js["memory_gb"] = tp.memory_gb(m)
            out.append(item)
        echo_json(out)
        show_warnings(tp)
        return

    def cell(model: Model) -> str:
        return model.ref if tp.fits(model) is not False else model.ref + style(" (too big)", fg="yellow")

    rows = [
        [
            p.name + (" *" if p.is_user else ""),
            p.kind,
            cell(p.model_for("fast")),
            cell(p.model_for("quality")),
            gb(p.size_gb),
        ]
        for p in catalogue.values()
    ]
    click.echo(table(["PROFILE", "KIND", "FAST", "QUALITY", "SIZE"], rows, right=[4]))
    too_big = {m.tier for p in catalogue.values() for m in p.models if tp.fits(m) is False}
    if too_big:
        where = " / ".join(tp.where(t) for t in sorted(too_big))
        click.echo(f"\n(too big): needs more memory than {where} allows; "
                   "see docs/model-selection.md for running it on a bigger machine over OLLAMA_HOST")
    if any(p.is_user for p in catalogue.values()):
        click.echo("\n* your own profile (from the data directory's profiles/ folder)")
    show_warnings(tp)


@profiles_cmd.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show everything about one profile: models, what each is for, use cases, size.

    \b
    Example:
      taskprof profiles show document-intelligence
    """
    tp = Taskprof()
    profile = tp.profile(name)
    show_warnings(tp)
    if as_json:
        echo_json(profile.to_json())
        return
    click.echo(f"{style(profile.name, bold=True)} ({profile.kind} profile)")
    click.echo(profile.description)
    click.echo()
    for model in profile.models:
        click.echo(f"  {style(model.tier.upper().ljust(8), fg='cyan', bold=True)} {model.ref}")
        click.echo(f"    {model.purpose}")
        click.echo(f"    {gb(model.size_gb)} download, {model.params_b:g}B parameters, {model.context:,}-token context"
                   + (" (estimated from the tag)" if model.estimated else ""))
        click.echo(f"    updates: pinned to {model.pinned_digest[:19]}…" if model.pinned_digest else '    updates: follows "latest"')
    click.echo()
    click.echo("Use it for:")
    for use in profile.recommended_for:
        click.echo(f"  - {use}")
    click.echo()
    click.echo(f"Size: {gb(profile.size_gb)} for both tiers ({profile.size_estimate})")
    click.echo(f"Defined in: {profile.source}")


@profiles_cmd.command("size")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--tier", type=TIER_CHOICE, default="all", show_default=True, help="Which tiers to count.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def size_cmd(names: tuple[str, ...], tier: TierSelection, as_json: bool) -> None:
    """Plan the disk space for profiles, counting shared models once.

    With no NAME, plans all nine task profiles.

    \b
    Examples:
      taskprof profiles size
      taskprof profiles size programming data-work --tier fast
    """
    tp = Taskprof()
    plan = tp.storage_plan(names, tier)
    show_warnings(tp)
    if as_json:
        echo_json(plan.to_json())
        return
    what = "all task profiles" if not names else ", ".join(plan.profiles)
    click.echo(f"Storage plan for {what} (tier: {tier})")
    click.echo()
    rows = [[m.ref, gb(m.size_gb), "+".join(m.tiers), ", ".join(m.used_by)] for m in plan.models]
    click.echo(table(["MODEL", "SIZE", "TIER", "USED BY"], rows, right=[1]))
    click.echo()
    distinct = f"{len(plan.models)} distinct model{'s' if len(plan.models) != 1 else ''}"
    click.echo(style(f"Total to download: {gb(plan.total_gb)} ({distinct})", bold=True))
    click.echo(
        f"Naive sum, each profile counted alone: {gb(plan.naive_gb)}; shared models save {gb(plan.saved_gb)}."
    )
