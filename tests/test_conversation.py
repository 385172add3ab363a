"""The conversation router: follow-ups keep the profile, clear new tasks switch, and what it reads stays bounded."""

from __future__ import annotations

import itertools
import random

import pytest

from recommender import classifier as classifier_module
from recommender.classifier import FALLBACK_PROFILE, GENERAL, TIE_MARGIN, TIE_MAX_CONFIDENCE, Prediction
from recommender.conversation import (
    CONTEXT_CHARS,
    MAX_TURNS,
    TURN_CHARS,
    USER_TURNS,
    ConversationRouter,
    conversation_key,
    load_params,
    read_turns,
)


@pytest.fixture(scope="module")
def clf():
    return classifier_module.load(personal=False)


@pytest.fixture
def router(clf):
    return ConversationRouter(clf.predict)


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def routes(router, messages):
    """The decision at every user turn of a conversation, each from its own request (the prefix)."""
    out = []
    for i, m in enumerate(messages):
        if m["role"] == "user":
            out.append(router.route(messages[: i + 1]))
    return out


CODING = [
    user("Write a Python function that parses ISO 8601 dates from a log file and returns them sorted."),
    assistant("```python\ndef parse_dates(path):\n    return sorted(datetime.fromisoformat(l.split()[0]) for l in open(path))\n```"),
    user("now in TypeScript"),
    assistant("```ts\nfunction parseDates(lines: string[]): Date[] { return lines.map(l => new Date(l)); }\n```"),
    user("yes, add a test and commit it"),
    assistant("Done: a Jest test, committed as 'parseDates: sorted dates from a log'."),
    user("why?"),
    assistant("Because the log lines start with the timestamp."),
    user("thanks"),
]


def test_follow_ups_keep_the_conversations_profile(router):
    decisions = routes(router, CODING)
    assert [d.profile for d in decisions] == ["programming"] * 5
    assert [d.route for d in decisions] == ["new", "kept", "kept", "kept", "kept"]
    assert decisions[2].previous == "programming"


def test_a_short_edit_request_is_not_read_on_its_own(router):
    messages = [
        user("Draft an email to my landlord asking to fix the broken heating before the weekend."),
        assistant("Subject: Heating repair\n\nHi Mr. Patel, the heating in my flat stopped working on Tuesday..."),
        user("try again, friendlier"),
        assistant("Hi Mr. Patel, hope you're well! Quick one: the heating has been off since Tuesday..."),
        user("put that in a table"),
    ]
    decisions = routes(router, messages)
    assert {d.profile for d in decisions} == {"writing"}


def test_a_clear_new_task_switches_at_once(router):
    messages = [*CODING, assistant("You're welcome!"),
                user("Now write a short email to my landlord asking him to repair the broken heating this week.")]
    decision = router.route(messages)
    assert decision.profile == "writing"
    assert decision.route == "switched"
    assert decision.previous == "programming"


def test_the_system_prompt_counts_as_evidence(router):
    system = {"role": "system", "content": "You are a contract analyst. Review agreements and flag risky clauses."}
    alone = router.route([user("thoughts?")])
    assert alone.profile == FALLBACK_PROFILE
    with_system = router.route([system, user("thoughts?")])
    assert with_system.profile == "document-intelligence"
    assert "system prompt" in with_system.reason
    # A clear task of another kind still wins over the system prompt.
    other = router.route([system, user("Write a Python script that renames every .jpeg file in a folder to .jpg")])
    assert other.profile == "programming"


def test_a_system_prompt_alone_routes_by_its_task(router):
    decision = router.route([{"role": "system", "content": "You are a contract analyst: you review agreements."}])
    assert decision.profile == "document-intelligence"
    assert router.route([{"role": "system", "content": "You are a helpful assistant."}]).profile == FALLBACK_PROFILE


def test_multimodal_parts_are_read_for_their_text(router):
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 50_000}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Summarize this contract's termination clause"}, image]}]
    assert read_turns(messages)[0].text == "Summarize this contract's termination clause"
    assert router.route(messages).profile == "document-intelligence"
    # Ollama's images field is passed over; an image with no text is no user text.
    assert router.route([{"role": "user", "content": "", "images": ["iVBORw0KGgo="]}]).reason == "no user text"


def test_tool_calls_and_results_are_not_the_users_ask(router):
    messages = [
        user("Find the bug: the tests in tests/test_api.py fail since yesterday."),
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "run", "arguments": {"cmd": "pytest"}}}]},
        # A tool result that on its own would read as another task.
        {"role": "tool", "content": "Write a marketing plan and a SWOT analysis for the Q3 launch. " * 20},
        assistant("The create_user endpoint rejects the payload."),
        user("fix it"),
    ]
    decision = router.route(messages)
    assert decision.profile == "programming" and decision.route == "kept"


def test_assistant_turns_are_context_not_the_ask(router):
    messages = [
        user("Write a Python script that renames all .jpeg files in a folder to .jpg."),
        assistant("Summarize this contract. Extract every clause from this legal agreement. " * 10),
        user("make it recursive"),
    ]
    assert router.route(messages).profile == "programming"


def test_an_empty_last_turn_routes_by_the_conversation_so_far(router):
    messages = [*CODING, assistant("You're welcome!"), user("")]
    decision = router.route(messages)
    assert decision.profile == "programming" and decision.route == "kept"
    assert router.route([]).profile == FALLBACK_PROFILE
    assert router.route([user("")]).reason == "no user text"
    assert router.route("not a list").profile == FALLBACK_PROFILE


class Recording:
    """The real classifier, recording the texts it is asked to read."""

    def __init__(self, clf):
        self.clf = clf
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts += texts
        return self.clf.predict(texts)


