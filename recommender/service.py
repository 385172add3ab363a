"""The workflows every front end shares: the CLI, the tests and `taskprof serve` call these.

One `Session` holds what a command or a server needs more than once — settings, the catalogue, the
classifier, the Ollama servers of each tier, the install state — and offers the workflows:
`decide()` (the one place a profile is chosen for a text), `plan_install()`/`install()`,
`plan_removal()`/`remove()`, `update()`, `installed_state()`, `record()`. Nothing here prints,
prompts or exits: results are dataclasses, failures are TaskprofError, progress goes through a
callback object, and warnings collect in `Session.warnings` for the front end to show.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from recommender import classifier as clf_mod
from recommender import hardware, installer, usage
from recommender import state as state_mod
from recommender.errors import (
    ArtifactError,
    InputError,
    InstallRefused,
    OllamaError,
    OllamaUnavailable,
    TaskprofError,
)
from recommender.profiles import Catalogue, Model, Profile

TIERS = ("fast", "quality")
# How much of a task the usage log keeps: what the encoder reads, no more (a pasted diff is not kept whole).
LOG_TEXT_CHARS = 6144
REMINDER_EVERY = timedelta(days=1)


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Which profile a text gets, why, and which of its tiers suits the machine that would run it."""

    text: str  # the task as given (whitespace collapsed)
    read_text: str  # the part that decided: the instruction of a paste, else the text as the encoder read it
    profile: str  # the best task profile (after a history tie-break), even when abstaining
    confidence: float
    alternatives: tuple[clf_mod.Scored, ...]
    abstained: bool
    fallback_profile: str | None
    recommended_tier: str
    tier_reason: str
    tier_hint: str | None
    similar: tuple[clf_mod.Similar, ...]
    truncated: bool
    encoder: str
    personal: bool
    history_decided: str | None
    tier_fits: bool = True  # False: not even the recommended tier fits the machine that would run it
    focus: str | None = None
    payload_kind: str | None = None
    language: str = "en"
    language_note: str | None = None  # set when the text is in a language the classifier does not read
    id: int | None = None  # the usage-log event, once recorded

    @property
    def chosen_profile(self) -> str:
        """The profile to act on: the fallback when abstaining."""
        return self.fallback_profile or self.profile


@dataclass(frozen=True)
class PlannedModel:
    ref: str
    host: str
    size_gb: float
    tiers: tuple[str, ...]
    used_by: tuple[str, ...]
    installed: bool


@dataclass(frozen=True)
class ServerInfo:
    host: str
    version: str
    models_dir: Path | None  # None when the server is remote: its disk cannot be seen from here
    free_bytes: int | None


@dataclass(frozen=True)
class InstallPlan:
    profiles: tuple[str, ...]
    tier: str  # as asked: fit, fast, quality or all
    tiers: dict[str, tuple[str, ...]]  # profile -> the tiers this plan installs
    left_out: tuple[tuple[str, str, str], ...]  # (profile, tier, why it is not installed)
    servers: tuple[ServerInfo, ...]
    models: tuple[PlannedModel, ...]  # every model of the chosen tiers, each (host, ref) once

    @property
    def missing(self) -> tuple[PlannedModel, ...]:
        """What to pull: fast models first (the user can start while the big ones download), then by size."""
        return tuple(sorted((m for m in self.models if not m.installed),
                            key=lambda m: ("fast" not in m.tiers, m.size_gb)))

    def download_bytes(self, host: str | None = None) -> int:
        return int(sum(m.size_gb for m in self.missing if host in (None, m.host)) * hardware.GB)

    @property
    def disk_problem(self) -> str | None:
        for server in self.servers:
            need = self.download_bytes(server.host)
            if server.free_bytes is not None and need > server.free_bytes:
                return (f"not enough disk: the download needs {need / hardware.GB:,.1f} GB but {server.models_dir} "
                        f"has {server.free_bytes / hardware.GB:,.1f} GB free; free some space, pick --tier fast, "
                        "or set OLLAMA_MODELS to a bigger disk")
        return None


@dataclass
class InstallOutcome:
    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    resumable: bool = False  # a connection broke: running the same install again resumes

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started


