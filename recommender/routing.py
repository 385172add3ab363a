"""A profile for a text, or for a whole conversation, and the tier to start it on.

The one place a profile is chosen: the classifier (the personal head when there is one), the
user's history to settle a close call, then the tier that fits the machine that would run it
(`Session.tier_choice`). Conversations go through `conversation.ConversationRouter`, which reads
the whole message list; this module adds the tier.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recommender import hardware, history
from recommender.errors import InputError
from recommender.session import Session
from recommender.types import Decision, ModelChoice, Route, Scored, SimilarExample, Tier

if TYPE_CHECKING:
    from recommender.classifier import Prediction
    from recommender.conversation import ConversationRouter

EMPTY = 'the task description is empty: say what you want to do, e.g. taskprof suggest "review this contract"'


def decide(session: Session, text: str) -> Decision:
    return decide_many(session, [text])[0]


def decide_many(session: Session, texts: list[str]) -> list[Decision]:
    """One batch through the classifier; history is read only when a call is close."""
    if not texts:
        return []
    if any(not t.strip() for t in texts):
        raise InputError(EMPTY)
    # Here, not at module level: numpy and the classifier cost ~60 ms that only deciding needs.
    from recommender import classifier as clf_mod
    from recommender.encoder import MAX_TOKENS

    model = session.classifier
    predictions = [known_only(session, p) for p in model.predict(texts)]
    counts: dict[str, int] | None = None
    tiers: dict[str, hardware.TierChoice] = {}
    out = []
    for text, p in zip(texts, predictions, strict=True):
        choice = None
        if clf_mod.is_torn(p):
            if counts is None:
                counts = history.counts(session)
            choice = clf_mod.break_tie(p, counts)
        chosen = choice or (clf_mod.FALLBACK_PROFILE if p.abstained else p.profile)
        if chosen not in tiers:
            tiers[chosen] = session.tier_choice(session.profile(chosen))
        out.append(_decision(session, text, p, choice, tiers[chosen], chosen, model.encoder_name, model.personal,
                             MAX_TOKENS))
    return out


def known_only(session: Session, p: Prediction) -> Prediction:
    """A personal model may rank first a profile of the user's own whose file is now missing or
    skipped as broken: the best profile the catalogue has takes its place, with a warning."""
    names = session.catalogue
    if p.profile in names:
        return p
    ranked = [s for s in p.alternatives if s.profile in names]
    if not ranked:
        best = max((label for label in p.probabilities if label in names), key=p.probabilities.__getitem__)
        from recommender.classifier import Scored as Ranked

        ranked = [Ranked(best, p.probabilities[best])]
    session.warn(f"the personal model chose '{p.profile}', which is not a profile now (its file is missing or "
                 f"was skipped); using '{ranked[0].profile}'")
    return replace(p, profile=ranked[0].profile, confidence=ranked[0].confidence, alternatives=tuple(ranked[1:]))


def _models(session: Session, name: str) -> tuple[ModelChoice, ...]:
    measured = session.measured
    out = []
    for m in session.profile(name).models:
        bench = measured.get(m.ref)
        seconds = bench.seconds_per_response if bench and bench.seconds_per_response else None
        out.append(ModelChoice(m.tier, m.ref, m.purpose, m.size_gb, hardware.expected_seconds(m), seconds))
    return tuple(out)


def _decision(session: Session, text: str, p: Prediction, history_choice: str | None, tier: hardware.TierChoice,
              chosen: str, encoder: str, personal: bool, max_tokens: int) -> Decision:
    profile, confidence = p.profile, p.confidence
    alternatives = tuple(Scored(s.profile, s.confidence) for s in p.alternatives)
    abstained = p.abstained and not history_choice
    if history_choice and history_choice != profile:
        won = next(s for s in alternatives if s.profile == history_choice)
        alternatives = (Scored(profile, confidence), *(s for s in alternatives if s.profile != history_choice))
        profile, confidence = won.profile, won.confidence
    note = None if p.language_supported else (
        f"taskprof reads English task descriptions (and some German, Spanish and French); this looks like "
        f"'{p.language}', so it did not guess a profile")
    flat = " ".join(text.split())
    return Decision(
        text=flat,
        read_text=p.focus or flat[:history.LOG_TEXT_CHARS],
        profile=profile,
        confidence=confidence,
        alternatives=alternatives,
        abstained=abstained,
        fallback_profile=chosen if abstained else None,
        recommended_tier=_tier(tier.tier),
        tier_reason=tier.reason,
        tier_hint=tier.hint,
        similar=tuple(SimilarExample(x.text, x.profile, x.similarity) for x in p.similar),
        truncated=p.truncated,
        encoder=encoder,
        personal=personal,
        history_decided=history_choice,
        tier_fits=tier.fits,
        focus=p.focus,
        payload_kind=p.payload_kind,
        language=p.language,
        language_note=note,
        models=_models(session, chosen),
        max_tokens=max_tokens,
    )


def _tier(name: str) -> Tier:
    return "fast" if name == "fast" else "quality"


# --- conversations -------------------------------------------------------------------------------


def route(session: Session, messages: Any, conversation_router: ConversationRouter | None = None) -> Route:
    """The profile for a conversation's latest turn (kept, switched or new) and the tier to answer on."""
    from recommender.conversation import read_turns

    turns = read_turns(messages)
    users = [t for t in turns if t.role == "user" and t.text.strip()]
    if not users:
        raise InputError(EMPTY)
    decision = (conversation_router or session.conversation_router).route(messages)
    choice = session.tier_choice(session.profile(decision.profile))
    return Route(decision.profile, decision.route, decision.confidence, decision.previous, decision.reason,
                 _tier(choice.tier), choice.reason, users[-1].text)
