"""Re-pull the installed models that follow "latest", and say when an update is due.

A model pinned to a digest by any profile is held; every other installed model is pulled again on
the server of its tier, and the result says per model what changed and how many bytes came.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from recommender import history, installs, lock
from recommender import state as state_mod
from recommender.errors import OllamaError, OllamaUnavailable
from recommender.profiles import Model
from recommender.results import ModelUpdate, UpdateOutcome
from recommender.session import Session
from recommender.types import TIERS, NoProgress, Progress

REMINDER_EVERY = timedelta(days=1)


def targets(session: Session, names: Iterable[str] = ()) -> tuple[list[tuple[str, Model]], list[tuple[str, str]]]:
    """(host, model) pairs to re-pull, each once, and the pinned ones that are held."""
    names = list(dict.fromkeys(names))
    installed = installs.installed_tiers(session)
    chosen = [session.profile(n) for n in names] if names else [session.profile(n) for n in installed
                                                                if n in session.catalogue]
    pulls: dict[tuple[str, str], Model] = {}
    pinned: dict[str, str] = {}
    # A build that any profile pins is held, even where another profile follows "latest" for it.
    held = {m.ref: m.pinned_digest for p in session.catalogue.values() for m in p.models if m.pinned_digest}
    for p in chosen:
        for m in p.models:
            host = session.host(m.tier)
            if m.ref not in session.listing(host):
                continue
            if m.ref in held:
                pinned[m.ref] = held[m.ref]
            else:
                pulls.setdefault((host, m.ref), m)
    return [(h, m) for (h, _), m in pulls.items()], sorted(pinned.items())


def update(session: Session, names: Iterable[str] = (), progress: Progress | None = None) -> UpdateOutcome:
    """Re-pull every installed model that follows "latest"; say per model what changed. Runs under
    the state lock, its targets read afresh there."""
    names = list(dict.fromkeys(names))
    with lock.state_lock("taskprof update " + " ".join(names)):
        session.forget()
        return _update(session, names, progress)


def _update(session: Session, names: list[str], progress: Progress | None) -> UpdateOutcome:
    progress = progress or NoProgress()
    pulls, pinned = targets(session, names)
    seed = installs.seed_from_ollama(session)
    results: list[ModelUpdate] = []
    try:
        for host, m in pulls:
            before = session.listing(host)[m.ref]
            layers: dict[str, list[int]] = {}  # digest -> [completed when first seen, latest completed]

            def on_layer(digest: str, completed: int, total: int, _layers: dict[str, list[int]] = layers) -> None:
                _layers.setdefault(digest, [completed, completed])[1] = completed

            progress.start(m.ref, host, before.size)
            try:
                session.server(host).pull(m.ref, progress.update, on_layer=on_layer)
            except (OllamaError, OllamaUnavailable) as exc:
                progress.finish(False)
                results.append(ModelUpdate(m.ref, host, "failed", before.digest, before.digest, 0, str(exc)))
                continue
            progress.finish(True)
            after = session.listing(host, fresh=True).get(m.ref)
            digest = after.digest if after else ""
            # Only a new digest brings bytes: an unchanged model's progress lines re-count what was there.
            fetched = sum(last - first for first, last in layers.values()) if digest != before.digest else 0
            results.append(ModelUpdate(m.ref, host, "updated" if digest != before.digest else "unchanged",
                                       before.digest, digest, fetched))
    finally:
        outcome = UpdateOutcome(tuple(results), tuple(pinned))

        def apply(current: state_mod.State) -> None:
            installs.seed_state(current, seed)
            for r in results:
                if r.result != "failed":
                    rec = current.model(r.host, r.ref)
                    if rec is None or not rec.digest:
                        # First sighting: the digest before this pull is the baseline.
                        current.record_pull(r.host, r.ref, r.old_digest)
                    current.record_pull(r.host, r.ref, r.new_digest)
            if results and outcome.ok and len(results) == len(pulls):
                current.last_update = state_mod.now_utc()
        if results:
            session.change_state(apply)
            pulled = {(r.host, r.ref) for r in results if r.result != "failed"}
            installed = installs.installed_tiers(session)
            # The profiles this update was for (named, else the installed ones) whose own installed tiers
            # had a model pulled: not every profile that happens to share one of those models.
            for name in names or sorted(installed):
                if name not in session.catalogue:
                    continue
                tiers = installed.get(name) or set(TIERS)
                if any((session.host(m.tier), m.ref) in pulled for m in session.profile(name).models if m.tier in tiers):
                    history.record(session, "update", profile=name)
    return outcome


def reminder(session: Session) -> str | None:
    """Once a day at most: say that an update is due (`config set update_every 7d`)."""
    every = session.settings.get("update_every")
    if not every:
        return None
    now = datetime.now(UTC)
    current = session.state
    last = _parse_time(current.last_update)
    if last is not None and now - last < timedelta(seconds=int(every)):
        return None
    reminded = _parse_time(current.reminded_at)
    if reminded is not None and now - reminded < REMINDER_EVERY:
        return None
    session.change_state(lambda s: setattr(s, "reminded_at", state_mod.now_utc()))
    since = f"the last was {last:%Y-%m-%d}" if last else "none has run yet"
    return f"an update of your models is due ({since}): run `taskprof update`"


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
