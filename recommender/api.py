"""taskprof's public Python API: the one object every front end (the CLI, `taskprof serve`, your
own code) works through.

    import recommender
    tp = recommender.Taskprof()
    d = tp.decide("review this contract").log(tp)
    print(d.chosen_profile, d.recommended_tier, d.id)

A `Taskprof` is a `Session` (what is loaded once: settings, catalogue, classifier, the server of
each tier, `machine(tier)`, the warnings channel) plus the workflows, each a one-line call into
the module that holds it. Results are dataclasses with `to_json()` (`Decision` and `Route` from
`recommender.types`, the workflows' from `recommender.results`, named here for annotations);
failures are `recommender.errors.TaskprofError`; warnings collect in `tp.warnings`
(`tp.drain_warnings()` takes them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from recommender import history, routing, usage
from recommender.errors import TaskprofError
from recommender.profiles import Model, Profile, StoragePlan, storage_plan
from recommender.session import Session
from recommender.types import Decision, InstallTier, Progress, Route, Tier, TierSelection

if TYPE_CHECKING:
    from recommender.conversations import Answer

    # The result types, named here for front ends' annotations (`from recommender.api import Status`).
    from recommender.results import AnswerModel as AnswerModel
    from recommender.results import BenchReport as BenchReport
    from recommender.results import BenchTarget as BenchTarget
    from recommender.results import ConversationInfo as ConversationInfo
    from recommender.results import Corrected as Corrected
    from recommender.results import History as History
    from recommender.results import InstalledState as InstalledState
    from recommender.results import InstallOutcome as InstallOutcome
    from recommender.results import InstallPlan as InstallPlan
    from recommender.results import Removal as Removal
    from recommender.results import RemovalPlan as RemovalPlan
    from recommender.results import Status as Status
    from recommender.results import Trained as Trained
    from recommender.results import UpdateOutcome as UpdateOutcome
    from recommender.results import UsageStats as UsageStats

# installs, updates, bench and conversations are imported inside the methods that use them
# ("# lazy" below): with the 25 result dataclasses they build they cost ~30 ms at import, which a
# cold `taskprof suggest` (decide, log, print) never needs.

__all__ = ["Model", "Profile", "Taskprof"]


class Taskprof(Session):
    """One per command, script or server. `host` sends both tiers to one Ollama (default: the
    fast_host/quality_host settings, then OLLAMA_HOST); `memory` judges fit for a machine of that
    size; `log=False` records nothing in the usage log."""

    def __init__(self, host: str | None = None, memory: str | None = None, log: bool = True, *,
                 encoder: str = "static"):
        super().__init__(host=host, memory=memory, log=log, encoder=encoder)

    # --- deciding ---------------------------------------------------------------------------------

    def decide(self, text: str) -> Decision:
        """The profile for a task description and the tier to start on. Logs nothing: `.log(tp)` does."""
        return routing.decide(self, text)

    def decide_many(self, texts: list[str]) -> list[Decision]:
        """One classifier pass for many texts (suggest --batch)."""
        return routing.decide_many(self, texts)

    def route(self, messages: Any) -> Route:
        """The profile for a conversation's latest turn (new, kept or switched) and its tier. `messages`
        is what Ollama and OpenAI clients send: a list of {"role", "content"}."""
        return routing.route(self, messages)

    def log_decision(self, decision: Decision, command: str = "suggest", *, model: str | None = None,
                     tier: Tier | None = None) -> int | None:
        return history.log_decision(self, decision, command, model=model, tier=tier)

    def log_route(self, route: Route, command: str = "ask", *, model: str | None = None,
                  tier: Tier | None = None, conversation: str | None = None) -> int | None:
        return history.log_route(self, route, command, model=model, tier=tier, conversation=conversation)

    def record(self, command: str, **fields: Any) -> int | None:
        """One event in the usage log (profile, tier, model, confidence, abstained, text)."""
        return history.record(self, command, **fields)

    def history(self, limit: int = 5) -> History:
        """The profiles used most, with which tiers of each are installed (Ollama asked briefly)."""
        from recommender import installs  # lazy

        top = history.top_profiles(limit=limit)
        state = installs.installed_state(self, quick=True) if top else None
        installed = {u.profile: state.tiers(u.profile) if state else None for u in top}
        from recommender.results import History

        return History(history.uses(top, installed), all(state.reachable.values()) if state else None)

    # --- asking -----------------------------------------------------------------------------------

    def ask(self, instruction: str, *, pasted: str | None = None, conversation: str | None = None,
            tier: Tier | None = None, keep: bool = True) -> Answer:
        """Route a prompt (and the conversation so far: `conversation="last"` or an id) to its profile's
        installed model; iterate the result for the streamed answer."""
        from recommender import conversations  # lazy

        return conversations.ask(self, instruction, pasted=pasted, conversation=conversation, tier=tier, keep=keep)

    def conversations(self) -> list[ConversationInfo]:
        from recommender import conversations  # lazy

        return [c.info() for c in conversations.stored()]

    def delete_conversation(self, cid: str) -> None:
        from recommender import conversations  # lazy

        conversations.delete(cid)

    def clear_conversations(self) -> int:
        from recommender import conversations  # lazy

        return conversations.clear()

    def installed_model(self, decision_or_profile: Decision | str, tier: Tier | None = None) -> tuple[Model, str, str | None]:
        from recommender import installs  # lazy

        return installs.installed_model(self, decision_or_profile, tier)

    def answer_model(self, profile: str, tier: Tier | None = None) -> AnswerModel:
        """The installed model that answers for a profile: the preferred tier, else the other one."""
        from recommender import installs  # lazy

        return installs.answer_model(self, profile, tier)

    # --- installing -------------------------------------------------------------------------------

    def plan_install(self, names: Iterable[str], tier: InstallTier = "fit") -> InstallPlan:
        """What installing these profiles would pull, where, and whether the disk has room. Changes nothing."""
        from recommender import installs  # lazy

        return installs.plan_install(self, names, tier)

    def install(self, plan: InstallPlan, progress: Progress | None = None) -> InstallOutcome:
        from recommender import installs  # lazy

        return installs.install(self, plan, progress)

    def plan_removal(self, name: str, tier: TierSelection = "all") -> RemovalPlan:
        from recommender import installs  # lazy

        return installs.plan_removal(self, name, tier)

    def remove(self, plan: RemovalPlan) -> Removal:
        from recommender import installs  # lazy
        from recommender.results import Removal

        return Removal(plan, tuple(installs.remove(self, plan)))

    def update_targets(self, names: Iterable[str] = ()) -> tuple[list[tuple[str, Model]], list[tuple[str, str]]]:
        """(host, model) pairs `update` would pull and the pinned ones it holds. Every server is asked
        first, so a stopped Ollama is one clear error rather than an empty list."""
        from recommender import updates  # lazy

        for host in self.hosts:
            self.server(host).version()
        return updates.targets(self, names)

    def update(self, names: Iterable[str] = (), progress: Progress | None = None) -> UpdateOutcome:
        """Re-pull the installed models that follow "latest"."""
        from recommender import updates  # lazy

        return updates.update(self, names, progress)

    def update_reminder(self) -> str | None:
        from recommender import updates  # lazy

        return updates.reminder(self)

    def auto_install_due(self, decision: Decision) -> tuple[str, InstallTier] | None:
        """(profile, tier) when auto_install is on and this suggestion should pull a missing tier."""
        if not self.settings.get("auto_install"):
            return None  # the usual case, decided without loading the install workflow
        from recommender import installs  # lazy

        return installs.auto_install_due(self, decision)

    def installed_state(self, *, quick: bool = False) -> InstalledState:
        from recommender import installs  # lazy

        return installs.installed_state(self, quick=quick)

    def status(self) -> Status:
        """Servers, machine, and per profile and tier: installed, fits, speed, last update."""
        from recommender import installs  # lazy

        return installs.status(self)

    def storage_plan(self, names: Iterable[str] = (), tier: TierSelection = "all") -> StoragePlan:
        """Disk for profiles with shared models counted once (all task profiles when none are named)."""
        chosen = [self.profile(n) for n in dict.fromkeys(names)] or self.catalogue.of_kind("task")
        return storage_plan(chosen, tier)

    def profiles(self) -> list[Profile]:
        return list(self.catalogue.values())

    def memory_gb(self, model: Model) -> float:
        """The memory a model needs at the default context, in GB."""
        from recommender import hardware

        return round(hardware.model_memory_bytes(model) / hardware.GB, 1)

    # --- the usage log ----------------------------------------------------------------------------

    def usage_stats(self, days: int | None = None) -> UsageStats:
        """Uses per profile, with which tiers of each are installed (None where Ollama cannot be asked)."""
        from recommender import installs  # lazy

        result = history.stats(self, days)
        state = installs.installed_state(self, quick=True) if result.profiles else None
        installed = {u.profile: state.tiers(u.profile) if state else None for u in result.profiles}
        from recommender.results import UsageStats

        return UsageStats(result.total, days, history.uses(result.profiles, installed), dict(result.commands),
                          all(state.reachable.values()) if state else None, result.conversations, result.switches)

    def usage_events(self, days: int | None = None) -> Iterator[usage.StoredEvent]:
        return usage.events(days)

    def correct(self, profile: str, *, text: str | None = None, event_id: int | None = None) -> Corrected:
        """Relabel a task (given, or a logged suggestion: `event_id`, else the newest)."""
        return history.correct(self, profile, text=text, event_id=event_id)

    def train_personal(self, progress: Callable[[str], None] | None = None) -> Trained:
        """Refit the classifier on the shipped data plus your corrections (no torch needed)."""
        from recommender import personal  # numpy and the trainer: ~70 ms only `train --personal` pays

        rows = usage.corrections()
        catalogue = self.catalogue
        seeds = {p.name: [p.description, *p.recommended_for] for p in catalogue.values() if p.is_user}
        return personal.train_personal([personal.Correction(c.text, c.profile) for c in rows],
                                       known_profiles=set(catalogue), seeds=seeds, progress=progress)

    # --- bench and export -------------------------------------------------------------------------

    def bench(self, targets: Iterable[str] = (), tier: TierSelection = "all",
              progress: Callable[[BenchTarget], None] | None = None) -> BenchReport:
        """Measure installed models with prompts typical of their profile; the figures are kept."""
        from recommender import bench  # lazy

        return bench.measure(self, targets, tier, progress)

    def export_litellm(self, names: Iterable[str] = ()) -> str:
        from recommender import export

        return export.litellm_yaml(self, names)


# --- what needs no session ---------------------------------------------------------------------------


def profile_names() -> list[str]:
    """Every profile's name, bundled and the user's (shell completion)."""
    from recommender.profiles import load_catalogue

    return list(load_catalogue())


def settings() -> Any:
    """Every setting, typed; `.warnings` says what config.json got wrong."""
    from recommender import config

    return config.load()


def setting_help() -> dict[str, str]:
    from recommender import config

    return {name: s.help for name, s in config.SETTINGS.items()}


def show_setting(name: str, value: Any) -> str:
    from recommender import config

    return config.show(name, value)


def check_setting(name: str) -> str:
    from recommender import config

    return config.check_name(name)


def set_setting(name: str, value: str) -> Any:
    """Parse, check and store one setting; returns the stored value."""
    from recommender import config

    return config.set_value(name, value)


def unset_setting(name: str) -> Any:
    """Back to the default; returns it."""
    from recommender import config

    config.unset(name)
    return config.SETTINGS[name].default


def usage_db_path() -> str:
    from recommender import paths

    return str(paths.usage_db_path())


def clear_usage() -> int:
    """Delete every recorded event (corrections, benchmark results and install state stay)."""
    return usage.clear()


def top_profiles(limit: int = 3, days: int | None = None, min_uses: int = 1) -> list[usage.ProfileTally]:
    """The most used profiles, each used at least `min_uses` times (`usage auto-install`)."""
    return [u for u in history.top_profiles(limit=limit, days=days) if u.uses >= min_uses]


def reset_personal() -> bool:
    """Remove the personal model; True when there was one."""
    from recommender import personal  # numpy: ~60 ms, only for `train`

    return personal.reset()


def write_text(path: Any, text: str) -> None:
    """Write a file atomically (a reader sees the old or the new content). A missing folder is an
    error, not created: a typo in a path should not leave a new folder tree behind."""
    from pathlib import Path

    from recommender import paths

    folder = Path(path).parent
    if not folder.is_dir():
        raise TaskprofError(f"cannot write {path}: the folder {folder} does not exist (create it first)")
    try:
        paths.atomic_write_text(Path(path), text)
    except OSError as exc:
        raise TaskprofError(f"cannot write {path}: {exc.strerror or exc}") from None

