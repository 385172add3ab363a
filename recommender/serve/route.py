"""Where a request goes: a real model passes through; a taskprof name is resolved to the installed
model of its profile; `taskprof/auto` routes the whole conversation (conversation.ConversationRouter)
off the event loop, with the profiles whose model is loaded now as the tie-breaker."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from recommender import ollama_client, routing
from recommender.api import Taskprof
from recommender.classifier import FALLBACK_PROFILE, Prediction
from recommender.conversation import ConversationDecision, ConversationRouter, conversation_key, read_turns
from recommender.errors import InstallRefused, ProfileError
from recommender.serve.names import (
    PROFILE_HEADER,
    ROUTE_HEADER,
    TIER_HEADER,
    NotServed,
    Virtual,
    parse_virtual,
)
from recommender.serve.upstream import Upstream
from recommender.types import Tier

# Texts whose prediction is kept: a conversation's earlier turns are read again with every request.
PREDICTIONS_KEPT = 2048
# Decisions kept, by a hash of the turns read and the resident profiles (a retried request).
DECISIONS_KEPT = 256
# Conversations whose turns, as routing reads them, total at most this many characters are routed
# on the event loop (~1 ms); longer ones (up to ~40 ms for 24 turns of 6,144) in one worker thread.
INLINE_CHARS = 2_000


class ServeSession(Taskprof):
    """A long-lived Taskprof whose model lists the server fetches itself (async, with a TTL) and hands
    to the core's listing cache, so `installed_model` and friends see them."""

    def store_tags(self, host: str, models: list[dict[str, Any]]) -> None:
        parsed = {}
        for m in models:
            ref = ollama_client.normal_ref(str(m.get("model") or m.get("name") or ""))
            parsed[ref] = ollama_client.InstalledModel(ref, int(m.get("size") or 0), str(m.get("digest") or ""),
                                                       str(m.get("modified_at") or ""))
        self.set_listing(host, parsed)


class CachedPredict:
    """texts -> predictions, each text's prediction kept (LRU): the classifier is deterministic, so a
    kept prediction is the one it would make again. Called from one thread at a time."""

    def __init__(self, predict: Callable[[list[str]], list[Prediction]], size: int = PREDICTIONS_KEPT):
        self.predict = predict
        self.size = size
        self.kept: OrderedDict[str, Prediction] = OrderedDict()

    def __call__(self, texts: list[str]) -> list[Prediction]:
        missing = list(dict.fromkeys(t for t in texts if t not in self.kept))
        if missing:
            for text, p in zip(missing, self.predict(missing), strict=True):
                self.kept[text] = p
        out = []
        for t in texts:
            self.kept.move_to_end(t)
            out.append(self.kept[t])
        while len(self.kept) > self.size:
            self.kept.popitem(last=False)
        return out


@dataclass(frozen=True)
class Routed:
    """Where one request goes."""

    model: str  # the real model
    host: str
    profile: str | None = None  # None: a real model, passed through
    tier: str | None = None
    decision: ConversationDecision | None = None  # taskprof/auto only
    note: str | None = None
    conversation: str | None = None  # conversation_key of the request's turns (taskprof/auto)
    text: str | None = None  # what decided (taskprof/auto), for the usage log

    def headers(self) -> dict[str, str]:
        if self.profile is None:
            return {}
        out = {PROFILE_HEADER: self.profile, TIER_HEADER: self.tier or ""}
        if self.decision is not None:
            out[ROUTE_HEADER] = self.decision.route
        return out


