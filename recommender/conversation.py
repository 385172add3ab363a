"""A profile for a whole conversation, decided from the messages a request carries.

Every Ollama and OpenAI client sends the whole history with each request, so the decision needs
no server-side state: it works behind any client, after a restart and across processes.

How it decides. The classifier reads each user turn on its own (and a system prompt, which counts
as evidence for every task of the conversation). The router then walks the user turns in order,
keeping a *segment*: the turns since the task last changed, and the sum of their readings. At each
new turn a small continuation head (logistic regression, weights in models/router.json) weighs
whether the turn goes on with the segment's task or starts another: how much the turn alone says
for the current profile and for another one, how sure the conversation already is, the turn's
length, words that point back ("it", "that", "again", "now in ..."), thanks and acknowledgements,
words that announce a new topic, and how many of its words the previous reply or request already
used. A continuation adds the turn's reading to the segment (a short "yes, do it" adds little: it
weighs by how much task it states); a new task starts a new segment from the turn alone. The profile
is the segment's best task profile, or the fallback when chit-chat outweighs every task.

Assistant turns are context, never the ask: only their words are compared with the user's. Tool
calls and results and image parts are passed over. Only the opening and the latest USER_TURNS user
turns are read, each capped, so a 200-turn history or a 1 MB paste costs no more than a short chat.

The interface (`read_turns`, `ConversationRouter.route`, `ConversationDecision`) is what `serve`,
`ask` and the Python API call; how the decision is made lives behind it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from recommender.classifier import FALLBACK_PROFILE, GENERAL, TIE_MARGIN, TIE_MAX_CONFIDENCE, Prediction

Role = Literal["system", "user", "assistant", "tool"]
RouteKind = Literal["new", "kept", "switched"]

# What routing reads of one turn, and how many turns back it looks: a 1 MB paste or a 200-turn
# history costs no more than this.
TURN_CHARS = 6144
MAX_TURNS = 24
# Of the turns read, the user turns that are classified: the opening and the latest USER_TURNS.
# Older user turns than the latest are read up to CONTEXT_CHARS (their gist is in their start).
USER_TURNS = 8
CONTEXT_CHARS = 1500
SYSTEM_CHARS = 2000
# How many of the leading system messages are kept.
MAX_SYSTEM = 4
# Per-turn classifier readings kept in memory, keyed by a hash of the text (never changes an answer).
CACHE_SIZE = 1024
ROUTER_FILE = "router.json"


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str  # the text parts only (images and tool payloads are not read), capped at TURN_CHARS


@dataclass(frozen=True)
class ConversationDecision:
    """The profile a conversation's latest turn goes to, and why."""

    profile: str  # the task profile to act on, or FALLBACK_PROFILE when nothing fits
    route: RouteKind  # new: first user turn; kept: same profile as the turn before; switched: another
    confidence: float
    previous: str | None  # the profile the conversation had before this turn (None on the first)
    scores: dict[str, float] = field(default_factory=dict)  # the conversation's evidence per profile
    reason: str = ""
    prediction: Prediction | None = None  # the classifier's reading of the deciding text, when one was made
    continuation: float | None = None  # the head's probability that the latest turn goes on with the task
    resident_tie: bool = False  # a loaded model's profile won a close call

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "route": self.route, "confidence": round(self.confidence, 4),
                "previous": self.previous, "reason": self.reason,
                "continuation": None if self.continuation is None else round(self.continuation, 4),
                "resident_tie": self.resident_tie,
                "scores": {k: round(v, 4) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])}}


# --- reading the messages -----------------------------------------------------------------------


def _text_of(content: Any, limit: int = TURN_CHARS) -> str:
    if isinstance(content, str):
        return content[:limit]
    if isinstance(content, list):
        parts: list[str] = []
        size = 0
        for part in content[:256]:
            if size >= limit:
                break
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str):
                parts.append(text[: limit - size])
                size += len(parts[-1])
        return " ".join(parts)
    return ""


def _turn(message: Any) -> Turn | None:
    if not isinstance(message, dict):
        return None
    role = message.get("role")
    if role in ("system", "developer"):
        role = "system"
    if role not in ("system", "user", "assistant", "tool"):
        return None
    return Turn(role, _text_of(message.get("content")))


