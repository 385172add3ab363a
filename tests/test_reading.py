"""Reading raw input before classification: language, instruction vs payload, questions about models, negations."""

from __future__ import annotations

import pytest

from recommender import reading

LICENCE = "\n\n".join(
    f"{i}. The Licensee shall not sublicense the Software, and the Licensor hereby disclaims any warranty; "
    "liability of either party under this Agreement is limited as set out herein." for i in range(1, 200)
)
CODE = "\n".join(["import os", "", "def load(path):", "    with open(path) as f:", "        return f.read()", "",
                  "class Cache:", "    def __init__(self):", "        self.items = {}", "    def get(self, key):",
                  "        return self.items.get(key)"] * 6)
TABLE = "\n".join(["id,name,amount,date"] + [f"{i},item {i},{i * 3.5},2024-01-{1 + i % 28:02d}" for i in range(60)])
EMAILS = "\n\n".join(f"From: Ann <ann@example.com>\nTo: Bo <bo@example.com>\nSubject: Re: budget\n\nHi Bo,\n"
                     f"Can we move the review to week {i}?\n\nBest regards,\nAnn" for i in range(4))
TRANSCRIPT = "\n".join(f"[00:{i:02d}] {'Ann' if i % 2 else 'Bo'}: we should ship the release on friday" for i in range(40))
PROSE = "\n\n".join("The house stood at the end of the lane, and nobody had lived in it for years. " * 6 for _ in range(10))


@pytest.mark.parametrize(("payload", "kind"), [(LICENCE, "legal"), (CODE, "code"), (TABLE, "table"),
                                               (EMAILS, "email"), (TRANSCRIPT, "transcript"), (PROSE, "prose")])
def test_payload_kinds(payload, kind):
    assert reading.payload_kind(payload) == kind


@pytest.mark.parametrize("payload", [LICENCE, CODE, TABLE, EMAILS, TRANSCRIPT, PROSE])
@pytest.mark.parametrize("first", [True, False])
def test_the_instruction_is_found_before_or_after_the_paste(payload, first):
    ask = "Please go through the text and tell me what matters most?"
    text = f"{ask}\n\n{payload}" if first else f"{payload}\n\n{ask}"
    instruction, kind = reading.split_instruction(text)
    assert instruction == ask
    assert kind is not None


def test_a_short_task_is_read_whole():
    assert reading.split_instruction("write a python function that merges two sorted lists") == (None, None)
    assert reading.split_instruction("design a rate limiter\nfor our public API\nwith per-user quotas") == (None, None)
    r = reading.read("review this contract")
    assert r.focus is None and r.model_text == "review this contract" and r.payload_kind is None


def test_whitespace_is_collapsed_for_the_text_but_lines_are_used_for_the_split():
    r = reading.read(f"Summarise the obligations in this licence:\n\n{LICENCE}")
    assert "\n" not in r.text
    assert r.focus == "Summarise the obligations in this licence:"
    assert r.payload_kind == "legal"


@pytest.mark.parametrize(("text", "subject"), [
    ("which model for coding?", "coding"),
    ("what model should I use for summarizing pdfs", "summarizing pdfs"),
    ("best local LLM for writing sql", "writing sql"),
    ("Which AI model should we pick to review contracts?", "review contracts"),
    ("can you recommend a model for brainstorming?", "brainstorming"),
])
def test_questions_about_models_are_read_by_their_subject(text, subject):
    assert reading.meta_subject(text) == subject
    assert reading.read(text).focus == subject


def test_a_task_mentioning_a_model_is_not_a_question_about_models():
    assert reading.meta_subject("train a model for fraud detection on this data") is None
    assert reading.meta_subject("write a system prompt for a local model") is None


@pytest.mark.parametrize(("text", "kept"), [
    ("no SQL please, just a poem about databases", "a poem about databases"),
    ("I don't need a system design, just brainstorm names for my cache product", "brainstorm names for my cache product"),
    ("don't write code, explain how vaccines work", "explain how vaccines work"),
])
def test_negated_parts_are_dropped(text, kept):
    assert reading.drop_negated(text) == kept


