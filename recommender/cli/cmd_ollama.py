"""`taskprof install / status / remove / update / ask`: getting a profile's models onto Ollama and using them."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import click

from recommender.cli.app import cli
from recommender.cli.cmd_usage import record_use, report_read_warnings
from recommender.cli.render import echo_json, echo_warnings, gb, style, table
from recommender.errors import InstallRefused, OllamaError, OllamaUnavailable, TaskprofError

GB = 1_000_000_000
TIERS = ("fast", "quality", "all")
EXIT_INTERRUPTED = 130

host_option = click.option(
    "--host", metavar="URL", help="The Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434)."
)


def _consent(question: str, yes: bool, refusal: str) -> None:
    """Ask on a terminal; without one, refuse rather than hang (unless --yes)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InstallRefused(refusal)
    if not click.confirm(question, default=True):
        raise InstallRefused("cancelled: nothing was changed")


# --- progress -----------------------------------------------------------------------------------


class PlainProgress:
    """For logs and pipes: a line when a model starts, at each quarter, and when it ends."""

    def __init__(self) -> None:
        self.ref = ""
        self.quarter = -1
        self.started = 0.0
        self.total = 0

    def start(self, ref: str, estimate_bytes: int) -> None:
        self.ref, self.quarter, self.started, self.total = ref, -1, time.monotonic(), 0
        click.echo(f"pulling {ref} (~{gb(estimate_bytes / GB)})", err=True)

    def update(self, completed: int, total: int) -> None:
        self.total = total
        quarter = int(4 * completed / total) if total else 0
        if quarter > self.quarter and quarter < 4:
            self.quarter = quarter
            click.echo(f"  {self.ref}: {25 * quarter:3d}% of {_bytes(total)}", err=True)

    def finish(self, ok: bool) -> None:
        seconds = max(time.monotonic() - self.started, 1e-6)
        speed = f", {_bytes(self.total / seconds)}/s" if ok and self.total else ""
        click.echo(f"  {self.ref}: {'done' if ok else 'stopped'} in {seconds:.1f} s{speed}", err=True)

    def close(self) -> None:
        pass