@dataclass(frozen=True)
class RemovalPlan:
    profile: str
    tiers: tuple[str, ...]
    goes: tuple[tuple[str, str, int], ...]  # (host, model, bytes on disk)
    stays: tuple[tuple[str, str], ...]  # (model, why it stays)


@dataclass(frozen=True)
class ModelUpdate:
    ref: str
    host: str
    result: str  # updated, unchanged, failed
    old_digest: str
    new_digest: str
    fetched_bytes: int
    error: str | None = None


@dataclass(frozen=True)
class UpdateOutcome:
    models: tuple[ModelUpdate, ...]
    pinned: tuple[tuple[str, str], ...]  # (model, digest it is held at)

    @property
    def ok(self) -> bool:
        return all(m.result != "failed" for m in self.models)


@dataclass(frozen=True)
class TierState:
    model: str
    host: str
    installed: bool | None  # None: that server could not be asked
    disk_bytes: int
    digest: str


@dataclass(frozen=True)
class InstalledState:
    profiles: dict[str, dict[str, TierState]]  # profile -> tier -> state
    reachable: dict[str, bool]  # host -> could it be asked
    errors: dict[str, str]  # host -> why not
    versions: dict[str, str]

    def tiers(self, profile: str) -> str | None:
        """'both', 'fast', 'quality' or 'no'; None when the servers could not be asked."""
        states = self.profiles.get(profile)
        if not states or any(t.installed is None for t in states.values()):
            return None
        have = [tier for tier, t in states.items() if t.installed]
        return "both" if len(have) == len(TIERS) else have[0] if have else "no"


class Progress(Protocol):
    """What install and update report while pulling (the CLI draws bars; serve logs)."""

    def start(self, ref: str, host: str, estimate_bytes: int) -> None: ...
    def update(self, completed: int, total: int) -> None: ...
    def finish(self, ok: bool) -> None: ...


class NoProgress:
    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        pass

    def update(self, completed: int, total: int) -> None:
        pass

    def finish(self, ok: bool) -> None:
        pass


# --- the session -------------------------------------------------------------------------------