def read_turns(messages: Any) -> list[Turn]:
    """The turns of a request's message list, tolerant of anything a client sends: unknown roles and
    non-text parts are passed over and text is capped per turn.

    Read: the leading system messages (up to MAX_SYSTEM), the conversation's first user turn, and the
    last MAX_TURNS turns; a longer history's middle is skipped, so the opening (what
    `conversation_key` names and what the task was) is read in every request however long the chat.
    """
    if not isinstance(messages, list):
        return []
    tail_start = max(0, len(messages) - MAX_TURNS)
    head: list[Turn] = []
    systems = 0
    for message in messages[: min(tail_start, MAX_SYSTEM + 8)]:
        turn = _turn(message)
        if turn is None:
            continue
        if turn.role == "system" and systems < MAX_SYSTEM:
            head.append(turn)
            systems += 1
        elif turn.role == "user":
            head.append(turn)
            break
    tail = [t for t in (_turn(m) for m in messages[tail_start:]) if t is not None]
    return head + tail


def conversation_key(turns: Sequence[Turn]) -> str | None:
    """Names a conversation without storing its text: the same opening (system prompt and first user
    turn) gives the same key in every request of the conversation. None when there is no user turn.
    Callers that store it pass it through the usage log's keyed hash first."""
    first = next((t for t in turns if t.role == "user"), None)
    if first is None:
        return None
    system = "\n".join(t.text for t in turns if t.role == "system")
    return hashlib.sha256(f"{system}\x00{first.text}".encode()).hexdigest()[:32]


# --- cues in a turn's words ----------------------------------------------------------------------

_WORD = re.compile(r"[a-z][a-z'\-]*")
# Words that point back at what was said or made (a short turn that uses them goes on with it).
_ANAPHORA = frozenset(["it", "its", "it's", "that", "these", "those", "them", "they", "above", "previous", "same", "again", "instead", "another", "more", "less", "shorter", "longer", "simpler", "version", "ones"])
# Verbs that open a task stated in full ("write a ...", "can you summarize ...").
_TASK_VERB = re.compile(r"^(?:(?:please|now|ok|okay|so|hey|hi|also)\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
                        r"i\s+(?:want|need|would like)\s+(?:you\s+)?to\s+|help\s+me\s+(?:to\s+)?|let's\s+)?"
                        r"(?:write|draft|create|design|build|make|generate|summari[sz]e|explain|give|list|compare|"
                        r"analy[sz]e|translate|find|plan|brainstorm|suggest|review|teach|calculate|convert|prepare|"
                        r"outline|develop|implement|describe|tell|help)\b")
# A turn that only acknowledges, agrees or asks to go on.
_ACK = frozenset(["thanks", "thank", "thx", "ty", "ok", "okay", "cool", "great", "perfect", "nice", "awesome", "yes", "yep", "yeah", "sure", "no", "nope", "continue", "go", "on", "proceed", "do", "please", "lol", "wow", "good", "fine", "done", "love", "it", "that's", "worked", "works"])
# Openings that carry the conversation on.
_CONTINUE_OPENERS = ("and ", "but ", "so ", "also ", "now ", "then ", "what about", "how about", "why",
                     "ok ", "okay ", "same ", "again", "try again", "can you also", "what if", "instead")
# Words that announce a task of its own.
_NEW_TOPIC = re.compile(r"\b(new (question|topic|task)|separate (question|topic)|different (question|topic|thing)"
                        r"|unrelated|another (question|thing)|change of topic|switching (gears|topics?)|on another note"
                        r"|by the way|btw)\b")
