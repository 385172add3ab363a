"""Plan and run installs and removals, and say what is installed where (updates: updates.py).

Each workflow is a plan (what would change, read from the servers; nothing changes) and a run
(pull or delete with progress, then state.json and the usage log). The state file starts from
what Ollama already held, so the first install after an upgrade does not forget older installs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from recommender import hardware, history, lock, ollama_client
from recommender import state as state_mod
from recommender.errors import InstallRefused, OllamaError, OllamaUnavailable, TaskprofError
from recommender.profiles import Model
from recommender.results import (
    AnswerModel,
    InstalledState,
    InstallOutcome,
    InstallPlan,
    MachineStatus,
    PlannedModel,
    ProfileStatus,
    RemovalPlan,
    ServerInfo,
    ServerStatus,
    Status,
    TierState,
    TierStatus,
)
from recommender.session import Session
from recommender.types import (
    TIERS,
    Decision,
    InstallTier,
    NoProgress,
    ProfileState,
    Progress,
    Tier,
    TierSelection,
)


def _tiers(selection: str) -> tuple[Tier, ...]:
    return TIERS if selection == "all" else tuple(t for t in TIERS if t == selection)


# --- install -------------------------------------------------------------------------------------


def plan_install(session: Session, names: Iterable[str], tier: InstallTier = "fit") -> InstallPlan:
    """What installing these profiles means: tiers (by fit unless asked), servers, models, disk."""
    profiles = [session.profile(n) for n in dict.fromkeys(names)]
    chosen: dict[str, tuple[Tier, ...]] = {}
    left_out: list[tuple[str, Tier, str]] = []
    for p in profiles:
        if tier != "fit":
            chosen[p.name] = _tiers(tier)
            continue
        fitting: list[Tier] = []
        for m in p.models:
            machine = session.machine(m.tier)
            if machine is not None and session.fits(m) is False:
                need = hardware.model_memory_bytes(m) / hardware.GB
                whose = "this machine's" if session.where(m.tier).startswith("this machine") else \
                    f"{session.host(m.tier)}'s"
                left_out.append((p.name, m.tier, f"{m.ref} needs ~{need:.0f} GB, more than "
                                 f"{hardware.allowance(machine, whose)} (--tier all installs it anyway)"))
            else:
                fitting.append(m.tier)
        if not fitting:  # nothing fits: the smallest tier is still the one to try
            fitting = ["fast"]
            left_out = [x for x in left_out if (x[0], x[1]) != (p.name, "fast")]
        chosen[p.name] = tuple(t for t in TIERS if t in fitting)
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for p in profiles:
        for m in p.models:
            if m.tier not in chosen[p.name]:
                continue
            host = session.host(m.tier)
            e = entries.setdefault((host, m.ref), {"size": m.size_gb, "tiers": [], "used_by": []})
            if m.tier not in e["tiers"]:
                e["tiers"].append(m.tier)
            e["used_by"].append(p.name)
    servers = []
    for host in dict.fromkeys(h for h, _ in entries):
        version = session.server(host).version()
        session.listing(host, fresh=True)
        models_at = ollama_client.models_dir() if ollama_client.is_local(host) else None
        servers.append(ServerInfo(host, version, models_at,
                                  ollama_client.free_bytes(models_at) if models_at else None))
    models = tuple(
        PlannedModel(ref, host, e["size"], tuple(e["tiers"]), tuple(e["used_by"]), ref in session.listing(host))
        for (host, ref), e in sorted(entries.items(), key=lambda kv: (-kv[1]["size"], kv[0]))
    )
    return InstallPlan(tuple(p.name for p in profiles), tier, chosen, tuple(left_out), tuple(servers), models)


def install(session: Session, plan: InstallPlan, progress: Progress | None = None) -> InstallOutcome:
    """Pull what the plan lacks; keep the install state and log the maintenance. Ctrl-C propagates,
    after the state of what finished is saved.

    Under the state lock, the plan is made again from fresh state (the one passed in is what the user
    saw and agreed to: same profiles, same tier choice), so two installs and a removal run at once
    never pull or delete on the strength of a stale model list."""
    with lock.state_lock("taskprof install " + " ".join(plan.profiles)):
        session.forget()
        return _install(session, plan_install(session, plan.profiles, plan.tier), progress)


def _install(session: Session, plan: InstallPlan, progress: Progress | None) -> InstallOutcome:
    progress = progress or NoProgress()
    problem = plan.disk_problem
    if problem:
        raise InstallRefused(problem)
    outcome = InstallOutcome(present=[m.ref for m in plan.models if m.installed])
    gone: set[str] = set()  # hosts that went away: the rest there would fail the same way
    seed = seed_from_ollama(session)  # before the pulls: what was there, not what this install adds
    try:
        for m in plan.missing:
            if m.host in gone:
                outcome.not_started.append(m.ref)
                continue
            progress.start(m.ref, m.host, int(m.size_gb * hardware.GB))
            try:
                session.server(m.host).pull(m.ref, progress.update)
            except OllamaUnavailable as exc:
                progress.finish(False)
                outcome.failed[m.ref] = str(exc)
                outcome.resumable = True
                gone.add(m.host)
            except OllamaError as exc:
                progress.finish(False)
                outcome.failed[m.ref] = str(exc)
                outcome.resumable = outcome.resumable or exc.resumable
            else:
                progress.finish(True)
                outcome.installed.append(m.ref)
    finally:
        _after_install(session, plan, outcome, gone, seed)
    return outcome


def _after_install(session: Session, plan: InstallPlan, outcome: InstallOutcome, gone: set[str],
                   seed: dict[str, set[str]]) -> None:
    have = set(outcome.installed) | set(outcome.present)
    listings = {}
    for server in plan.servers:
        if server.host not in gone and any(m.host == server.host and m.ref in outcome.installed for m in plan.models):
            with contextlib.suppress(TaskprofError):  # the digests are a nicety; the install itself is done
                listings[server.host] = session.listing(server.host, fresh=True)

    def apply(current: state_mod.State) -> None:
        seed_state(current, seed)
        for name, tiers in plan.tiers.items():
            p = session.profile(name)
            done: set[str] = {t for t in tiers if all(m.ref in have for m in p.models_for(t))}
            current.mark_installed(name, done)
        for m in plan.models:
            found = listings.get(m.host, {}).get(m.ref)
            if found and m.ref in outcome.installed:
                current.record_pull(m.host, m.ref, found.digest)

    session.change_state(apply)
    for name, tiers in plan.tiers.items():
        history.record(session, "install", profile=name, tier="all" if len(tiers) == 2 else tiers[0])


def seed_state(current: state_mod.State, inferred: dict[str, set[str]]) -> None:
    """A state file written for the first time starts from what looked installed before the change."""
    if not current.exists:
        for name, tiers in inferred.items():
            current.mark_installed(name, tiers)


def seed_from_ollama(session: Session) -> dict[str, set[str]]:
    """Before the first write of the state: the profiles that look installed, to start it with."""
    return {} if session.state.exists else inferred(session)


def inferred(session: Session) -> dict[str, set[str]]:
    """Profiles whose every model of a tier is on that tier's server: they look installed."""
    found: dict[str, set[str]] = {}
    for p in session.catalogue.values():
        for m in p.models:
            try:
                have = session.listing(session.host(m.tier))
            except TaskprofError:
                continue
            if m.ref in have:
                found.setdefault(p.name, set()).add(m.tier)
    return found