class Session:
    """One command's (or one server's) view of taskprof: settings, catalogue, classifier, servers."""

    def __init__(self, *, host: str | None = None, memory: str | None = None, encoder: str = "static",
                 log: bool = True):
        self.host_flag = host
        self.memory = memory
        self.encoder_name = encoder
        self.log = log
        self.warnings: list[str] = []
        self._servers: dict[str, installer.Server] = {}
        self._listings: dict[str, dict[str, installer.InstalledModel]] = {}

    def warn(self, message: str | None) -> None:
        if message and message not in self.warnings:
            self.warnings.append(message)

    def drain_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out

    # What a session loads at most once.

    @cached_property
    def settings(self) -> Any:
        from recommender import config

        settings = config.load()
        for message in settings.warnings:
            self.warn(message)
        return settings

    @cached_property
    def catalogue(self) -> Catalogue:
        from recommender.profiles import load_catalogue

        catalogue = load_catalogue()
        for message in catalogue.warnings:
            self.warn(message)
        return catalogue

    @cached_property
    def classifier(self) -> clf_mod.Classifier:
        """The personal head when there is a sound one; a damaged one is reported and passed over."""
        try:
            model = clf_mod.load(self.encoder_name)
            if model.personal:
                model.predict(["a probe that exercises every array of the head"], similar=1)
            return model
        except (ArtifactError, ValueError, IndexError, KeyError) as exc:
            from recommender import paths

            personal = paths.personal_model_dir()
            if self.encoder_name != "static" or not (personal / "manifest.json").exists():
                raise
            self.warn(f"your personal model in {personal} is damaged ({exc}); using the shipped classifier. "
                      "`taskprof train --reset` removes it, `taskprof train --personal` rebuilds it")
            return clf_mod.load(self.encoder_name, personal=False)

    @cached_property
    def state(self) -> state_mod.State:
        current = state_mod.load()
        self.warn(current.warning)
        return current

    def host(self, tier: str) -> str:
        """The server that holds a tier: --host, else the tier's setting, else OLLAMA_HOST / the default."""
        if self.host_flag is not None:
            return installer.resolve_host(self.host_flag)
        configured = self.settings.get(f"{tier}_host")
        return installer.resolve_host(configured) if configured else installer.resolve_host(None)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.host(t) for t in TIERS))

    def machine(self, tier: str) -> hardware.Machine | None:
        """The memory a tier's model runs in; None for a remote server whose memory was not given."""
        host = self.host(tier)
        configured = self.settings.get(f"{tier}_host_memory")
        if configured and (self.host_flag is None) and not installer.is_local(host):
            return hardware.Machine(int(configured), None, None, False, f"{tier}_host_memory")
        if installer.is_local(host) or self.memory:
            return self._local_machine
        return None

    @cached_property
    def _local_machine(self) -> hardware.Machine:
        return hardware.detect(self.memory)

    def server(self, host: str, *, read_timeout: float | None = installer.PULL_READ_TIMEOUT) -> installer.Server:
        key = f"{host} {read_timeout}"
        if key not in self._servers:
            self._servers[key] = installer.Server(host, read_timeout=read_timeout)
        return self._servers[key]

    def listing(self, host: str, *, fresh: bool = False) -> dict[str, installer.InstalledModel]:
        if fresh or host not in self._listings:
            self._listings[host] = self.server(host).installed()
        return self._listings[host]

    def profile(self, name: str) -> Profile:
        return self.catalogue.get_profile(name)

    # --- the usage log ---------------------------------------------------------------------

    def logging_on(self) -> bool:
        return self.log and bool(self.settings.get("logging", True))

    def record(self, command: str, *, profile: str | None = None, tier: str | None = None,
               model: str | None = None, confidence: float | None = None, abstained: bool | None = None,
               text: str | None = None) -> int | None:
        """Log one event unless logging is off; returns its id. The text is capped, or hashed with log_text off."""
        if not self.logging_on():
            return None
        if text is not None:
            text = text[:LOG_TEXT_CHARS]
            if not self.settings.get("log_text", True):
                import hashlib  # not at module level: OpenSSL takes milliseconds to load on every suggest

                text = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        logged = usage.record(usage.Event(command=command, profile=profile, tier=tier, model=model,
                                          confidence=confidence, abstained=abstained, text=text))
        self.warn(logged.warning)
        return logged.id

    def history(self) -> dict[str, int]:
        """Uses per profile, without the profiles the user removed."""
        try:
            counts = usage.profile_counts()
        except TaskprofError as exc:
            self.warn(f"usage history not read: {exc}")
            return {}
        for message in usage.pop_warnings():
            self.warn(message)
        return {name: n for name, n in counts.items() if name not in self.state.removed}

    # --- decide ------------------------------------------------------------------------------

    def decide(self, text: str) -> Decision:
        """The one place a profile is chosen: classifier (personal if any), history tie-break, tier fit."""
        return self.decide_many([text])[0]

    def decide_many(self, texts: list[str]) -> list[Decision]:
        if not texts:
            return []
        for t in texts:
            if not t.strip():
                raise InputError('the task description is empty: say what you want to do, '
                                 'e.g. taskprof suggest "review this contract"')
        predictions = [self._known_only(p) for p in self.classifier.predict(texts)]
        history: dict[str, int] | None = None
        tiers: dict[str, hardware.TierChoice] = {}
        out = []
        for text, p in zip(texts, predictions, strict=True):
            choice = None
            if clf_mod.is_torn(p):
                if history is None:
                    history = self.history()
                choice = clf_mod.break_tie(p, history)
            chosen = choice or (clf_mod.FALLBACK_PROFILE if p.abstained else p.profile)
            if chosen not in tiers:
                tiers[chosen] = self.tier_choice(self.profile(chosen))
            out.append(_decision(text, p, choice, tiers[chosen], self.classifier))
        return out

    def _known_only(self, p: clf_mod.Prediction) -> clf_mod.Prediction:
        """A personal model may rank first a profile of the user's own whose file is now missing or
        skipped as broken: the best profile the catalogue has takes its place, with a warning."""
        names = self.catalogue
        if p.profile in names:
            return p
        ranked = [s for s in p.alternatives if s.profile in names]
        if not ranked:
            best = max((label for label in p.probabilities if label in names), key=p.probabilities.__getitem__)
            ranked = [clf_mod.Scored(best, p.probabilities[best])]
        self.warn(f"the personal model chose '{p.profile}', which is not a profile now (its file is missing or "
                  f"was skipped); using '{ranked[0].profile}'")
        return replace(p, profile=ranked[0].profile, confidence=ranked[0].confidence, alternatives=tuple(ranked[1:]))

    def tier_choice(self, profile: Profile) -> hardware.TierChoice:
        """Which tier to start with, judged on the machine each tier runs on."""
        quality_machine = self.machine("quality")
        if quality_machine is None:
            host = self.host("quality")
            return hardware.TierChoice(
                "quality",
                f"{profile.model_for('quality').ref} runs on {host}, whose memory taskprof cannot read: "
                "the fit check was skipped (taskprof config set quality_host_memory 128GB)",
                None,
            )
        fast_machine = self.machine("fast") or quality_machine
        if self.host("quality") == self.host("fast") or fast_machine is quality_machine:
            return hardware.recommend_tier(profile, quality_machine)
        choice = hardware.recommend_tier(profile, quality_machine)
        if choice.tier == "quality":
            return hardware.TierChoice("quality", f"{choice.reason} ({self.host('quality')})", None)
        return hardware.recommend_tier(profile, fast_machine)

    def fits(self, model: Model) -> bool | None:
        machine = self.machine(model.tier)
        return None if machine is None else hardware.fits(model, machine)

    # --- install -----------------------------------------------------------------------------

    def plan_install(self, names: Iterable[str], tier: str = "fit") -> InstallPlan:
        """What installing these profiles means: tiers (by fit unless asked), servers, models, disk."""
        profiles = [self.profile(n) for n in dict.fromkeys(names)]
        chosen: dict[str, tuple[str, ...]] = {}
        left_out: list[tuple[str, str, str]] = []
        for p in profiles:
            if tier in TIERS:
                chosen[p.name] = (tier,)
            elif tier == "all":
                chosen[p.name] = TIERS
            else:
                fitting = []
                for m in p.models:
                    fit = self.fits(m)
                    if fit is False:
                        need = hardware.model_memory_bytes(m) / hardware.GB
                        left_out.append((p.name, m.tier, f"{m.ref} needs ~{need:.0f} GB, more than "
                                         f"{self._where(m.tier)} can give it (--tier all installs it anyway)"))
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
                host = self.host(m.tier)
                e = entries.setdefault((host, m.ref), {"size": m.size_gb, "tiers": [], "used_by": []})
                if m.tier not in e["tiers"]:
                    e["tiers"].append(m.tier)
                e["used_by"].append(p.name)
        servers = []
        for host in dict.fromkeys(h for h, _ in entries):
            version = self.server(host).version()
            self.listing(host, fresh=True)
            where = installer.models_dir() if installer.is_local(host) else None
            servers.append(ServerInfo(host, version, where, installer.free_bytes(where) if where else None))
        models = tuple(
            PlannedModel(ref, host, e["size"], tuple(e["tiers"]), tuple(e["used_by"]), ref in self._listings[host])
            for (host, ref), e in sorted(entries.items(), key=lambda kv: (-kv[1]["size"], kv[0]))
        )
        return InstallPlan(tuple(p.name for p in profiles), tier, chosen, tuple(left_out), tuple(servers), models)

    def _where(self, tier: str) -> str:
        machine = self.machine(tier)
        size = f"{machine.total_bytes / hardware.GB:.0f} GB" if machine else "its"
        host = self.host(tier)
        return f"this machine's {size}" if installer.is_local(host) else f"{host} ({size})"

    def install(self, plan: InstallPlan, progress: Progress | None = None) -> InstallOutcome:
        """Pull what the plan lacks; keep the install state and log the maintenance. Ctrl-C propagates,
        after the state of what finished is saved."""
        progress = progress or NoProgress()
        problem = plan.disk_problem
        if problem:
            raise InstallRefused(problem)
        outcome = InstallOutcome(present=[m.ref for m in plan.models if m.installed])
        gone: set[str] = set()  # hosts that went away: the rest there would fail the same way
        seed = self._seed_from_ollama()  # before the pulls: what was there, not what this install adds
        try:
            for m in plan.missing:
                if m.host in gone:
                    outcome.not_started.append(m.ref)
                    continue
                progress.start(m.ref, m.host, int(m.size_gb * hardware.GB))
                try:
                    self.server(m.host).pull(m.ref, progress.update)
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
            self._after_install(plan, outcome, gone, seed)
        return outcome

    def _after_install(self, plan: InstallPlan, outcome: InstallOutcome, gone: set[str],
                       seed: dict[str, set[str]]) -> None:
        have = set(outcome.installed) | set(outcome.present)
        listings = {}
        for server in plan.servers:
            if server.host not in gone and any(m.host == server.host and m.ref in outcome.installed for m in plan.models):
                with contextlib.suppress(TaskprofError):
                    listings[server.host] = self.listing(server.host, fresh=True)

        def apply(current: state_mod.State) -> None:
            _seed(current, seed)
            for name, tiers in plan.tiers.items():
                p = self.profile(name)
                done = {t for t in tiers if all(m.ref in have for m in p.models_for(t))}
                current.mark_installed(name, done)
            for m in plan.models:
                found = listings.get(m.host, {}).get(m.ref)
                if found and m.ref in outcome.installed:
                    current.record_pull(m.host, m.ref, found.digest)

        self._change_state(apply)
        for name, tiers in plan.tiers.items():
            self.record("install", profile=name, tier="all" if len(tiers) == 2 else tiers[0])

    def _change_state(self, fn) -> None:
        try:
            self.__dict__["state"] = state_mod.change(fn)
        except OSError as exc:
            self.warn(f"install state not saved: {exc}")

    def _seed_from_ollama(self) -> dict[str, set[str]]:
        """Before the first write of the state: the profiles that look installed, to start it with."""
        return {} if self.state.exists else self._inferred()

    def _inferred(self) -> dict[str, set[str]]:
        """Profiles whose every model of a tier is on that tier's server: they look installed."""
        found: dict[str, set[str]] = {}
        for p in self.catalogue.values():
            for m in p.models:
                try:
                    have = self.listing(self.host(m.tier))
                except TaskprofError:
                    continue
                if m.ref in have:
                    found.setdefault(p.name, set()).add(m.tier)
        return found

    def installed_tiers(self) -> dict[str, set[str]]:
        """Which tiers of which profiles count as installed: the state, else what Ollama holds."""
        if self.state.exists:
            return {name: set(tiers) for name, tiers in self.state.installed.items()}
        return self._inferred()

    # --- remove ------------------------------------------------------------------------------

    def plan_removal(self, name: str, tier: str = "all") -> RemovalPlan:
        """A model goes unless another installed profile needs it on the same server."""
        target = self.profile(name)
        tiers = TIERS if tier == "all" else (tier,)
        installed = self.installed_tiers()
        goes, stays = [], []
        for m in target.models_for(tier):
            host = self.host(m.tier)
            have = self.listing(host)
            if m.ref not in have:
                stays.append((m.ref, f"not installed on {host}"))
                continue
            keepers = []
            for p in self.catalogue.values():
                for other in p.models:
                    if other.ref != m.ref or self.host(other.tier) != host:
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

    def remove(self, plan: RemovalPlan) -> list[str]:
        deleted = []
        seed = self._seed_from_ollama()
        try:
            for host, ref, _ in plan.goes:
                self.server(host).delete(ref)
                deleted.append(ref)
        finally:
            def apply(current: state_mod.State) -> None:
                _seed(current, seed)
                current.mark_removed(plan.profile, set(plan.tiers))
            self._change_state(apply)
            self.record("remove", profile=plan.profile, tier="all" if len(plan.tiers) == 2 else plan.tiers[0])
        return deleted

    # --- update ------------------------------------------------------------------------------

    def update_targets(self, names: Iterable[str] = ()) -> tuple[list[tuple[str, Model]], list[tuple[str, str]]]:
        """(host, model) pairs to re-pull, each once, and the pinned ones that are held."""
        names = list(dict.fromkeys(names))
        installed = self.installed_tiers()
        chosen = [self.profile(n) for n in names] if names else [self.profile(n) for n in installed
                                                                  if n in self.catalogue]
        pulls: dict[tuple[str, str], Model] = {}
        pinned: dict[str, str] = {}
        # A build that any profile pins is held, even where another profile follows "latest" for it.
        held = {m.ref: m.pinned_digest for p in self.catalogue.values() for m in p.models if m.pinned_digest}
        for p in chosen:
            for m in p.models:
                host = self.host(m.tier)
                if m.ref not in self.listing(host):
                    continue
                if m.ref in held:
                    pinned[m.ref] = held[m.ref]
                else:
                    pulls.setdefault((host, m.ref), m)
        return [(h, m) for (h, _), m in pulls.items()], sorted(pinned.items())

    def update(self, names: Iterable[str] = (), progress: Progress | None = None) -> UpdateOutcome:
        """Re-pull every installed model that follows "latest"; say per model what changed."""
        progress = progress or NoProgress()
        targets, pinned = self.update_targets(names)
        seed = self._seed_from_ollama()
        results: list[ModelUpdate] = []
        try:
            for host, m in targets:
                before = self.listing(host)[m.ref]
                layers: dict[str, list[int]] = {}  # digest -> [completed when first seen, latest completed]

                def on_progress(digest: str, completed: int, total: int, _layers=layers) -> None:
                    _layers.setdefault(digest, [completed, completed])[1] = completed

                progress.start(m.ref, host, before.size)
                try:
                    self.server(host).pull(m.ref, progress.update, on_layer=on_progress)
                except (OllamaError, OllamaUnavailable) as exc:
                    progress.finish(False)
                    results.append(ModelUpdate(m.ref, host, "failed", before.digest, before.digest, 0, str(exc)))
                    continue
                progress.finish(True)
                after = self.listing(host, fresh=True).get(m.ref)
                digest = after.digest if after else ""
                fetched = sum(last - first for first, last in layers.values())
                results.append(ModelUpdate(m.ref, host, "updated" if digest != before.digest else "unchanged",
                                           before.digest, digest, fetched))
        finally:
            outcome = UpdateOutcome(tuple(results), tuple(pinned))

            def apply(current: state_mod.State) -> None:
                _seed(current, seed)
                for r in results:
                    if r.result != "failed":
                        rec = current.model(r.host, r.ref)
                        if rec is None or not rec.digest:
                            # First sighting: the digest before this pull is the baseline.
                            current.record_pull(r.host, r.ref, r.old_digest)
                        current.record_pull(r.host, r.ref, r.new_digest)
                if results and outcome.ok and len(results) == len(targets):
                    current.last_update = state_mod.now_utc()
            if results:
                self._change_state(apply)
                for name in {p.name for p in self.catalogue.values() for m in p.models
                             if any(r.ref == m.ref for r in results)} & set(self.installed_tiers()):
                    self.record("update", profile=name)
        return outcome

    def update_reminder(self) -> str | None:
        """Once a day at most: say that an update is due (`config set update_every 7d`)."""
        every = self.settings.get("update_every")
        if not every:
            return None
        now = datetime.now(UTC)
        current = self.state
        last = _parse_time(current.last_update)
        if last is not None and now - last < timedelta(seconds=int(every)):
            return None
        reminded = _parse_time(current.reminded_at)
        if reminded is not None and now - reminded < REMINDER_EVERY:
            return None
        self._change_state(lambda s: setattr(s, "reminded_at", state_mod.now_utc()))
        since = f"the last was {last:%Y-%m-%d}" if last else "none has run yet"
        return f"an update of your models is due ({since}): run `taskprof update`"

    # --- what is installed -------------------------------------------------------------------

    def installed_state(self, *, quick: bool = False) -> InstalledState:
        """Per profile and tier: is its model on the tier's server? `quick` gives up on a silent server fast."""
        reachable, errors, versions = {}, {}, {}
        for host in self.hosts:
            try:
                if quick and not installer.listening(host):
                    raise installer.unreachable(host)
                versions[host] = self.server(host).version()
                self.listing(host, fresh=True)
                reachable[host] = True
            except TaskprofError as exc:
                reachable[host], errors[host] = False, str(exc)
        if quick and not any(reachable.values()):
            return InstalledState({}, reachable, errors, versions)  # nothing to learn: skip the catalogue
        profiles = {}
        for p in self.catalogue.values():
            tiers = {}
            for m in p.models:
                host = self.host(m.tier)
                have = self._listings.get(host) if reachable.get(host) else None
                found = have.get(m.ref) if have else None
                tiers[m.tier] = TierState(m.ref, host, None if have is None else found is not None,
                                          found.size if found else 0, found.digest if found else "")
            profiles[p.name] = tiers
        return InstalledState(profiles, reachable, errors, versions)

    # --- ask ---------------------------------------------------------------------------------

    def installed_model(self, decision_or_profile: Decision | str, tier: str | None = None) -> tuple[Model, str, str | None]:
        """The model that should answer: the preferred tier if installed, else the other one.
        Returns (model, host, note); InstallRefused when neither is installed."""
        if isinstance(decision_or_profile, Decision):
            profile = self.profile(decision_or_profile.chosen_profile)
            preferred = tier or decision_or_profile.recommended_tier
        else:
            profile = self.profile(decision_or_profile)
            preferred = tier or self.tier_choice(profile).tier
        for t in (preferred, "quality" if preferred == "fast" else "fast"):
            for m in profile.models_for(t):
                host = self.host(t)
                if m.ref in self.listing(host):
                    note = None if t == preferred else f"{preferred} tier not installed"
                    return m, host, note
        raise InstallRefused(f"no model of '{profile.name}' is installed on {self.host(preferred)}: "
                             f"run `taskprof install {profile.name} --tier {preferred}` first")

    # --- auto-install ------------------------------------------------------------------------

    def auto_install_due(self, decision: Decision) -> tuple[str, str] | None:
        """(profile, tier) when auto_install is on, the profile was suggested often enough, and the
        tier it would pull is missing; None otherwise. Never raises: problems become warnings."""
        try:
            if not self.settings.get("auto_install") or decision.abstained:
                return None
            after = int(self.settings.get("auto_install_after", 3))
            name = decision.chosen_profile
            if usage.times_suggested(name) < after:
                return None
            wanted = self.settings.get("auto_install_tier", "fast")
            tiers = TIERS if wanted == "all" else (wanted,)
            profile = self.profile(name)
            for t in tiers:
                for m in profile.models_for(t):
                    if m.ref not in self.listing(self.host(t)):
                        return name, wanted
            return None
        except TaskprofError as exc:
            self.warn(f"auto-install skipped: {exc}")
            return None


    # --- the usage log, read -----------------------------------------------------------------

    def usage_stats(self, days: int | None = None, *, quick: bool = True) -> tuple[usage.Stats, InstalledState | None]:
        """Uses per profile, with which tiers of each are installed (None when Ollama cannot be asked)."""
        result, warning = usage.stats(days)
        self.warn(warning)
        return result, self.installed_state(quick=quick) if result.profiles else None

    # --- bench -------------------------------------------------------------------------------

    def bench_targets(self, targets: Iterable[str], tier: str = "all") -> tuple[list[BenchTarget], list[str]]:
        """What `taskprof bench` measures: profiles' models of a tier, or models named by tag, each once,
        on the server of its tier. Returns (installed targets, skipped refs)."""
        from recommender import bench
        from recommender.profiles import check_name

        targets = list(targets) or list(self.catalogue)
        wanted: dict[str, BenchTarget] = {}
        for target in targets:
            if target in self.catalogue:
                for m in self.catalogue[target].models_for(tier):
                    wanted.setdefault(m.ref, BenchTarget(m.ref, self.host(m.tier), target, m.tier, m.params_b))
                continue
            ref = installer.normal_ref(target)
            # A model named directly: it answers the prompts of the first profile that has it, as that
            # profile's tier — a pair that belongs together, not one profile's name with another's tier.
            owner = next(((p, m) for p in self.catalogue.values() for m in p.models if m.ref == ref), None)
            if owner is None and ":" not in target:
                check_name(target)  # path-like names get the usual error
                if ref not in self.listing(self.host("fast")):
                    raise InputError(f"'{target}' is neither a profile nor a model: try `taskprof profiles` "
                                     "or a tag like llama3.1:8b")
            if owner:
                p, m = owner
                wanted.setdefault(ref, BenchTarget(ref, self.host(m.tier), p.name, m.tier, m.params_b))
            else:
                wanted.setdefault(ref, BenchTarget(ref, self.host("fast"), None, None, bench.params_from_tag(ref)))
        present = [t for t in wanted.values() if t.ref in self.listing(t.host)]
        skipped = [t.ref for t in wanted.values() if t.ref not in self.listing(t.host)]
        return present, skipped

    # --- corrections -------------------------------------------------------------------------

    def correct(self, profile: str, *, text: str | None = None, event_id: int | None = None) -> Correction:
        """Relabel a task: the one given, the logged suggestion `event_id`, else the newest suggestion."""
        target = self.profile(profile)
        if target.kind != "task" and not target.is_user:
            raise InputError(f"'{profile}' is a general profile; correct a task to a task profile or a profile of your own")
        predicted = None
        if text is not None:
            text = " ".join(text.split())
            if not text:
                raise InputError("--text is empty")
        else:
            event = usage.event_by_id(event_id) if event_id is not None else usage.last_suggestion()
            if event is None or event.command not in ("suggest", "ask") or not event.text:
                raise InputError(f"no logged suggestion #{event_id}" if event_id is not None else
                                 'no suggestion to correct yet: pass --text "the task" PROFILE')
            if event.text.startswith("sha256:"):
                raise InputError(f"suggestion #{event.id} was logged without its text (log_text is false): "
                                 'use --text "the task" PROFILE')
            text, predicted, event_id = event.text, event.profile, event.id
        stored = usage.record_correction(text=text, profile=target.name, predicted=predicted)
        return Correction(event_id, text, target.name, predicted, stored)


