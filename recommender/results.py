"""The results of the workflows `suggest` never runs: installs, removals, updates, status, usage,
corrections, bench and conversations. Each is a small dataclass with `to_json()`.

The modules that build them import this one; `recommender.api` names them for type annotations.
Nothing on the path of a cold `taskprof suggest` imports it: a dataclass costs about a millisecond
to create, and these 25 would add ~25 ms to every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from recommender.types import GB, JSON, TIERS, InstallTier, ProfileState, Tier, _r


@dataclass(frozen=True)
class PlannedModel:
    """One model an install would put on one server, and whether it is there already."""

    ref: str
    host: str
    size_gb: float
    tiers: tuple[Tier, ...]
    used_by: tuple[str, ...]
    installed: bool

    def to_json(self) -> JSON:
        return {"model": self.ref, "host": self.host, "size_gb": self.size_gb, "tiers": list(self.tiers),
                "used_by": list(self.used_by), "installed": self.installed}


@dataclass(frozen=True)
class ServerInfo:
    """A server an install talks to, and the free disk where it keeps models (when local)."""

    host: str
    version: str
    models_dir: Path | None  # None when the server is remote: its disk cannot be seen from here
    free_bytes: int | None


@dataclass(frozen=True)
class InstallPlan:
    """What installing some profiles means: tiers, servers, models, disk. Nothing is pulled yet."""

    profiles: tuple[str, ...]
    tier: InstallTier  # as asked
    tiers: dict[str, tuple[Tier, ...]]  # profile -> the tiers this plan installs
    left_out: tuple[tuple[str, Tier, str], ...]  # (profile, tier, why it is not installed)
    servers: tuple[ServerInfo, ...]
    models: tuple[PlannedModel, ...]  # every model of the chosen tiers, each (host, ref) once

    @property
    def missing(self) -> tuple[PlannedModel, ...]:
        """What to pull: fast models first (the user can start while the big ones download), then by size."""
        return tuple(sorted((m for m in self.models if not m.installed),
                            key=lambda m: ("fast" not in m.tiers, m.size_gb)))

    def download_bytes(self, host: str | None = None) -> int:
        return int(sum(m.size_gb for m in self.missing if host in (None, m.host)) * GB)

    @property
    def disk_problem(self) -> str | None:
        for server in self.servers:
            need = self.download_bytes(server.host)
            if server.free_bytes is not None and need > server.free_bytes:
                return (f"not enough disk: the download needs {need / GB:,.1f} GB but {server.models_dir} "
                        f"has {server.free_bytes / GB:,.1f} GB free; free some space, pick --tier fast, "
                        "or set OLLAMA_MODELS to a bigger disk")
        return None

    def to_json(self) -> JSON:
        return {"profiles": list(self.profiles), "tier": self.tier,
                "tiers": {k: list(v) for k, v in self.tiers.items()},
                "left_out": [{"profile": p, "tier": t, "why": w} for p, t, w in self.left_out],
                "servers": [{"host": s.host, "version": s.version,
                             "models_dir": str(s.models_dir) if s.models_dir else None,
                             "free_bytes": s.free_bytes} for s in self.servers],
                "models": [m.to_json() for m in self.models], "download_bytes": self.download_bytes()}


@dataclass
class InstallOutcome:
    """What an install did, model by model; `ok` only when every model is present."""

    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    resumable: bool = False  # a connection broke: running the same install again resumes

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started

    def to_json(self) -> JSON:
        return {"installed": self.installed, "present": self.present, "failed": self.failed,
                "not_started": self.not_started, "ok": self.ok}


@dataclass(frozen=True)
class RemovalPlan:
    """What removing a profile deletes, and what stays because another installed profile needs it."""

    profile: str
    tiers: tuple[Tier, ...]
    goes: tuple[tuple[str, str, int], ...]  # (host, model, bytes on disk)
    stays: tuple[tuple[str, str], ...]  # (model, why it stays)


@dataclass(frozen=True)
class Removal:
    """A removal done: the plan and the models deleted."""

    plan: RemovalPlan
    deleted: tuple[str, ...]

    def to_json(self) -> JSON:
        return {"profile": self.plan.profile, "tiers": list(self.plan.tiers), "deleted": list(self.deleted),
                "kept": [{"model": ref, "why": why} for ref, why in self.plan.stays]}


@dataclass(frozen=True)
class ModelUpdate:
    """One model's re-pull: updated, unchanged or failed, and the bytes that came."""

    ref: str
    host: str
    result: Literal["updated", "unchanged", "failed"]
    old_digest: str
    new_digest: str
    fetched_bytes: int
    error: str | None = None

    def to_json(self) -> JSON:
        return {"model": self.ref, "host": self.host, "result": self.result, "old_digest": self.old_digest,
                "new_digest": self.new_digest, "fetched_bytes": self.fetched_bytes, "error": self.error}