class RichProgress:
    """On a terminal: one live bar per model — bytes, speed and ETA summed over its layers."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True),
        )
        self.progress.start()
        self.task: Any = None

    def start(self, ref: str, estimate_bytes: int) -> None:
        self.task = self.progress.add_task(ref, total=None)

    def update(self, completed: int, total: int) -> None:
        self.progress.update(self.task, completed=completed, total=total)

    def finish(self, ok: bool) -> None:
        if not ok:
            self.progress.update(self.task, description=f"[red]{self.progress.tasks[-1].description} (failed)")

    def close(self) -> None:
        self.progress.stop()


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


# --- install --------------------------------------------------------------------------------------


@dataclass
class InstallOutcome:
    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)


def run_install(profile_names: list[str], tier: str, yes: bool, dry_run: bool, host: str | None) -> None:
    """Plan, check disk, ask, pull what is missing with progress, summarise. Shared by install,
    suggest --install and usage auto-install. Exits 1 unless every model is present at the end."""
    from recommender import installer
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    profiles = [catalogue.get_profile(name) for name in dict.fromkeys(profile_names)]
    server = installer.Server(host)
    plan = installer.plan_install(server, profiles, tier)
    missing, need = plan.missing, plan.download_bytes

    click.echo(f"Plan for {style(', '.join(plan.profiles), bold=True)} (tier {tier}) on {plan.host} "
               f"(Ollama {plan.version}):")
    rows = []
    for m in plan.models:
        state = style("installed", fg="green") if m.ref in plan.installed else "to download"
        rows.append([m.ref, "/".join(m.tiers), gb(m.size_gb), state, ", ".join(dict.fromkeys(m.used_by))])
    click.echo(table(["model", "tier", "size", "state", "used by"], rows, right=(2,)))
    click.echo(f"To download: {gb(need / GB)} in {len(missing)} model(s); {len(plan.installed)} already installed.")
    if plan.free_bytes is None:
        click.echo(f"The server is remote ({plan.host}): its free disk is not checked.")
    else:
        click.echo(f"Free disk where Ollama keeps models ({plan.models_dir}): {gb(plan.free_bytes / GB)}.")
    if not plan.fits_on_disk:
        raise InstallRefused(
            f"not enough disk: the download needs {gb(need / GB)} but {plan.models_dir} has "
            f"{gb((plan.free_bytes or 0) / GB)} free; free some space, pick --tier fast, "
            "or set OLLAMA_MODELS to a bigger disk"
        )

    if not missing:
        click.echo(style("Everything is already installed.", fg="green"))
        for p in profiles:
            record_use("install", profile=p.name, tier=tier)
        return
    if dry_run:
        click.echo("Dry run: nothing was downloaded.")
        return
    _consent(
        f"Download {gb(need / GB)}?", yes,
        f"not downloading {gb(need / GB)} without a yes: run this in a terminal, or add --yes",
    )

    outcome = InstallOutcome(present=[m.ref for m in plan.models if m.ref in plan.installed])
    reporter: PlainProgress | RichProgress = RichProgress() if sys.stderr.isatty() else PlainProgress()
    ref = ""
    try:
        for i, m in enumerate(missing):
            ref = m.ref
            reporter.start(ref, int(m.size_gb * GB))
            try:
                server.pull(ref, reporter.update)
            except OllamaUnavailable as exc:
                # The server went away: the rest would fail the same way.
                reporter.finish(False)
                outcome.failed[ref] = str(exc)
                outcome.not_started = [later.ref for later in missing[i + 1:]]
                break
            except OllamaError as exc:
                reporter.finish(False)
                outcome.failed[ref] = str(exc)
            else:
                reporter.finish(True)
                outcome.installed.append(ref)
    except KeyboardInterrupt:
        reporter.close()
        done = ", ".join(outcome.installed) or "none"
        click.echo(f"\nInterrupted while pulling {ref}. Finished: {done}. "
                   "Run the same command again to resume where it stopped.", err=True)
        _record_install(profiles, tier, outcome)
        sys.exit(EXIT_INTERRUPTED)
    reporter.close()
    _record_install(profiles, tier, outcome)
    _summary(outcome)
    if outcome.failed or outcome.not_started:
        sys.exit(1)


def _record_install(profiles, tier: str, outcome: InstallOutcome) -> None:
    have = set(outcome.installed) | set(outcome.present)
    for p in profiles:
        if any(m.ref in have for m in p.models_for(tier)):
            record_use("install", profile=p.name, tier=tier)


def _summary(outcome: InstallOutcome) -> None:
    click.echo()
    if outcome.installed:
        click.echo(style("Installed: ", fg="green", bold=True) + ", ".join(outcome.installed))
    if outcome.present:
        click.echo("Already present: " + ", ".join(outcome.present))
    for ref, why in outcome.failed.items():
        click.echo(style("Failed: ", fg="red", bold=True) + f"{ref}: {why}")
    if outcome.not_started:
        click.echo("Not attempted (Ollama went away): " + ", ".join(outcome.not_started))
    if outcome.failed or outcome.not_started:
        click.echo("Run the same command again: finished models are skipped and interrupted ones resume.")


@cli.command("install")
@click.argument("profiles", nargs=-1, required=True)
@click.option("--tier", type=click.Choice(TIERS), default="all", show_default=True,
              help="fast, quality, or both (all).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before downloading.")
@click.option("--dry-run", is_flag=True, help="Show the plan and the disk check; download nothing.")
@host_option
def install_cmd(profiles: tuple[str, ...], tier: str, yes: bool, dry_run: bool, host: str | None) -> None:
    """Pull the models of one or more profiles into Ollama.

    Shows a plan first (models, what is already installed, bytes to download with shared models
    counted once, free disk), asks before downloading, then pulls with a progress bar per model.
    Exit status 0 only if every model is present at the end.

    \b
    Examples:
      taskprof install programming
      taskprof install research writing --tier fast --yes
      taskprof install document-intelligence --dry-run
    """
    run_install(list(profiles), tier, yes, dry_run, host)


# --- status -----------------------------------------------------------------------------------------


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--memory", metavar="SIZE", help="Judge fit for a machine with SIZE of memory, e.g. 64GB.")
@host_option
def status_cmd(as_json: bool, memory: str | None, host: str | None) -> None:
    """The Ollama server, and for every profile which tiers are installed, partial or missing.

    Tiers this machine's memory cannot hold are marked; measured speed from `taskprof bench`
    is shown where a model has been benchmarked.

    \b
    Example:
      taskprof status --json
    """
    from recommender import hardware, installer, usage
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    machine = hardware.detect(memory)
    server = installer.Server(host)
    error: TaskprofError | None = None
    version = None
    have: dict[str, installer.InstalledModel] | None = None
    try:
        version = server.version()
        have = server.installed()
    except TaskprofError as exc:
        error = exc
    bench = usage.latest_bench()
    profiles = []
    for p in catalogue.values():
        tiers = {}
        for m in p.models:
            present = None if have is None else m.ref in have
            measured = bench.get(m.ref)
            tiers[m.tier] = {
                "model": m.ref,
                "installed": present,
                "disk_bytes": have[m.ref].size if have and m.ref in have else 0,
                "fits": hardware.fits(m, machine),
                "memory_gb": round(hardware.model_memory_bytes(m) / GB, 1),
                "seconds_per_response": round(measured.seconds_per_response, 2) if measured and measured.seconds_per_response else None,
                "expected_seconds": list(hardware.expected_seconds(m)),
            }
        states = [t["installed"] for t in tiers.values()]
        state = "unknown" if have is None else "installed" if all(states) else "partial" if any(states) else "missing"
        profiles.append({"name": p.name, "kind": p.kind, "state": state, "tiers": tiers})
    server_info = {"host": server.host, "reachable": have is not None, "version": version,
                   "error": None if error is None else str(error)}
    local = installer.is_local(server.host)
    machine_info = {
        "total_gb": round(machine.total_bytes / GB, 1),
        "available_gb": round(machine.available_bytes / GB, 1) if machine.available_bytes else None,
        "gpu_gb": round(machine.gpu_bytes / GB, 1) if machine.gpu_bytes else None,
        "unified_memory": machine.unified,
        "source": machine.source,
        # A remote server's disk cannot be seen from here.
        "models_dir": str(installer.models_dir()) if local else None,
        "free_disk_gb": round(installer.free_bytes(installer.models_dir()) / GB, 1) if local else None,
    }
    report_read_warnings()
    if as_json:
        echo_json({"server": server_info, "memory_gb": round(machine.total_bytes / GB, 1),
                   "machine": machine_info, "profiles": profiles})
    else:
        reach = style("reachable", fg="green") if error is None else style("not reachable", fg="red")
        click.echo(f"Ollama at {server.host}: {reach}" + (f", version {version}" if version else ""))
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
                mark = "" if t["fits"] else " x"
                state = "?" if t["installed"] is None else ("yes" if t["installed"] else "no")
                speed = f", {t['seconds_per_response']:.1f} s/answer" if t["seconds_per_response"] else ""
                cells.append(f"{t['model']} [{state}{mark}{speed}]")
            disk = sum(t["disk_bytes"] for t in {t["model"]: t for t in p["tiers"].values()}.values())
            cells.append(_bytes(disk) if disk else "-")
            rows.append(cells)
        click.echo(table(["profile", "state", "fast [installed]", "quality [installed]", "on disk"], rows, right=(4,)))
    if error is not None:
        raise error


# --- remove -----------------------------------------------------------------------------------------


@cli.command("remove")
@click.argument("profile")
@click.option("--tier", type=click.Choice(TIERS), default="all", show_default=True, help="Which tier(s) to remove.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@host_option
def remove_cmd(profile: str, tier: str, yes: bool, host: str | None) -> None:
    """Delete a profile's models that no other profile you use still needs.

    A model stays when another profile uses it and that profile is in use: you installed it
    with taskprof, or another of its models is installed.

    \b
    Example:
      taskprof remove brainstorming --tier quality
    """
    from recommender import installer, usage
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    target = catalogue.get_profile(profile)
    server = installer.Server(host)
    have = server.installed()
    removal = installer.plan_removal(catalogue, target, tier, have, usage.installed_by_user() - {target.name})
    goes, stays = removal.goes, removal.stays
    for ref in goes:
        click.echo(f"  remove  {ref} ({_bytes(have[ref].size)})")
    for ref, why in stays:
        click.echo(f"  keep    {ref}: {why}")
    if not goes:
        click.echo("Nothing to delete.")
        return
    _consent(f"Delete {len(goes)} model(s)?", yes, "not deleting without a yes: run this in a terminal, or add --yes")
    for ref in goes:
        server.delete(ref)
    click.echo(style("Deleted: ", bold=True) + ", ".join(goes))
    record_use("remove", profile=target.name, tier=tier)


# --- update -----------------------------------------------------------------------------------------


@cli.command("update")
@click.argument("profiles", nargs=-1)
@host_option
def update_cmd(profiles: tuple[str, ...], host: str | None) -> None:
    """Re-pull installed models whose profile follows "latest"; report which changed.

    \b
    Examples:
      taskprof update
      taskprof update fast balanced
    """
    from recommender import installer
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    chosen = [catalogue.get_profile(n) for n in profiles] if profiles else list(catalogue.values())
    server = installer.Server(host)
    server.version()
    have = server.installed()
    # A build that any profile pins is held, even where another profile follows "latest" for it.
    pinned = {m.ref for p in catalogue.values() for m in p.models if m.pinned_digest}
    refs = list(dict.fromkeys(m.ref for p in chosen for m in p.models
                              if m.follows_latest and m.ref in have and m.ref not in pinned))
    if not refs:
        click.echo('No installed model of these profiles follows "latest": nothing to update.')
        return
    reporter = RichProgress() if sys.stderr.isatty() else PlainProgress()
    failed = {}
    changed, same = [], []
    try:
        for ref in refs:
            before = have[ref].digest
            reporter.start(ref, have[ref].size)
            try:
                server.pull(ref, reporter.update)
            except OllamaError as exc:
                reporter.finish(False)
                failed[ref] = str(exc)
                continue
            reporter.finish(True)
            after = server.installed().get(ref)
            digest = after.digest if after else ""
            (changed if digest != before else same).append((ref, before, digest))
    except KeyboardInterrupt:
        reporter.close()
        click.echo("\nInterrupted. Updated so far: " + (", ".join(r for r, _, _ in changed + same) or "none"), err=True)
        sys.exit(EXIT_INTERRUPTED)
    reporter.close()
    for ref, before, after in changed:
        click.echo(style("updated   ", fg="green") + f"{ref}: {before[:12]} -> {after[:12]}")
    for ref, before, _ in same:
        click.echo(f"unchanged {ref}: {before[:12]}")
    for ref, why in failed.items():
        click.echo(style("failed    ", fg="red") + f"{ref}: {why}")
    for p in chosen:
        if any(m.ref in refs for m in p.models):
            record_use("update", profile=p.name)
    if failed:
        sys.exit(1)


# --- ask --------------------------------------------------------------------------------------------


@cli.command("ask")
@click.argument("text", nargs=-1)
@click.option("--tier", type=click.Choice(["fast", "quality"]), help="Prefer this tier (default: what fits this machine).")
@click.option("--memory", metavar="SIZE", help="Choose the tier as if this machine had SIZE of memory.")
@click.option("--no-log", is_flag=True, help="Do not record this in the usage log.")
@host_option
def ask_cmd(text: tuple[str, ...], tier: str | None, memory: str | None, no_log: bool, host: str | None) -> None:
    """Classify a task and let the right installed model answer it, streamed.

    The recommended tier answers if it is installed, else the other one. The task comes from the
    arguments or from standard input.

    \b
    Examples:
      taskprof ask "explain what a race condition is"
      git diff | taskprof ask --tier quality
    """
    from recommender import classifier as clf_mod
    from recommender import hardware, installer
    from recommender.cli.cmd_suggest import task_text
    from recommender.profiles import load_catalogue

    raw = task_text(text)
    clean = clf_mod.clean_text(raw)
    prediction = clf_mod.load("static").predict([clean])[0]
    chosen = clf_mod.FALLBACK_PROFILE if prediction.abstained else prediction.profile
    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    profile = catalogue.get_profile(chosen)
    preferred = tier or hardware.recommend_tier(profile, hardware.detect(memory)).tier
    server = installer.Server(host, read_timeout=installer.CHAT_READ_TIMEOUT)
    have = server.installed()
    order = [preferred, "quality" if preferred == "fast" else "fast"]
    model = next((m for t in order for m in profile.models_for(t) if m.ref in have), None)
    if model is None:
        raise InstallRefused(
            f"no model of '{profile.name}' is installed on {server.host}: "
            f"run `taskprof install {profile.name} --tier {preferred}` first"
        )
    note = "" if model.tier == preferred else f" ({preferred} tier not installed)"
    click.echo(style(f"[{profile.name} -> {model.ref}, {model.tier} tier{note}]", dim=True), err=True)
    started = time.monotonic()
    last = None
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
    click.echo(style(f"answered by {model.ref} in {elapsed:.1f} s{rate}", dim=True), err=True)
    if not no_log:
        record_use("ask", profile=profile.name, tier=model.tier, model=model.ref, text=clean,
                   confidence=prediction.confidence, abstained=prediction.abstained)
