"""`taskprof install / status / remove / update / ask`: a profile's models on Ollama, and using them."""

from __future__ import annotations

import time

import click

from recommender.cli import install_flow
from recommender.cli.app import cli
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
    profile_argument,
    progress_reporter,
    session,
    show_warnings,
    task_text,
    yes_option,
)
from recommender.cli.render import echo_json, style, table

GB = 1_000_000_000


def _remind(core) -> None:
    """`config set update_every 7d`: the commands that talk to Ollama say once a day when an update is due."""
    message = core.update_reminder()
    if message:
        note(style(f"Note: {message}", dim=True))


# --- install --------------------------------------------------------------------------------------


@cli.command("install")
@profile_argument("profiles", nargs=-1, required=True)
@click.option("--tier", type=INSTALL_TIERS, default="fit", show_default=True,
              help="fit: the tiers this machine can run; fast, quality, or all (both, even if they do not fit).")
@yes_option
@click.option("--dry-run", is_flag=True, help="Show the plan and the disk check; download nothing.")
@json_option
@host_option
@no_log_option
def install_cmd(profiles: tuple[str, ...], tier: str, yes: bool, dry_run: bool, as_json: bool, host: str | None,
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
    outcome = install_flow.run_install(core, list(profiles), tier, yes=yes, dry_run=dry_run)
    _remind(core)
    if as_json:
        echo_json(install_flow.outcome_json(outcome))
    elif outcome is not None:
        install_flow.summary(outcome, err=False)
    show_warnings(core)
    if outcome is not None and not outcome.ok:
        raise click.exceptions.Exit(1)


# --- status ---------------------------------------------------------------------------------------


@cli.command("status")
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
    from recommender import hardware, installer, usage

    core = session(host=host, memory=memory)
    state = core.installed_state()
    bench = usage.latest_bench()
    records = core.state
    profiles = []
    for p in core.catalogue.values():
        tiers = {}
        for m in p.models:
            t = state.profiles[p.name][m.tier]
            measured = bench.get(m.ref)
            rec = records.model(t.host, m.ref)
            fit = core.fits(m)
            tiers[m.tier] = {
                "model": m.ref,
                "host": t.host,
                "installed": t.installed,
                "disk_bytes": t.disk_bytes,
                "fits": fit,
                "memory_gb": round(hardware.model_memory_bytes(m) / GB, 1),
                "seconds_per_response": round(measured.seconds_per_response, 2)
                if measured and measured.seconds_per_response else None,
                "expected_seconds": list(hardware.expected_seconds(m)),
                "follows_latest": m.follows_latest,
                "last_updated": (rec.changed_at or None) if rec else None,
                "last_pulled": (rec.pulled_at or None) if rec else None,
            }
        states = [t["installed"] for t in tiers.values()]
        summary = "unknown" if None in states else "installed" if all(states) else "partial" if any(states) else "missing"
        profiles.append({"name": p.name, "kind": p.kind, "state": summary, "installed": state.tiers(p.name),
                         "tiers": tiers})
    servers = [{"host": h, "reachable": state.reachable[h], "version": state.versions.get(h),
                "error": state.errors.get(h), "tiers": [t for t in ("fast", "quality") if core.host(t) == h]}
               for h in core.hosts]
    machine = core.machine("fast") or core.machine("quality")
    local = [h for h in core.hosts if installer.is_local(h)]
    machine_info = {
        "total_gb": round(machine.total_bytes / GB, 1) if machine else None,
        "available_gb": round(machine.available_bytes / GB, 1) if machine and machine.available_bytes else None,
        "gpu_gb": round(machine.gpu_bytes / GB, 1) if machine and machine.gpu_bytes else None,
        "unified_memory": machine.unified if machine else None,
        "source": machine.source if machine else None,
        # A remote server's disk cannot be seen from here.
        "models_dir": str(installer.models_dir()) if local else None,
        "free_disk_gb": round(installer.free_bytes(installer.models_dir()) / GB, 1) if local else None,
    }
    if all(state.reachable.values()):
        _remind(core)
    if as_json:
        first = {k: v for k, v in servers[0].items() if k != "tiers"}
        echo_json({"server": first, "servers": servers, "machine": machine_info,
                   "last_update": records.last_update or None, "profiles": profiles})
    else:
        _render_status(core, servers, machine, machine_info, profiles)
    show_warnings(core)
    failed = [s for s in servers if not s["reachable"]]
    if failed:
        raise click.ClickException("; ".join(s["error"] for s in failed))


def _render_status(core, servers, machine, machine_info, profiles) -> None:
    for s in servers:
        reach = style("reachable", fg="green") if s["reachable"] else style("not reachable", fg="red")
        tiers = " and ".join(s["tiers"])
        click.echo(f"Ollama at {s['host']} ({tiers} tier{'s' if len(s['tiers']) > 1 else ''}): {reach}"
                   + (f", version {s['version']}" if s["version"] else ""))
    if machine:
        avail = f", {machine.available_bytes / GB:.0f} GB available" if machine.available_bytes else ""
        gpu = f", GPU {machine.gpu_bytes / GB:.0f} GB" if machine.gpu_bytes else ""
        unified = " (unified)" if machine.unified else ""
        click.echo(f"Memory: {machine.total_bytes / GB:.0f} GB{unified}{avail}{gpu} ({machine.source}); "
                   "'x' marks a tier this machine cannot hold.")
    if machine_info["models_dir"]:
        click.echo(f"Free disk where Ollama keeps models ({machine_info['models_dir']}): "
                   f"{machine_info['free_disk_gb']:.1f} GB")
    rows = []
    for p in profiles:
        cells = [p["name"], p["state"]]
        for tier in ("fast", "quality"):
            t = p["tiers"].get(tier)
            if t is None:
                cells.append("-")
                continue
            mark = "" if t["fits"] is not False else " x"
            state = "?" if t["installed"] is None else ("yes" if t["installed"] else "no")
            speed = f", {t['seconds_per_response']:.1f} s/answer" if t["seconds_per_response"] else ""
            cells.append(f"{t['model']} [{state}{mark}{speed}]")
        disk = sum(t["disk_bytes"] for t in {(t["host"], t["model"]): t for t in p["tiers"].values()}.values())
        cells.append(human_bytes(disk) if disk else "-")
        rows.append(cells)
    click.echo(table(["profile", "state", "fast [installed]", "quality [installed]", "on disk"], rows, right=(4,)))
    # Each server's models, with when taskprof last pulled a new build of them.
    for s in servers:
        seen = {}
        for p in profiles:
            for t in p["tiers"].values():
                if t["host"] == s["host"] and t["installed"]:
                    seen[t["model"]] = t
        if not seen:
            continue
        click.echo(f"\nOn {s['host']}:")
        for ref, t in sorted(seen.items()):
            when = (t["last_updated"] or "")[:16].replace("T", " ") or "not pulled through taskprof"
            policy = "follows latest" if t["follows_latest"] else "pinned"
            click.echo(f"  {ref:<28} {human_bytes(t['disk_bytes']):>9}  {policy:<14}  last updated: {when}")


# --- remove ---------------------------------------------------------------------------------------


@cli.command("remove")
@profile_argument("profile")
@click.option("--tier", type=TIERS, default="all", show_default=True, help="Which tier(s) to remove.")
@yes_option
@json_option
@host_option
@no_log_option
def remove_cmd(profile: str, tier: str, yes: bool, as_json: bool, host: str | None, no_log: bool) -> None:
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
    deleted = core.remove(plan)
    if as_json:
        echo_json({"profile": plan.profile, "tiers": list(plan.tiers), "deleted": deleted,
                   "kept": [{"model": ref, "why": why} for ref, why in plan.stays]})
    elif deleted:
        click.echo(style("Deleted: ", bold=True) + ", ".join(deleted))
    else:
        click.echo("Nothing to delete.")
    show_warnings(core)


# --- update ---------------------------------------------------------------------------------------


@cli.command("update")
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
    for h in core.hosts:
        core.server(h).version()
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
        echo_json({"models": [{"model": r.ref, "host": r.host, "result": r.result, "old_digest": r.old_digest,
                               "new_digest": r.new_digest, "fetched_bytes": r.fetched_bytes, "error": r.error}
                              for r in outcome.models],
                   "pinned": [{"model": r, "digest": d} for r, d in outcome.pinned], "ok": outcome.ok})
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


@cli.command("ask")
@click.argument("text", nargs=-1)
@click.option("--tier", type=click.Choice(["fast", "quality"]), help="Prefer this tier (default: what fits).")
@memory_option
@no_log_option
@host_option
def ask_cmd(text: tuple[str, ...], tier: str | None, memory: str | None, no_log: bool, host: str | None) -> None:
    """Classify a task and let the right installed model answer it, streamed.

    The recommended tier answers if it is installed, else the other one. The task comes from the
    arguments or from standard input. The answer goes to stdout; which model answered, to stderr.

    \b
    Examples:
      taskprof ask "explain what a race condition is"
      git diff | taskprof ask --tier quality
    """
    from recommender import installer

    raw = task_text(text)
    core = session(host=host, memory=memory, no_log=no_log)
    decision = core.decide(raw)
    model, where, why = core.installed_model(decision, tier)
    _remind(core)
    suffix = f" ({why})" if why else ""
    note(style(f"[{decision.chosen_profile} -> {model.ref}, {model.tier} tier{suffix}]", dim=True))
    core.record("ask", profile=decision.chosen_profile, tier=model.tier, model=model.ref,
                confidence=decision.confidence, abstained=decision.abstained, text=decision.read_text)
    started = time.monotonic()
    last = None
    server = core.server(where, read_timeout=installer.CHAT_READ_TIMEOUT)
    for chunk in server.chat(model.ref, raw.strip()):
        piece = chunk.message.content if chunk.message else ""
        if piece:
            click.echo(piece, nl=False)
        last = chunk
    click.echo()
    elapsed = time.monotonic() - started
    rate = ""
    if last is not None and last.eval_count and last.eval_duration:
        rate = f", {last.eval_count / last.eval_duration * 1e9:.1f} tokens/s"
    note(style(f"answered by {model.ref} in {elapsed:.1f} s{rate}", dim=True))
    show_warnings(core)