@dataclass(frozen=True)
class UpdateOutcome:
    """Every model an update pulled, and the pinned ones it held."""

    models: tuple[ModelUpdate, ...]
    pinned: tuple[tuple[str, str], ...]  # (model, digest it is held at)

    @property
    def ok(self) -> bool:
        return all(m.result != "failed" for m in self.models)

    def to_json(self) -> JSON:
        return {"models": [m.to_json() for m in self.models],
                "pinned": [{"model": r, "digest": d} for r, d in self.pinned], "ok": self.ok}


@dataclass(frozen=True)
class TierState:
    """A profile's tier on its server: installed, its size and digest."""

    model: str
    host: str
    installed: bool | None  # None: that server could not be asked
    disk_bytes: int
    digest: str


@dataclass(frozen=True)
class InstalledState:
    """Per profile and tier, what the servers hold; which servers could be asked."""

    profiles: dict[str, dict[Tier, TierState]]  # profile -> tier -> state
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


@dataclass(frozen=True)
class TierStatus:
    """A tier as `status` shows it: installed, fits, measured speed, last update."""

    model: str
    host: str
    installed: bool | None
    disk_bytes: int
    fits: bool | None  # None: the memory of the server that runs it is unknown
    memory_gb: float
    seconds_per_response: float | None  # measured by `taskprof bench`
    expected_seconds: tuple[int, int]
    follows_latest: bool
    last_updated: str | None
    last_pulled: str | None

    def to_json(self) -> JSON:
        return {"model": self.model, "host": self.host, "installed": self.installed, "disk_bytes": self.disk_bytes,
                "fits": self.fits, "memory_gb": self.memory_gb, "seconds_per_response": self.seconds_per_response,
                "expected_seconds": list(self.expected_seconds), "follows_latest": self.follows_latest,
                "last_updated": self.last_updated, "last_pulled": self.last_pulled}


@dataclass(frozen=True)
class ProfileStatus:
    """A profile as `status` shows it."""

    name: str
    kind: str
    state: ProfileState
    installed: str | None  # both, fast, quality, no; None when a server could not be asked
    tiers: dict[Tier, TierStatus]

    def to_json(self) -> JSON:
        return {"name": self.name, "kind": self.kind, "state": self.state, "installed": self.installed,
                "tiers": {t: s.to_json() for t, s in self.tiers.items()}}


@dataclass(frozen=True)
class ServerStatus:
    """An Ollama server, whether it answered, and which tiers it holds."""

    host: str
    reachable: bool
    version: str | None
    error: str | None
    tiers: tuple[Tier, ...]

    def to_json(self) -> JSON:
        return {"host": self.host, "reachable": self.reachable, "version": self.version, "error": self.error,
                "tiers": list(self.tiers)}


@dataclass(frozen=True)
class MachineStatus:
    """The memory fit is judged on, and the disk where local models are kept."""

    total_gb: float | None
    available_gb: float | None
    gpu_gb: float | None
    unified_memory: bool | None
    source: str | None
    models_dir: str | None  # a remote server's disk cannot be seen from here
    free_disk_gb: float | None

    def to_json(self) -> JSON:
        return {"total_gb": self.total_gb, "available_gb": self.available_gb, "gpu_gb": self.gpu_gb,
                "unified_memory": self.unified_memory, "source": self.source, "models_dir": self.models_dir,
                "free_disk_gb": self.free_disk_gb}


@dataclass(frozen=True)
class Status:
    """Everything `taskprof status` reports."""

    servers: tuple[ServerStatus, ...]
    machine: MachineStatus
    last_update: str | None
    profiles: tuple[ProfileStatus, ...]

    @property
    def ok(self) -> bool:
        return all(s.reachable for s in self.servers)

    def to_json(self) -> JSON:
        first = {k: v for k, v in self.servers[0].to_json().items() if k != "tiers"}
        return {"server": first, "servers": [s.to_json() for s in self.servers], "machine": self.machine.to_json(),
                "last_update": self.last_update, "profiles": [p.to_json() for p in self.profiles]}


@dataclass(frozen=True)
class ProfileUse:
    """A profile's uses in the usage log, with which of its tiers are installed."""

    profile: str
    uses: int
    share: float
    last_used: str
    top_tier: str | None
    installed: str | None  # both, fast, quality, no; None when Ollama could not be asked

    def to_json(self) -> JSON:
        return {"profile": self.profile, "uses": self.uses, "share": _r(self.share), "last_used": self.last_used,
                "installed": self.installed, "top_tier": self.top_tier}