def test_a_200_turn_history_reads_a_bounded_part(clf):
    messages = []
    for i in range(100):
        messages += [user(f"question {i}: how do I fix this Python error number {i}?"), assistant(f"answer {i}")]
    turns = read_turns(messages)
    assert len(turns) <= MAX_TURNS + 1
    assert turns[0].text.startswith("question 0:")  # the opening is always read
    recording = Recording(clf)
    decision = ConversationRouter(recording).route(messages)
    assert decision.profile == "programming"
    assert len(recording.texts) <= USER_TURNS + 1
    assert conversation_key(read_turns(messages)) == conversation_key(read_turns(messages[:1]))


def test_a_1_mb_turn_is_read_up_to_its_cap(clf):
    huge = "Summarize this transcript. " + "Alice: we need the figures by Friday. " * 30_000
    assert len(huge) > 1_000_000
    turns = read_turns([user(huge)])
    assert len(turns[0].text) == TURN_CHARS
    parts = [{"type": "text", "text": "x" * 1000} for _ in range(5000)]
    assert len(read_turns([user(parts)])[0].text) <= TURN_CHARS + 256
    recording = Recording(clf)
    router = ConversationRouter(recording)
    router.route([user(huge), assistant("ok"), user("Now " + huge), assistant("ok"), user("thanks")])
    # Earlier turns are read up to CONTEXT_CHARS; only the latest up to TURN_CHARS.
    assert sorted(len(t) for t in recording.texts) == [len("thanks"), CONTEXT_CHARS, CONTEXT_CHARS]
    recording.texts.clear()
    router.route([user(huge), assistant("ok"), user("And " + huge)])
    assert sorted(len(t) for t in recording.texts) == [TURN_CHARS]  # the opening was read before


def fake_prediction(text: str, probabilities: dict[str, float]) -> Prediction:
    tasks = sorted((k for k in probabilities if k != GENERAL), key=lambda k: -probabilities[k])
    return Prediction(text=text, probabilities=probabilities, profile=tasks[0], confidence=probabilities[tasks[0]],
                      alternatives=tuple(classifier_module.Scored(k, probabilities[k]) for k in tasks[1:4]),
                      abstained=max(probabilities, key=probabilities.get) == GENERAL, truncated=False, similar=())


LABELS = ["programming", "writing", "research", "data-work", GENERAL]


def table_predict(table: dict[str, dict[str, float]]):
    """A classifier that answers from a table: the readings a test needs, exactly."""
    def predict(texts):
        return [fake_prediction(t, {label: table[t].get(label, 0.0) for label in LABELS}) for t in texts]
    return predict


def test_a_resident_model_wins_only_a_close_call():
    close = {"programming": 0.46, "writing": 0.40, "research": 0.08, "data-work": 0.04, GENERAL: 0.02}
    clear = {"programming": 0.80, "writing": 0.15, "research": 0.03, "data-work": 0.01, GENERAL: 0.01}
    router = ConversationRouter(table_predict({"close": close, "clear": clear}))
    assert router.route([user("close")]).profile == "programming"
    tie = router.route([user("close")], resident={"writing"})
    assert tie.profile == "writing" and tie.resident_tie
    assert router.route([user("close")], resident={"research"}).profile == "programming"  # not close enough
    kept = router.route([user("clear")], resident={"writing"})
    assert kept.profile == "programming" and not kept.resident_tie


def test_a_clear_decision_is_never_overridden_by_residency():
    rng = random.Random(7)
    table = {}
    for i in range(300):
        weights = [rng.random() ** 3 for _ in LABELS]
        total = sum(weights)
        table[f"t{i}"] = {label: w / total for label, w in zip(LABELS, weights, strict=True)}
    router = ConversationRouter(table_predict(table))
    overridden = 0
    for i in range(300):
        request = [user(f"t{i}")]
        plain = router.route(request)
        for resident in itertools.combinations(LABELS[:4], 2):
            tied = router.route(request, resident=set(resident))
            if tied.profile != plain.profile:
                overridden += 1
                # Only a close call moves: the winner under the bar, the resident within the margin.
                assert plain.confidence < TIE_MAX_CONFIDENCE
                assert plain.confidence - plain.scores[tied.profile] <= TIE_MARGIN
                assert tied.profile in resident and tied.resident_tie
            else:
                assert not tied.resident_tie
    assert overridden > 0  # the table has close calls, so the rule was exercised


def test_the_decision_comes_from_the_request_alone(clf):
    first = ConversationRouter(clf.predict)
    for other in ([user("tell me a joke")], [user("design a rate limiter for a public API")], CODING[:3]):
        first.route(other)
    requests = [CODING[: i + 1] for i, m in enumerate(CODING) if m["role"] == "user"]
    for request in requests:
        assert first.route(request).to_json() == ConversationRouter(clf.predict).route(request).to_json()


def test_the_cache_never_changes_the_answer(clf):
    cached = ConversationRouter(clf.predict, cache_size=4)  # small, so that it also evicts
    uncached = ConversationRouter(clf.predict, cache_size=0)
    conversation = [*CODING, assistant("ok"), user("Draft an email to the team about the release"), assistant("..."),
                    user("shorter")]
    for _ in range(2):
        for i, m in enumerate(conversation):
            if m["role"] == "user":
                assert cached.route(conversation[: i + 1]).to_json() == uncached.route(conversation[: i + 1]).to_json()
    assert len(cached._cache) <= 4


def test_the_shipped_continuation_head_matches_the_features():
    params = load_params()
    from recommender.conversation import FEATURES

    assert len(params.weights) == len(FEATURES) == len(params.mean) == len(params.scale)


def test_importing_the_router_loads_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, recommender.conversation; "
            "bad = [m for m in ('torch', 'sklearn', 'sentence_transformers', 'starlette', 'httpx', 'ollama') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
