"""taskprof/auto routes conversations (issue 19, serve's half), through the fixed interface of
recommender.conversation, with the real uvicorn server and the real classifier behind it."""

from __future__ import annotations

import httpx

from recommender.serve import upstream as upstream_mod
from tests.serve_support import MODELS, TASKS, chat_body

POEM = "write a sonnet about the sea at dawn, in iambic pentameter"


def conversation(*turns: str) -> list[dict]:
    """user, assistant, user, ...: the assistant turns are canned answers."""
    out = []
    for i, text in enumerate(turns):
        out.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return out


def ask(served, messages, model="taskprof/auto", path="/api/chat") -> httpx.Response:
    body = {"model": model, "messages": messages, "stream": False}
    response = httpx.post(served.url + path, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_the_route_header_says_new_kept_or_switched(served):
    served.fake.install(MODELS["writing"][1])
    served.app.server.upstream.forget()
    first = ask(served, conversation(TASKS["programming"]))
    assert (first.headers["X-Taskprof-Profile"], first.headers["X-Taskprof-Route"]) == ("programming", "new")
    kept = ask(served, conversation(TASKS["programming"], "def parse(s): ...",
                                    "write a python function that validates ISO dates too"))
    assert (kept.headers["X-Taskprof-Profile"], kept.headers["X-Taskprof-Route"]) == ("programming", "kept")
    switched = ask(served, conversation(TASKS["programming"], "def parse(s): ...", POEM))
    assert (switched.headers["X-Taskprof-Profile"], switched.headers["X-Taskprof-Route"]) == ("writing", "switched")
    v1 = ask(served, conversation(TASKS["programming"], "def parse(s): ...", POEM), path="/v1/chat/completions")
    assert v1.headers["X-Taskprof-Route"] == "switched" and v1.json()["model"] == MODELS["writing"][1]


def test_a_pinned_profile_or_real_model_is_never_rerouted(served):
    for model, expected in (("taskprof/programming", "coder-deep:32b"), ("taskprof/data-work:fast", "data-fast:7b"),
                            ("coder-fast:7b", "coder-fast:7b")):
        response = ask(served, conversation(TASKS["programming"], "ok", POEM, "here", TASKS["data-work"]), model)
        assert response.json()["model"] == expected
        assert "X-Taskprof-Route" not in response.headers


def test_an_empty_last_turn_routes_by_the_conversation_so_far(served):
    """Ollama treats an empty chat as 'load the model': the conversation so far decides, and no use is logged."""
    response = ask(served, conversation(TASKS["data-work"], "Here is a plan.", ""))
    assert response.headers["X-Taskprof-Profile"] == "data-work"
    nothing = ask(served, [])
    assert nothing.headers["X-Taskprof-Profile"] in MODELS  # the default installed profile
    assert served.uses() == []


def test_generate_routes_its_prompt_as_a_one_turn_conversation(served):
    response = httpx.post(served.url + "/api/generate", json={"model": "taskprof/auto", "prompt": TASKS["data-work"],
                                                              "stream": False})
    assert response.headers["X-Taskprof-Profile"] == "data-work"
    assert response.headers["X-Taskprof-Route"] == "new"
    assert response.json()["model"] == MODELS["data-work"][1]


def test_resident_is_the_profiles_whose_answering_model_is_loaded_now(served, monkeypatch):
    """The router gets `resident` from the tier hosts' /api/ps: programming's answering model
    (its quality tier on this 128 GB machine) is loaded; data-work's fast model is, but its quality
    tier is the one that answers, so data-work is not resident."""
    monkeypatch.setattr(upstream_mod, "PS_TTL", 0.0)
    seen = []
    router = served.app.server.router.conversations
    real_route = router.route

    def spy(messages, *, resident=()):
        seen.append(frozenset(resident))
        return real_route(messages, resident=resident)

    monkeypatch.setattr(router, "route", spy)
    served.fake.loaded = ["coder-deep:32b", "data-fast:7b"]
    ask(served, conversation(TASKS["writing"]))
    assert seen[-1] == {"programming"}
    served.fake.loaded = []
    ask(served, conversation(TASKS["writing"], "ok", "and another about spring"))
    assert seen[-1] == frozenset()
    # ps is asked at most once per PS_TTL per host
    monkeypatch.setattr(upstream_mod, "PS_TTL", 60.0)
    before = served.fake.paths_called("GET").count("/api/ps")
    for _ in range(3):
        ask(served, conversation(TASKS["writing"], "ok", "one more, about rain"))
    assert served.fake.paths_called("GET").count("/api/ps") - before <= 1


def test_an_unreachable_ps_does_not_fail_the_chat(served, monkeypatch):
    served.fake.fail_500.add("/api/ps")
    monkeypatch.setattr(upstream_mod, "PS_TTL", 0.0)
    response = ask(served, conversation(TASKS["programming"]))
    assert response.headers["X-Taskprof-Profile"] == "programming"


def test_a_repeated_conversation_reads_no_text_twice(served, monkeypatch):
    """The prediction cache saves work and never changes the answer."""
    calls = []
    predict = served.app.server.router.predict
    real = predict.predict

    def counting(texts):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(predict, "predict", counting)
    chat = conversation(TASKS["programming"], "ok", "write a python function that validates ISO dates too")
    first = ask(served, chat)
    n = len(calls)
    again = ask(served, chat)
    assert len(calls) == n  # nothing predicted again
    assert again.headers["X-Taskprof-Profile"] == first.headers["X-Taskprof-Profile"]
    assert again.headers["X-Taskprof-Route"] == first.headers["X-Taskprof-Route"]


def test_each_routed_chat_is_a_use_with_what_decided(served):
    ask(served, conversation(TASKS["programming"]))
    ask(served, conversation(TASKS["programming"], "ok", POEM), "taskprof/data-work:fast")
    uses = served.uses()
    assert [(p, m) for p, _, m, _ in uses] == [("programming", "coder-deep:32b"), ("data-work", "data-fast:7b")]
    assert uses[0][3] == TASKS["programming"] and uses[1][3] is None  # a named profile keeps no text


def test_openai_parts_and_a_system_prompt_are_read(served):
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": [{"type": "text", "text": TASKS["data-work"]},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]
    response = httpx.post(served.url + "/v1/chat/completions", json=chat_body("taskprof/auto") | {"messages": messages})
    assert response.status_code == 200 and response.headers["X-Taskprof-Profile"] == "data-work"


def test_a_conversation_is_one_use_per_profile_it_used(served):
    """A 3-request conversation on one profile, then a switch: two uses, each with its route; the
    conversation is stored as a keyed hash, never as its text."""
    import sqlite3

    from recommender import paths

    served.fake.install(MODELS["writing"][1])
    served.app.server.upstream.forget()
    chat = conversation(TASKS["programming"])
    ask(served, chat)
    chat += [{"role": "assistant", "content": "def parse(s): ..."},
             {"role": "user", "content": "write a python function that validates ISO dates too"}]
    ask(served, chat)
    chat += [{"role": "assistant", "content": "def check(s): ..."}, {"role": "user", "content": POEM}]
    assert ask(served, chat).headers["X-Taskprof-Route"] == "switched"
    served.app.server.uses.flush()
    with sqlite3.connect(paths.usage_db_path()) as conn:
        rows = conn.execute("SELECT profile, route, conversation FROM events WHERE command = 'chat' ORDER BY id").fetchall()
    assert [(p, r) for p, r, _ in rows] == [("programming", "new"), ("writing", "switched")]
    assert rows[0][2] == rows[1][2] and TASKS["programming"] not in rows[0][2]
