"""`taskprof profiles`: the catalogue, one profile in full, and the storage plan."""

from __future__ import annotations

from typing import Any

import click

from recommender import profiles as catalogue_mod
from recommender.cli.app import cli
from recommender.cli.render import echo_json, echo_warnings, gb, style, table
from recommender.profiles import Model, Profile, StoragePlan

TIER_CHOICE = click.Choice(["fast", "quality", "all"])


def model_json(model: Model) -> dict[str, Any]:
    return {
        "name": model.name,
        "tag": model.tag,
        "ref": model.ref,
        "tier": model.tier,
        "purpose": model.purpose,
        "size_gb": model.size_gb,
        "params_b": model.params_b,
        "context": model.context,
        "estimated": model.estimated,
        "pinned_digest": model.pinned_digest,
    }


def profile_json(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "kind": profile.kind,
        "description": profile.description,
        "models": [model_json(m) for m in profile.models],
        "recommended_for": list(profile.recommended_for),
        "size_gb": round(profile.size_gb, 2),
        "size_estimate": profile.size_estimate,
        "source": "user" if profile.is_user else "bundled",
    }


@cli.group("profiles", invoke_without_command=True)
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
    from recommender import hardware

    catalogue = catalogue_mod.load_catalogue()
    echo_warnings(catalogue.warnings)
    machine = hardware.detect(memory)
    if as_json:
        out = []
        for p in catalogue.values():
            item = profile_json(p)
            for m, js in zip(p.models, item["models"], strict=True):
                js["fits"] = hardware.fits(m, machine)
                js["memory_gb"] = round(hardware.model_memory_bytes(m) / hardware.GB, 1)
            out.append(item)
        echo_json(out)
        return

    def cell(model: Model) -> str:
        return model.ref if hardware.fits(model, machine) else model.ref + style(" (too big)", fg="yellow")

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
    if any(not hardware.fits(m, machine) for p in catalogue.values() for m in p.models):
        click.echo(f"\n(too big): needs more than {machine.total_bytes / hardware.GB:.0f} GB of memory allows; "
                   "see docs/model-selection.md for running it on a bigger machine over OLLAMA_HOST")
    if any(p.is_user for p in catalogue.values()):
        click.echo("\n* your own profile (from the data directory's profiles/ folder)")


@profiles_cmd.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show everything about one profile: models, what each is for, use cases, size.

    \b
    Example:
      taskprof profiles show document-intelligence
    """
    catalogue = catalogue_mod.load_catalogue()
    echo_warnings(catalogue.warnings)
    profile = catalogue.get_profile(name)
    if as_json:
        echo_json(profile_json(profile))
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


def plan_json(plan: StoragePlan) -> dict[str, Any]:
    return {
        "profiles": list(plan.profiles),
        "tier": plan.tier,
        "models": [
            {"ref": m.ref, "size_gb": m.size_gb, "tiers": list(m.tiers), "used_by": list(m.used_by)}
            for m in plan.models
        ],
        "total_gb": round(plan.total_gb, 2),
        "naive_gb": round(plan.naive_gb, 2),
        "saved_gb": round(plan.saved_gb, 2),
    }


@profiles_cmd.command("size")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--tier", type=TIER_CHOICE, default="all", show_default=True, help="Which tiers to count.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def size_cmd(names: tuple[str, ...], tier: str, as_json: bool) -> None:
    """Plan the disk space for profiles, counting shared models once.

    With no NAME, plans all nine task profiles.

    \b
    Examples:
      taskprof profiles size
      taskprof profiles size programming data-work --tier fast
    """
    catalogue = catalogue_mod.load_catalogue()
    echo_warnings(catalogue.warnings)
    chosen = [catalogue.get_profile(n) for n in dict.fromkeys(names)] if names else catalogue.of_kind("task")
    plan = catalogue_mod.storage_plan(chosen, tier)
    if as_json:
        echo_json(plan_json(plan))
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