@dataclass(frozen=True)
class BenchTarget:
    ref: str
    host: str
    profile: str | None  # whose prompts it answers
    tier: str | None  # the model's tier in that profile
    params_b: float | None


@dataclass(frozen=True)
class Correction:
    event_id: int | None
    text: str
    profile: str
    was: str | None
    stored: int  # corrections stored in all


def _decision(text: str, p: clf_mod.Prediction, history_choice: str | None, tier: hardware.TierChoice,
              model: clf_mod.Classifier) -> Decision:
    profile, confidence, alternatives = p.profile, p.confidence, p.alternatives
    abstained = p.abstained and not history_choice
    if history_choice and history_choice != profile:
        chosen = next(s for s in alternatives if s.profile == history_choice)
        alternatives = (clf_mod.Scored(profile, confidence), *(s for s in alternatives if s.profile != history_choice))
        profile, confidence = chosen.profile, chosen.confidence
    focus = p.focus
    note = None if p.language_supported else (
        f"taskprof reads English task descriptions (and some German, Spanish and French); this looks like "
        f"'{p.language}', so it did not guess a profile")
    flat = " ".join(text.split())
    return Decision(
        text=flat,
        read_text=focus or flat[:LOG_TEXT_CHARS],
        profile=profile,
        confidence=confidence,
        alternatives=alternatives,
        abstained=abstained,
        fallback_profile=clf_mod.FALLBACK_PROFILE if abstained else None,
        recommended_tier=tier.tier,
        tier_reason=tier.reason,
        tier_hint=tier.hint,
        similar=p.similar,
        truncated=p.truncated,
        encoder=model.encoder_name,
        personal=model.personal,
        history_decided=history_choice,
        tier_fits=tier.fits,
        focus=focus,
        payload_kind=p.payload_kind,
        language=p.language,
        language_note=note,
    )


def _seed(current: state_mod.State, inferred: dict[str, set[str]]) -> None:
    """A state file written for the first time starts from what looked installed before the change."""
    if not current.exists:
        for name, tiers in inferred.items():
            current.mark_installed(name, tiers)


def with_id(decision: Decision, event_id: int | None) -> Decision:
    return replace(decision, id=event_id)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def iter_lines(text: str) -> Iterator[str]:
    """--batch input: one task a line, whitespace collapsed."""
    for line in text.splitlines():
        yield " ".join(line.split())