_STOP = frozenset(["the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "be", "i", "you", "me", "my", "your", "we", "our", "can", "could", "would", "should", "please", "what", "how", "do", "does", "it", "this", "that", "as", "at", "by", "from", "not", "no", "yes", "so", "if", "then", "than", "there", "their", "they", "them", "he", "she", "his", "her", "its", "was", "were", "will", "just", "about", "into", "more", "some", "any", "all"])


def _words(text: str, limit: int = 400) -> list[str]:
    return _WORD.findall(text[:4000].lower())[:limit]


def _overlap(words: list[str], other: set[str]) -> float:
    content = {w for w in words if w not in _STOP and len(w) > 2}
    if not content or not other:
        return 0.0
    return len(content & other) / len(content)


def _content(text: str) -> set[str]:
    return {w for w in _words(text, 1500) if w not in _STOP and len(w) > 2}


FEATURES = ("p_current", "p_other", "p_general", "seg_current", "seg_other", "length", "anaphora", "ack",
            "opener", "new_topic", "reply_overlap", "request_overlap", "payload", "task_verb", "other_x_long")


def continuation_features(p: dict[str, float], current: str, segment: dict[str, float], text: str,
                          payload: bool, previous_reply: set[str], previous_request: set[str]) -> list[float]:
    """What the continuation head reads about one new user turn: its own reading `p`, the segment's
    profile `current` and normalised evidence `segment`, and the words of the turns before it."""
    tasks = [k for k in p if k != GENERAL]
    other = max((k for k in tasks if k != current), key=lambda k: p[k], default=current)
    top = max(p, key=lambda k: p[k]) if p else current
    words = _words(text)
    n = len(words)
    lowered = " ".join(words[:12])
    short = n <= 8
    length = math.log1p(n) / 5.0
    return [
        p.get(current, 0.0),
        p.get(other, 0.0),
        p.get(GENERAL, 0.0),
        segment.get(current, 0.0),
        segment.get(other, 0.0),
        length,
        float(any(w in _ANAPHORA for w in words[:12])) * (1.0 if n <= 12 else 0.3),
        float(short and sum(w in _ACK for w in words) >= max(1, n // 2)),
        float(lowered.startswith(_CONTINUE_OPENERS)),
        float(bool(_NEW_TOPIC.search(lowered))),
        _overlap(words, previous_reply),
        _overlap(words, previous_request),
        float(payload),
        float(n >= 6 and bool(_TASK_VERB.match(lowered))),
        p.get(other, 0.0) * min(1.0, n / 15.0) * float(top != current),
    ]


# --- the decision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterParams:
    """The continuation head and the few weights around it (models/router.json)."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    threshold: float = 0.5  # switch when P(continue) is below this
    system_weight: float = 0.6  # a system prompt's reading, added to every segment, times its task mass
    follow_weight: float = 0.5  # a continuing turn's reading, added to the segment, times its task mass
    hysteresis: float = 0.0  # within a segment, another profile takes over only when ahead by this much

    def continue_probability(self, x: Sequence[float]) -> float:
        z = self.bias
        for i, (value, w) in enumerate(zip(x, self.weights, strict=True)):
            m = self.mean[i] if self.mean else 0.0
            s = self.scale[i] if self.scale else 1.0
            z += w * (value - m) / s
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouterParams:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError("router.json was made for other features; retrain with python -m training.router")
        return cls(weights=tuple(float(w) for w in data["weights"]), bias=float(data["bias"]),
                   mean=tuple(float(v) for v in data.get("mean", ())), scale=tuple(float(v) for v in data.get("scale", ())),
                   threshold=float(data.get("threshold", 0.5)), system_weight=float(data.get("system_weight", 0.6)),
                   follow_weight=float(data.get("follow_weight", 0.5)), hysteresis=float(data.get("hysteresis", 0.0)))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": [round(w, 6) for w in self.weights], "bias": round(self.bias, 6),
                "mean": [round(v, 6) for v in self.mean], "scale": [round(v, 6) for v in self.scale],
                "threshold": self.threshold, "system_weight": self.system_weight, "follow_weight": self.follow_weight,
                "hysteresis": self.hysteresis}


# Used when no models/router.json is there (a hand-set head: a clear reading of another profile
# switches, pointing back and acknowledging keep).
DEFAULT_PARAMS = RouterParams(
    weights=(3.0, -2.0, 1.0, 1.0, -1.0, -0.5, 1.5, 2.0, 1.0, -2.5, 1.5, 1.0, 0.0, -1.0, -4.0), bias=2.2)


def load_params(model_dir: Path | None = None) -> RouterParams:
    """The shipped continuation head, or DEFAULT_PARAMS when the artifact has none."""
    from recommender import paths

    file = (model_dir or paths.bundled_dir("models")) / ROUTER_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_PARAMS
    return RouterParams.from_json(data)


@dataclass
class _Step:
    """The conversation after one user turn."""

    profile: str  # the best task profile of the segment, or GENERAL when chit-chat outweighs them
    scores: dict[str, float]  # the segment's evidence, normalised
    continuation: float | None
    prediction: Prediction | None


def _best(scores: dict[str, float]) -> tuple[str, float]:
    tasks = [(v, k) for k, v in scores.items() if k != GENERAL]
    if not tasks:
        return GENERAL, scores.get(GENERAL, 0.0)
    value, label = max(tasks)
    if scores.get(GENERAL, 0.0) > value:
        return GENERAL, scores[GENERAL]
    return label, value


def _normalised(evidence: dict[str, float]) -> dict[str, float]:
    total = sum(evidence.values())
    if total <= 0:
        return dict(evidence)
    return {k: v / total for k, v in evidence.items()}


def _reading(prediction: Prediction) -> dict[str, float]:
    """A turn's probabilities as evidence; a language the head cannot read says nothing of the task."""
    if not prediction.language_supported:
        return {k: (1.0 if k == GENERAL else 0.0) for k in prediction.probabilities}
    return dict(prediction.probabilities)


def system_prior(reading: dict[str, float] | None, params: RouterParams) -> tuple[dict[str, float], float]:
    """What a system prompt adds to every segment: its task profiles' share, times how clearly it
    states a task (its best task profile's probability; "You are a helpful assistant" states none)."""
    if reading is None:
        return {}, 0.0
    tasks = {k: v for k, v in reading.items() if k != GENERAL}
    if not tasks:
        return {}, 0.0
    strength = max(tasks.values())
    return {k: params.system_weight * strength * v for k, v in tasks.items()}, strength


def segment_start(p: dict[str, float], prior: dict[str, float], strength: float) -> dict[str, float]:
    """A new segment's evidence: the turn's reading and the system prompt's. A turn that states no
    task ("thoughts?") under a system prompt that does is not chit-chat: its general share shrinks."""
    return {k: (v * (1.0 - strength) if k == GENERAL else v + prior.get(k, 0.0)) for k, v in p.items()}


def segment_add(evidence: dict[str, float], p: dict[str, float], params: RouterParams) -> dict[str, float]:
    """A continuing turn adds its reading, weighed by how much task it states ("thanks" adds little)."""
    weight = params.follow_weight * (1.0 - p.get(GENERAL, 0.0))
    return {k: evidence.get(k, 0.0) + weight * v for k, v in p.items()}


Predict = Callable[[list[str]], list[Prediction]]


class ConversationRouter:
    """Decides a conversation's profile. `predict` is the classifier's (texts -> predictions)."""

    def __init__(self, predict: Predict, *, params: RouterParams | None = None, cache_size: int = CACHE_SIZE):
        self.predict = predict
        self._params = params
        self._cache: OrderedDict[str, Prediction] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def params(self) -> RouterParams:
        if self._params is None:
            self._params = load_params()
        return self._params

    # -- the classifier's readings, cached by text
    def _predict(self, texts: list[str]) -> list[Prediction]:
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for t in texts]
        found: dict[str, Prediction] = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in found]
        missing = list(dict(missing).items())
        if missing:
            fresh = self.predict([t for _, t in missing])
            for (key, _), prediction in zip(missing, fresh, strict=True):
                found[key] = prediction
            if self._cache_size > 0:
                with self._lock:
                    for (key, _), prediction in zip(missing, fresh, strict=True):
                        self._cache[key] = prediction
                        self._cache.move_to_end(key)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return [found[k] for k in keys]

    def route(self, messages: Sequence[Any] | Any, *, resident: Collection[str] = ()) -> ConversationDecision:
        """`resident`: profiles whose model is loaded now; may break a close call, never a clear one."""
        turns = read_turns(messages)
        steps, system = self._walk(turns)
        if not steps:
            if system is not None:
                profile, confidence = _best(system)
                if profile != GENERAL:
                    return ConversationDecision(profile, "new", confidence, None, system, "the system prompt")
            return ConversationDecision(FALLBACK_PROFILE, "new", 0.0, None, reason="no user text")
        last = steps[-1]
        users = [t for t in turns if t.role == "user"]
        empty_last = bool(users) and not users[-1].text.strip()
        previous_step = steps[-2] if len(steps) > 1 else None
        profile, confidence = last.profile, last.scores.get(last.profile, 0.0)
        profile, tie = self._tie(profile, confidence, last.scores, resident,
                                 None if previous_step is None else previous_step.profile)
        chosen = FALLBACK_PROFILE if profile == GENERAL else profile
        if empty_last:
            # An empty turn (Ollama's "load the model") goes where the conversation is.
            return ConversationDecision(chosen, "kept", confidence, chosen, last.scores,
                                        "an empty turn: the conversation so far", last.prediction, None, tie)
        if previous_step is None:
            reason = "the first user turn" + (" and the system prompt" if system else "")
            return ConversationDecision(chosen, "new", confidence, None, last.scores, reason, last.prediction,
                                        None, tie)
        previous = FALLBACK_PROFILE if previous_step.profile == GENERAL else previous_step.profile
        route: RouteKind = "kept" if previous == chosen else "switched"
        cont = last.continuation if last.continuation is not None else 1.0
        reason = "continues the conversation's task" if cont >= self.params.threshold else "states a new task"
        return ConversationDecision(chosen, route, confidence, previous, last.scores, reason, last.prediction,
                                    last.continuation, tie)

    def _tie(self, profile: str, confidence: float, scores: dict[str, float], resident: Collection[str],
             previous: str | None) -> tuple[str, bool]:
        """A close call (best under TIE_MAX_CONFIDENCE, another task profile within TIE_MARGIN of it)
        goes to a profile whose model is loaded; a clear one, or chit-chat, is never moved."""
        if not resident or profile == GENERAL or confidence >= TIE_MAX_CONFIDENCE or profile in resident:
            return profile, False
        close = [k for k, v in scores.items() if k not in (GENERAL, profile) and confidence - v <= TIE_MARGIN
                 and k in resident]
        if not close:
            return profile, False
        if previous in close:
            return previous, True
        return max(close, key=lambda k: scores[k]), True

    def _walk(self, turns: list[Turn]) -> tuple[list[_Step], dict[str, float] | None]:
        """The conversation after each user turn read (empty turns are passed over)."""
        params = self.params
        system_text = "\n".join(t.text for t in turns if t.role == "system" and t.text.strip())[:SYSTEM_CHARS]
        # The user turns with what came before each (the previous reply and request).
        entries: list[tuple[str, str, str]] = []
        previous_reply = ""
        previous_request = ""
        for turn in turns:
            if turn.role == "assistant" and turn.text.strip():
                previous_reply = turn.text
            elif turn.role == "user" and turn.text.strip():
                entries.append((turn.text, previous_reply, previous_request))
                previous_request = turn.text
                previous_reply = ""
        if len(entries) > USER_TURNS + 1:
            entries = [entries[0], *entries[-USER_TURNS:]]
        texts = [text if i == len(entries) - 1 else text[:CONTEXT_CHARS] for i, (text, _, _) in enumerate(entries)]
        asked = ([system_text] if system_text else []) + texts
        if not asked:
            return [], None
        predictions = self._predict(asked)
        system: dict[str, float] | None = None
        if system_text:
            system = _reading(predictions[0])
            predictions = predictions[1:]
        prior, strength = system_prior(system, params)
        steps: list[_Step] = []
        evidence: dict[str, float] = {}
        current = GENERAL
        for i, ((text, reply, request), prediction) in enumerate(zip(entries, predictions, strict=True)):
            p = _reading(prediction)
            continuation: float | None = None
            if i == 0:
                evidence = segment_start(p, prior, strength)
            else:
                segment = _normalised(evidence)
                x = continuation_features(p, current, segment, text, prediction.payload_kind is not None,
                                          _content(reply), _content(request))
                continuation = params.continue_probability(x)
                if continuation >= params.threshold:
                    evidence = segment_add(evidence, p, params)
                else:
                    evidence = segment_start(p, prior, strength)
            scores = _normalised(evidence)
            best = _best(scores)[0]
            if continuation is None or continuation < params.threshold or \
                    scores.get(best, 0.0) - scores.get(current, 0.0) > params.hysteresis:
                current = best
            steps.append(_Step(current, scores, continuation, prediction))
        return steps, system