def installed_tiers(session: Session) -> dict[str, set[str]]:
    """Which tiers of which profiles count as installed: the state, else what Ollama holds."""
    if session.state.exists:
        return {name: set(tiers) for name, tiers in session.state.installed.items()}
    return inferred(session)


# --- remove ------------------------------------------------------------------------------------


def plan_removal(session: Session, name: str, tier: TierSelection = "all") -> RemovalPlan:
    """A model goes unless another installed profile needs it on the same server."""
    target = session.profile(name)
    tiers = _tiers(tier)
    installed = installed_tiers(session)
    goes: list[tuple[str, str, int]] = []
    stays: list[tuple[str, str]] = []
    for m in target.models_for(tier):
        host = session.host(m.tier)
        have = session.listing(host)
        if m.ref not in have:
            stays.append((m.ref, f"not installed on {host}"))
            continue
        keepers = []
        for p in session.catalogue.values():
            for other in p.models:
                if other.ref != m.ref or session.host(other.tier) != host:
                    continue
                if p.name == target.name and other.tier in tiers:
                    continue
                if other.tier in installed.get(p.name, set()):
                    keepers.append(p.name if p.name != target.name else f"{p.name} ({other.tier} tier)")
        if keepers:
            stays.append((m.ref, "still used by " + ", ".join(dict.fromkeys(keepers))))
        elif (host, m.ref) not in {(h, r) for h, r, _ in goes}:
            goes.append((host, m.ref, have[m.ref].size))
    return RemovalPlan(target.name, tiers, tuple(goes), tuple(stays))


