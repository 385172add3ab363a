"""Work serve does beside the requests: the usage log written by one thread, and background installs."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from recommender import history
from recommender.api import Taskprof
from recommender.errors import TaskprofError
from recommender.session import Session
from recommender.types import InstallTier


class UseLog:
    """Routed chats become uses in the usage log, written by one thread so SQLite never blocks a stream."""

    def __init__(self, session: Session, on_event: Callable[[str], None]):
        self.session = session
        self.on_event = on_event
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="taskprof-uses", daemon=True)
        self.thread.start()

    def add(self, **event: Any) -> None:
        self.queue.put(event)

    def _run(self) -> None:
        while (event := self.queue.get()) is not None:
            try:
                self._record(event)
                for message in self.session.drain_warnings():
                    self.on_event(f"Warning: {message}")
            except Exception as exc:
                self.on_event(f"Warning: a use was not logged: {type(exc).__name__}: {exc}")
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def _record(self, event: dict[str, Any]) -> None:
        """One use, with its conversation key and route, as every command logs one (history.record:
        nothing when logging is off, the text capped, hashed when log_text is off)."""
        history.record(self.session, "chat", **event)

    def flush(self) -> None:
        self.queue.join()

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)


class Installs:
    """`config set auto_install true`: a chat that needs a missing profile starts its install, once."""

    def __init__(self, session: Session, on_event: Callable[[str], None], on_done: Callable[[], None]):
        self.session = session
        self.on_event = on_event
        self.on_done = on_done  # read the servers' lists again
        self.running: set[str] = set()
        self.lock = threading.Lock()

    def enabled(self) -> bool:
        return bool(self.session.settings.get("auto_install"))

    def start(self, profile: str) -> str | None:
        """Start (or find running) an install when auto_install is on; the message for the client."""
        if not self.enabled():
            return None
        setting = self.session.settings.get("auto_install_tier", "fast")
        tier: InstallTier = setting if setting in ("fit", "fast", "quality", "all") else "fast"
        with self.lock:
            started = profile not in self.running
            self.running.add(profile)
        if started:
            threading.Thread(target=self._install, args=(profile, tier), daemon=True,
                             name=f"taskprof-install-{profile}").start()
        return (f"'{profile}' is not installed yet; auto_install is on, so taskprof started installing its "
                f"{tier} tier in the background: ask again when it is done (`taskprof status` shows it)")

    def _install(self, profile: str, tier: InstallTier) -> None:
        # Its own Session: an install reads and writes state the serving session must not see half-done.
        core = Taskprof(host=self.session.host_flag, log=self.session.log)
        try:
            self.on_event(f"auto-install: pulling the {tier} tier of {profile}")
            outcome = core.install(core.plan_install([profile], tier))
            if outcome.ok:
                self.on_event(f"auto-install: {profile} ({tier}) is installed")
            else:
                why = "; ".join(f"{ref}: {reason}" for ref, reason in outcome.failed.items())
                self.on_event(f"auto-install of {profile} failed: {why or 'not every model was pulled'}")
        except TaskprofError as exc:
            self.on_event(f"auto-install of {profile} failed: {exc}")
        finally:
            for message in core.drain_warnings():
                self.on_event(f"Warning: {message}")
            with self.lock:
                self.running.discard(profile)
            self.on_done()