class Router:
    """Names to Routed, over one ServeSession and the upstream servers' cached lists."""

    def __init__(self, session: ServeSession, upstream: Upstream, *, on_missing: Callable[[str], str | None]):
        self.session = session
        self.upstream = upstream
        self.on_missing = on_missing  # profile -> a message when an install was started, else None
        self._answering: dict[str, tuple[str, str, str]] | None = None
        self.predict = CachedPredict(self._predict)
        self.conversations = ConversationRouter(self.predict)
        self.decisions: OrderedDict[str, ConversationDecision] = OrderedDict()
        self.limiter: anyio.CapacityLimiter | None = None  # made on the event loop (startup)
        self.thread_lock = threading.Lock()

    def _predict(self, texts: list[str]) -> list[Prediction]:
        # As suggest does: a personal model's pick whose profile file is gone gives way to one that exists.
        # The nearest training examples, which suggest shows as reasons, cost ~24 ms a text and a routed
        # chat never shows them: similar=0 (the profile, confidence and abstention are the same).
        return [routing.known_only(self.session, p) for p in self.session.classifier.predict(texts, similar=0)]

    def listings_changed(self) -> None:
        self._answering = None

    # -- what is installed -------------------------------------------------------------------------

    def installed(self) -> dict[str, dict[Tier, tuple[str, str]]]:
        """Profiles with something installed: profile -> tier -> (model, host), from the cached lists."""
        out: dict[str, dict[Tier, tuple[str, str]]] = {}
        for p in self.session.catalogue.values():
            for m in p.models:
                host = self.session.host(m.tier)
                if m.ref in self.session.listing(host):
                    out.setdefault(p.name, {})[m.tier] = (m.ref, host)
        return out

    def answering(self) -> dict[str, tuple[str, str, str]]:
        """profile -> (model, host, tier) that answers `taskprof/<profile>` now (the tier that fits, else
        the other); recomputed when a model list changes."""
        if self._answering is None:
            out: dict[str, tuple[str, str, str]] = {}
            for name in self.installed():
                try:
                    model, host, _ = self.session.installed_model(name)
                except InstallRefused:
                    continue
                out[name] = (model.ref, host, model.tier)
            self._answering = out
        return self._answering

    def real_host(self, name: str) -> str:
        ref = ollama_client.normal_ref(name)
        for host in self.session.hosts:
            if ref in self.session.listing(host):
                return host
        return self.session.host("fast")

    def default_profile(self) -> str:
        """The fallback profile (balanced) when installed, else the first installed one, else the fallback."""
        installed = self.answering()
        return FALLBACK_PROFILE if FALLBACK_PROFILE in installed or not installed else next(iter(installed))

    # -- routing -------------------------------------------------------------------------------------

    async def route(self, name: str, messages: Sequence[Any] | None = None) -> Routed:
        """`messages`: the conversation (a generate's prompt as one user turn); None when there is none
        to read (show, embeddings)."""
        virtual = parse_virtual(name)
        hosts = self.session.hosts
        await self.upstream.refresh(hosts)
        if virtual is None:
            return Routed(name, self.real_host(name))
        decision = None
        if virtual.profile is None and messages is not None:
            decision = await self.decide(messages)
        try:
            routed = self._resolve(virtual, name, decision)
        except InstallRefused:
            await self.upstream.refresh(hosts, force=True)  # installed a moment ago?
            try:
                routed = self._resolve(virtual, name, decision)
            except InstallRefused as exc:
                if self.upstream.down:  # not "not installed": a server that holds it may be the one down
                    raise NotServed(502, "; ".join(self.upstream.down.values())) from None
                raise NotServed(404, self._missing(exc, virtual, decision)) from None
        if routed.host in self.upstream.down:
            raise NotServed(502, self.upstream.down[routed.host])
        if decision is not None and messages is not None:
            turns = read_turns(messages)
            users = [t.text for t in turns if t.role == "user"]
            # What decided, for the log; None when the latest user turn is empty (a client loading the
            # model, or an empty message): no use is counted for it.
            text = None
            if users and users[-1].strip():
                p = decision.prediction
                text = p.focus if p is not None and p.focus else users[-1]
            routed = Routed(routed.model, routed.host, routed.profile, routed.tier, decision, routed.note,
                            conversation_key(turns), text)
        return routed

    async def decide(self, messages: Sequence[Any]) -> ConversationDecision:
        """The conversation's profile, decided in a worker thread (one at a time: the classifier is not
        shared between threads), with the profiles whose answering model is loaded now."""
        answering = self.answering()
        loaded: dict[str, frozenset[str]] = {}
        for host in {host for _, host, _ in answering.values()}:
            loaded[host] = await self.upstream.resident(host)
        resident = frozenset(p for p, (ref, host, _) in answering.items() if ref in loaded[host])
        # A short conversation costs ~1 ms: less than the hop to a thread. Never wait on the loop for
        # the worker, though: when it is busy with a long one, the short one queues behind it there.
        if sum(len(t.text) for t in read_turns(messages)) <= INLINE_CHARS and self.thread_lock.acquire(blocking=False):
            try:
                return self._decide(messages, resident)
            finally:
                self.thread_lock.release()
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(self._locked_decide, messages, resident, limiter=self.limiter)

    def _locked_decide(self, messages: Sequence[Any], resident: frozenset[str]) -> ConversationDecision:
        with self.thread_lock:
            return self._decide(messages, resident)

    def _decide(self, messages: Sequence[Any], resident: frozenset[str]) -> ConversationDecision:
        turns = read_turns(messages)
        digest = hashlib.sha256()
        for p in sorted(resident):
            digest.update(p.encode() + b"\x00")
        for t in turns:
            digest.update(f"\x01{t.role}\x02".encode() + t.text.encode("utf-8", "surrogatepass"))
        key = digest.hexdigest()
        kept = self.decisions.get(key)
        if kept is not None:
            self.decisions.move_to_end(key)
            return kept
        decision = self.conversations.route(messages, resident=resident)
        self.decisions[key] = decision
        while len(self.decisions) > DECISIONS_KEPT:
            self.decisions.popitem(last=False)
        return decision

    def _resolve(self, virtual: Virtual, name: str, decision: ConversationDecision | None) -> Routed:
        if virtual.profile is not None:
            try:
                profile = self.session.profile(virtual.profile).name
            except ProfileError:
                raise NotServed(404, f"model '{name}' not found: `taskprof profiles` lists the profiles") from None
        elif decision is not None and decision.profile != FALLBACK_PROFILE:
            profile = decision.profile
        else:  # nothing to read (a client loading the model first), or nothing stood out
            profile = self.default_profile()
        model, host, note = self.session.installed_model(profile, tier=virtual.tier)
        if virtual.tier is not None and model.tier != virtual.tier:
            raise InstallRefused(f"the {virtual.tier} tier of '{profile}' is not installed on "
                                 f"{self.session.host(virtual.tier)}: run `taskprof install {profile} "
                                 f"--tier {virtual.tier}` first")
        return Routed(model.ref, host, profile, model.tier, decision, note)

    def _missing(self, exc: InstallRefused, virtual: Virtual, decision: ConversationDecision | None) -> str:
        """Not installed: say how to install, or start it when auto_install is on."""
        profile = virtual.profile
        if profile is None:
            if decision is None or decision.profile == FALLBACK_PROFILE:
                return str(exc)
            profile = decision.profile
        return self.on_missing(profile) or str(exc)