def remove(session: Session, plan: RemovalPlan) -> list[str]:
    """Delete what the plan made again under the state lock from fresh state says goes (a model another
    profile has come to need since the plan was shown stays). A run that changed nothing is not logged."""
    with lock.state_lock(f"taskprof remove {plan.profile}"):
        session.forget()
        plan = plan_removal(session, plan.profile, "all" if len(plan.tiers) == len(TIERS) else plan.tiers[0])
        was_installed = bool(installed_tiers(session).get(plan.profile, set()) & set(plan.tiers))
        deleted: list[str] = []
        seed = seed_from_ollama(session)
        try:
            for host, ref, _ in plan.goes:
                session.server(host).delete(ref)
                deleted.append(ref)
        finally:
            if deleted or was_installed:
                def apply(current: state_mod.State) -> None:
                    seed_state(current, seed)
                    current.mark_removed(plan.profile, set(plan.tiers))
                session.change_state(apply)
                history.record(session, "remove", profile=plan.profile,
                               tier="all" if len(plan.tiers) == 2 else plan.tiers[0])
    return deleted


# --- which model answers -------------------------------------------------------------------------


def installed_model(session: Session, decision_or_profile: Decision | str,
                    tier: Tier | None = None) -> tuple[Model, str, str | None]:
    """The model that should answer: the preferred tier if installed, else the other one.
    Returns (model, host, note); InstallRefused when neither is installed."""
    if isinstance(decision_or_profile, Decision):
        profile = session.profile(decision_or_profile.chosen_profile)
        preferred = tier or decision_or_profile.recommended_tier
    else:
        profile = session.profile(decision_or_profile)
        preferred = tier or session.tier_choice(profile).tier
    other: Tier = "quality" if preferred == "fast" else "fast"
    for t in (preferred, other):
        for m in profile.models_for(t):
            host = session.host(t)
            if m.ref in session.listing(host):
                note = None if t == preferred else f"{preferred} tier not installed"
                return m, host, note
    raise InstallRefused(f"no model of '{profile.name}' is installed on {session.host(preferred)}: "
                         f"run `taskprof install {profile.name} --tier {preferred}` first")


def answer_model(session: Session, profile: str, tier: Tier | None = None) -> AnswerModel:
    model, host, note = installed_model(session, profile, tier)
    return AnswerModel(model.ref, model.tier, host, note)


def auto_install_due(session: Session, decision: Decision) -> tuple[str, InstallTier] | None:
    """(profile, tier) when auto_install is on, the profile was suggested often enough, and the
    tier it would pull is missing; None otherwise. Never raises: problems become warnings."""
    from recommender import usage

    try:
        if not session.settings.get("auto_install") or decision.abstained:
            return None
        after = int(session.settings.get("auto_install_after", 3))
        name = decision.chosen_profile
        if usage.times_suggested(name) < after:
            return None
        wanted = session.settings.get("auto_install_tier", "fast")
        profile = session.profile(name)
        for t in _tiers(wanted):
            for m in profile.models_for(t):
                if m.ref not in session.listing(session.host(t)):
                    return name, wanted
        return None
    except TaskprofError as exc:
        session.warn(f"auto-install skipped: {exc}")
        return None


