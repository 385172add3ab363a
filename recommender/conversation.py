"""A profile for a whole conversation, decided from the messages a request carries.

Every Ollama and OpenAI client sends the whole history with each request, so the decision needs
no server-side state: it works behind any client, after a restart and across processes.

The interface (`read_turns`, `ConversationRouter.route`, `ConversationDecision`) is what `serve`,
`ask` and the Python API call; how the decision is made lives behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from recommender.classifier import FALLBACK_PROFILE, Prediction

Role = Literal["system", "user", "assistant", "tool"]
RouteKind = Literal["new", "kept", "switched"]

# What routing reads of one turn, and how many turns back it looks: a 1 MB paste or a 200-turn
# history costs no more than this.
TURN_CHARS = 6144
MAX_TURNS = 24


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

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "route": self.route, "confidence": round(self.confidence, 4),
                "previous": self.previous, "reason": self.reason,
                "scores": {k: round(v, 4) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content[:TURN_CHARS]
    if isinstance(content, list):
        parts: list[str] = []
        size = 0
        for part in content:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and size < TURN_CHARS:
                parts.append(text[: TURN_CHARS - size])
                size += len(parts[-1])
        return " ".join(parts)
    return ""


def read_turns(messages: Any) -> list[Turn]:
    """The turns of a request's message list, tolerant of anything a client sends: unknown roles and
    non-text parts are passed over, text is capped per turn, and only the last MAX_TURNS are kept."""
    if not isinstance(messages, list):
        return []
    turns: list[Turn] = []
    for message in messages[-MAX_TURNS * 4:]:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            continue
        turns.append(Turn(role, _text_of(message.get("content"))))
    return turns[-MAX_TURNS:] if len(turns) > MAX_TURNS else turns


def conversation_key(turns: Sequence[Turn]) -> str | None:
    """Names a conversation without storing its text: the same opening (system prompt and first user
    turn) gives the same key in every request of the conversation. None when there is no user turn.
    Callers that store it pass it through the usage log's keyed hash first."""
    import hashlib

    first = next((t for t in turns if t.role == "user"), None)
    if first is None:
        return None
    system = "\n".join(t.text for t in turns if t.role == "system")
    return hashlib.sha256(f"{system}\x00{first.text}".encode()).hexdigest()[:32]


Predict = Callable[[list[str]], list[Prediction]]


class ConversationRouter:
    """Decides a conversation's profile. `predict` is the classifier's (texts -> predictions)."""

    def __init__(self, predict: Predict):
        self.predict = predict

    def route(self, messages: Sequence[Any] | Any, *, resident: Collection[str] = ()) -> ConversationDecision:
        """`resident`: profiles whose model is loaded now; may break a close call, never a clear one."""
        turns = read_turns(messages)
        users = [t for t in turns if t.role == "user" and t.text.strip()]
        if not users:
            return ConversationDecision(FALLBACK_PROFILE, "new", 0.0, None, reason="no user text")
        (p,) = self.predict([users[-1].text])
        profile = FALLBACK_PROFILE if p.abstained else p.profile
        previous = None
        if len(users) > 1:
            (q,) = self.predict([users[-2].text])
            previous = FALLBACK_PROFILE if q.abstained else q.profile
        route: RouteKind = "new" if previous is None else "kept" if previous == profile else "switched"
        return ConversationDecision(profile, route, p.confidence, previous, dict(p.probabilities),
                                    "the latest user turn", p)