def test_a_negation_that_would_leave_nothing_keeps_the_text():
    assert reading.drop_negated("I don't understand this error") == "I don't understand this error"
    assert reading.drop_negated("write a function without recursion") == "write a function"


def test_a_role_play_preamble_is_dropped():
    text = "You are a senior analyst with 20 years of experience. Compare the pricing of two CRM vendors."
    assert reading.drop_role(text) == "Compare the pricing of two CRM vendors."


@pytest.mark.parametrize(("text", "language"), [
    ("review this contract", "en"), ("Who was John Moses Browning?", "en"), ("sql", "en"),
    ("Überprüfe bitte diesen Vertrag und nenne mir die Fristen", "de"),
    ("Escribe una función que ordene una lista de números", "es"),
    ("Écris-moi un poème sur la mer et les bateaux", "fr"),
    ("请帮我审查这份合同", "zh"), ("この契約書を確認してください", "ja"), ("Проверь этот договор", "ru"),
    ("\u2603\u2603", "und"),
])
def test_language_detection(text, language):
    assert reading.detect_language(text) == language


def test_an_unread_language_is_not_supported_and_german_is_glossed():
    assert not reading.read("秋についての詩を書いてください").language_supported
    r = reading.read("Schreibe eine Python-Funktion, die Dateien umbenennt")
    assert r.language == "de" and r.language_supported
    assert r.model_text.startswith("write")


def test_a_huge_paste_is_read_at_its_ends_only():
    text = "Which clauses limit our liability?\n\n" + LICENCE * 4
    assert len(text) > 100_000
    r = reading.read(text)
    # Ten times the middle changes nothing: only the ends are read.
    assert reading.read("Which clauses limit our liability?\n\n" + LICENCE * 40) == r
    assert r.focus == "Which clauses limit our liability?"
    assert r.payload_kind == "legal"


def test_a_paste_collapsed_to_one_line_still_has_its_instruction_found():
    # Whitespace collapsed (as a shell pipeline or an older front end may do): sentences are the pieces.
    flat = " ".join(LICENCE.split())
    for text, ask in ((f"{flat} What does this licence forbid me to do?", "What does this licence forbid me to do?"),
                      (f"Please list my obligations under this licence. {flat}", "Please list my obligations under this licence.")):
        r = reading.read(text)
        assert r.focus == ask
        assert r.payload_kind == "legal"


def test_greetings_and_sign_offs_are_not_the_ask():
    text = f"Hi,\nCan you check which rows are duplicated?\n\n{TABLE}\n\nThanks!"
    assert reading.split_instruction(text) == ("Can you check which rows are duplicated?", "table")


@pytest.mark.parametrize(("text", "first", "second"), [
    ("write a python scraper for product prices and then a blog post about what we found",
     "write a python scraper for product prices", "a blog post about what we found"),
    ("summarize this contract and draft an email to the client about the risky clauses",
     "summarize this contract", "draft an email to the client about the risky clauses"),
    ("clean this dataset in pandas, then write a short summary for my boss",
     "clean this dataset in pandas", "write a short summary for my boss"),
])
def test_a_request_with_two_asks_is_read_by_the_first(text, first, second):
    r = reading.read(text)
    assert (r.model_text, r.focus, r.second_ask) == (first, first, second)


@pytest.mark.parametrize("text", [
    "research and compare the top CRM vendors",  # one ask with two verbs
    "design and build a REST API for todos",
    "write a story about a cat and a dog",  # "and a ..." too short to be an ask of its own
    "summarize the pros and cons of remote work",
    "Tighten the prose in this chapter and make the dialogue sharper.",  # one edit, two verbs
    "Proofread this chapter and fix grammar and punctuation, keep my voice.",
])
def test_one_ask_is_not_split(text):
    assert reading.read(text).second_ask is None


def test_a_long_paste_is_not_split_into_asks():
    assert reading.split_asks("review this and then " + "x " * 300) is None


def test_a_declined_first_ask_leaves_the_second():
    r = reading.read("skip the brainstorming and design a caching layer for our read-heavy API")
    assert (r.model_text, r.second_ask) == ("design a caching layer for our read-heavy API", None)