# --- what is installed where ---------------------------------------------------------------------


def installed_state(session: Session, *, quick: bool = False) -> InstalledState:
    """Per profile and tier: is its model on the tier's server? `quick` gives up on a silent server fast."""
    reachable: dict[str, bool] = {}
    errors: dict[str, str] = {}
    versions: dict[str, str] = {}
    for host in session.hosts:
        try:
            if quick and not ollama_client.listening(host):
                raise ollama_client.unreachable(host)
            versions[host] = session.server(host).version()
            session.listing(host, fresh=True)
            reachable[host] = True
        except TaskprofError as exc:
            reachable[host], errors[host] = False, str(exc)
    if quick and not any(reachable.values()):
        return InstalledState({}, reachable, errors, versions)  # nothing to learn: skip the catalogue
    profiles: dict[str, dict[Tier, TierState]] = {}
    for p in session.catalogue.values():
        tiers: dict[Tier, TierState] = {}
        for m in p.models:
            host = session.host(m.tier)
            have = session.listing(host) if reachable.get(host) else None
            found = have.get(m.ref) if have is not None else None
            tiers[m.tier] = TierState(m.ref, host, None if have is None else found is not None,
                                      found.size if found else 0, found.digest if found else "")
        profiles[p.name] = tiers
    return InstalledState(profiles, reachable, errors, versions)


def status(session: Session) -> Status:
    """Every server, the machine, and per profile and tier: installed, fits, measured speed, last pull."""
    from recommender import usage

    state = installed_state(session)
    measured = usage.latest_bench()
    records = session.state
    profiles = []
    for p in session.catalogue.values():
        tiers: dict[Tier, TierStatus] = {}
        for m in p.models:
            t = state.profiles[p.name][m.tier]
            bench = measured.get(m.ref)
            rec = records.model(t.host, m.ref)
            tiers[m.tier] = TierStatus(
                model=m.ref, host=t.host, installed=t.installed, disk_bytes=t.disk_bytes, fits=session.fits(m),
                memory_gb=round(hardware.model_memory_bytes(m) / hardware.GB, 1),
                seconds_per_response=round(bench.seconds_per_response, 2)
                if bench and bench.seconds_per_response else None,
                expected_seconds=hardware.expected_seconds(m), follows_latest=m.follows_latest,
                last_updated=(rec.changed_at or None) if rec else None,
                last_pulled=(rec.pulled_at or None) if rec else None,
            )
        states = [t.installed for t in tiers.values()]
        summary: ProfileState = ("unknown" if None in states else "installed" if all(states)
                                 else "partial" if any(states) else "missing")
        profiles.append(ProfileStatus(p.name, p.kind, summary, state.tiers(p.name), tiers))
    servers = tuple(ServerStatus(h, state.reachable[h], state.versions.get(h), state.errors.get(h),
                                 tuple(t for t in TIERS if session.host(t) == h)) for h in session.hosts)
    return Status(servers, _machine_status(session), records.last_update or None, tuple(profiles))


def _machine_status(session: Session) -> MachineStatus:
    machine = session.machine("fast") or session.machine("quality")
    local = any(ollama_client.is_local(h) for h in session.hosts)
    where = ollama_client.models_dir() if local else None

    def gb(n: int | None) -> float | None:
        return round(n / hardware.GB, 1) if n else None

    return MachineStatus(
        total_gb=gb(machine.total_bytes) if machine else None,
        available_gb=gb(machine.available_bytes) if machine else None,
        gpu_gb=gb(machine.gpu_bytes) if machine else None,
        unified_memory=machine.unified if machine else None,
        source=machine.source if machine else None,
        models_dir=str(where) if where else None,
        free_disk_gb=round(ollama_client.free_bytes(where) / hardware.GB, 1) if where else None,
    )