@dataclass(frozen=True)
class UsageStats:
    """Uses per profile over a period, and the commands recorded."""

    total: int
    days: int | None
    profiles: tuple[ProfileUse, ...]
    commands: dict[str, int]
    ollama_reachable: bool | None  # None: not asked (nothing to show)
    conversations: int = 0  # routed conversations (serve, ask -c), each counted once whatever its turns
    switches: int = 0  # turns that moved a conversation to a profile it had not used yet

    def to_json(self) -> JSON:
        return {"total": self.total, "days": self.days, "profiles": [p.to_json() for p in self.profiles],
                "commands": self.commands, "conversations": self.conversations, "switches": self.switches}


@dataclass(frozen=True)
class History:
    """With no task given: the profiles used most, and which of them still lack an install."""

    profiles: tuple[ProfileUse, ...]
    ollama_reachable: bool | None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(u.profile for u in self.profiles if u.installed == "no")

    def to_json(self) -> JSON:
        missing = self.missing
        return {"profiles": [{"profile": u.profile, "uses": u.uses, "share": _r(u.share), "last_used": u.last_used,
                              "installed": u.installed} for u in self.profiles],
                "install_command": f"taskprof install {' '.join(missing)}" if missing else None}


@dataclass(frozen=True)
class Corrected:
    """A relabelled task (a correction `taskprof train --personal` learns from)."""

    event_id: int | None
    text: str
    profile: str
    was: str | None
    stored: int  # corrections stored in all

    def to_json(self) -> JSON:
        return {"id": self.event_id, "text": self.text, "profile": self.profile, "was": self.was,
                "corrections": self.stored}


@dataclass(frozen=True)
class Trained:
    """What `train --personal` fitted, and how it compares with the shipped classifier."""

    shipped_cv: float
    personal_cv: float
    corrections: int
    labels: tuple[str, ...]
    new_labels: tuple[str, ...]
    ignored: dict[str, int]  # user profiles with too few corrections, and how many they have
    needed: int  # corrections a new profile needs
    saved_to: Path | None

    def to_json(self) -> JSON:
        return {"shipped_cv_top1": round(self.shipped_cv, 4), "personal_cv_top1": round(self.personal_cv, 4),
                "corrections": self.corrections, "labels": list(self.labels), "new_labels": list(self.new_labels),
                "ignored": self.ignored, "path": str(self.saved_to)}


@dataclass(frozen=True)
class BenchTarget:
    """A model to measure, on the server of its tier, with the prompts of the profile it serves."""

    ref: str
    host: str
    profile: str | None  # whose prompts it answers
    tier: Tier | None  # the model's tier in that profile
    params_b: float | None


@dataclass(frozen=True)
class BenchRun:
    """One model's measured speed, from Ollama's own timings."""

    model: str
    profile: str | None
    tier: Tier | None
    responses: int
    load_seconds: float
    ttft_seconds: float
    prompt_tokens_per_second: float | None
    tokens_per_second: float | None
    seconds_per_response: float
    expected_seconds: tuple[int, int] | None

    @property
    def verdict(self) -> str:
        if self.expected_seconds is None:
            return "no estimate"
        lo, hi = self.expected_seconds
        if self.seconds_per_response < lo:
            return "faster than expected"
        return "as expected" if self.seconds_per_response <= hi else "slower than expected"

    def to_json(self) -> JSON:
        return {"model": self.model, "profile": self.profile, "tier": self.tier, "responses": self.responses,
                "tokens_per_second": self.tokens_per_second, "prompt_tokens_per_second": self.prompt_tokens_per_second,
                "seconds_per_response": self.seconds_per_response, "load_seconds": self.load_seconds,
                "ttft_seconds": self.ttft_seconds,
                "expected_seconds": list(self.expected_seconds) if self.expected_seconds else None,
                "verdict": self.verdict}


@dataclass(frozen=True)
class BenchReport:
    """Every model measured, and the ones asked for that are not installed."""

    hosts: tuple[str, ...]
    skipped: tuple[str, ...]  # asked for but not installed
    runs: tuple[BenchRun, ...]

    def to_json(self) -> JSON:
        return {"hosts": list(self.hosts), "skipped": list(self.skipped), "models": [r.to_json() for r in self.runs]}


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation `ask -c` can continue."""

    id: str
    profile: str | None
    turns: int  # user turns
    last_used: str

    def to_json(self) -> JSON:
        return {"id": self.id, "profile": self.profile, "turns": self.turns, "last_used": self.last_used}


@dataclass(frozen=True)
class AnswerModel:
    """Which installed model answers a routed request, on which server, and why not the preferred tier."""

    ref: str
    tier: Tier
    host: str
    note: str | None
