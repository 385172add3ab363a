"""The shipped classifier on the issue's hard pairs, abstention, input edge cases and load errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from recommender import classifier, paths
from recommender.errors import ArtifactError
from training import dataset

# One line each side of the hard pairs; none of them is a training example.
HARD_PAIRS = [
    ("write a SQL query that lists customers who ordered twice in one week", "data-work"),
    ("write a python function that merges two sorted linked lists", "programming"),
    ("how should we design rate limiting across 40 API gateway nodes", "systems-architecture"),
    ("implement a sliding-window rate limiter class in TypeScript with unit tests", "programming"),
    ("go through this supplier agreement and flag anything that looks risky for us", "document-intelligence"),
    ("draft a simple freelance design contract I can send to clients", "writing"),
    ("literature review of studies on microplastics in drinking water", "research"),
    ("write a fun blog post about microplastics for a general audience", "writing"),
    ("brainstorm twenty names for a mobile dog grooming van", "brainstorming"),
    ("how big is the mobile pet grooming market in the US and who are the main players", "business-research"),
    ("write a system prompt that turns a local model into a strict code reviewer", "skills-building"),
    ("write an essay on whether social media harms teenagers", "writing"),
]


@pytest.fixture(scope="module")
def clf():
    return classifier.load()


def test_hard_pairs_are_not_training_examples():
    known = {" ".join(t.lower().split()) for t in dataset.load().texts}
    assert not [t for t, _ in HARD_PAIRS if t.lower() in known]


@pytest.mark.parametrize(("text", "expected"), HARD_PAIRS)
def test_hard_pairs(clf, text, expected):
    prediction = clf.predict([text])[0]
    assert prediction.profile == expected, (prediction.profile, prediction.confidence)
    assert not prediction.abstained


@pytest.mark.parametrize("text", ["tell me a joke", "asdf qwer zxcv", "how are you today?", "what's the capital of peru"])
def test_no_task_profile_fits_abstains(clf, text):
    prediction = clf.predict([text])[0]
    assert prediction.abstained
    assert prediction.profile in dataset.TASK_LABELS  # still the best task profile


def test_review_this_contract(clf):
    prediction = clf.predict(["review this contract"])[0]
    assert prediction.profile == "document-intelligence"
    assert prediction.confidence > 0.5
    assert len(prediction.similar) == 3
    assert all(s.profile == "document-intelligence" for s in prediction.similar)
    assert [a.profile for a in prediction.alternatives] and prediction.profile not in [a.profile for a in prediction.alternatives]


def test_long_text_is_truncated_not_refused(clf):
    prediction = clf.predict(["please review this lease agreement " * 50_000])[0]
    assert prediction.truncated
    assert prediction.profile == "document-intelligence"


def test_text_with_no_known_token_is_handled(clf):
    prediction = clf.predict(["\u2603\u2603\u2603"])[0]
    assert prediction.abstained


@pytest.mark.slow  # scikit-learn comes with the train extra
def test_token_bags_are_weighted_like_scikit_learns_tfidf(clf):
    # The shipped head was fitted on bags weighted by train.token_idf; inference must weigh them the same.
    from sklearn.feature_extraction.text import TfidfTransformer

    from training.train import token_idf

    texts = ["review this contract", "the the the contract", "write a poem about the sea", "\u2603"]
    bags = clf.encoder.encode(texts).bags
    vocabulary = clf.encoder.table.shape[0]

    def dense(b):
        matrix = np.zeros((len(texts), vocabulary))
        for row in range(len(texts)):
            span = slice(b.indptr[row], b.indptr[row + 1])
            matrix[row, b.ids[span]] = b.weights[span]
        return matrix

    counts = dense(bags)
    idf = token_idf(bags, vocabulary)
    tfidf = TfidfTransformer().fit(counts)
    np.testing.assert_allclose(idf, tfidf.idf_, rtol=1e-6)
    np.testing.assert_allclose(dense(bags.reweighted(idf)), tfidf.transform(counts).toarray(), atol=1e-6)
    assert clf.token_idf is not None and clf.token_idf.shape == (vocabulary,)


def test_batch_predictions_equal_single_ones(clf):
    texts = [t for t, _ in HARD_PAIRS]
    batch = clf.predict(texts)
    single = [clf.predict([t])[0] for t in texts]
    assert [(p.profile, round(p.confidence, 5)) for p in batch] == [(p.profile, round(p.confidence, 5)) for p in single]


def test_history_breaks_only_close_calls(clf):
    close = classifier.Prediction(
        text="t", probabilities={}, profile="research", confidence=0.40,
        alternatives=(classifier.Scored("business-research", 0.35), classifier.Scored("writing", 0.10)),
        abstained=False, truncated=False, similar=(),
    )
    assert classifier.break_tie(close, {"business-research": 9, "research": 2}) == "business-research"
    assert classifier.break_tie(close, {"research": 9, "business-research": 2}) is None
    assert classifier.break_tie(close, {"writing": 50}) is None  # writing is not close
    confident = classifier.Prediction(**{**close.__dict__, "confidence": 0.70})
    assert classifier.break_tie(confident, {"business-research": 99}) is None
    # A close call the classifier abstained on: history that backs its choice settles it.
    unsure = classifier.Prediction(**{**close.__dict__, "abstained": True})
    assert classifier.break_tie(unsure, {"research": 3}) == "research"
    assert classifier.break_tie(unsure, {"brainstorming": 3}) is None
    # When `general` wins, chit-chat stays chit-chat.
    chat = classifier.Prediction(**{**unsure.__dict__, "probabilities": {"general": 0.5}})
    assert classifier.break_tie(chat, {"research": 30, "business-research": 40}) is None


def test_importing_the_fast_path_loads_no_heavy_library():
    code = (
        "import sys, recommender.cli, recommender.classifier, recommender.encoder\n"
        "c = recommender.classifier.load(); c.predict(['review this contract'])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'sklearn', 'transformers', 'ollama', 'httpx') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def copy_artifact(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(paths.bundled_dir("models"), target)
    return target


def test_corrupt_manifest_is_a_named_error(tmp_path):
    target = copy_artifact(tmp_path)
    (target / "manifest.json").write_text("{broken")
    with pytest.raises(ArtifactError, match=r"manifest\.json"):
        classifier.load(model_dir=target)


def test_wrong_format_is_refused(tmp_path):
    target = copy_artifact(tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["format"] = 99
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="retrain"):
        classifier.load(model_dir=target)


def test_missing_head_is_a_named_error(tmp_path):
    target = copy_artifact(tmp_path)
    (target / "head-static.safetensors").unlink()
    with pytest.raises(ArtifactError, match=r"head-static\.safetensors is missing"):
        classifier.load(model_dir=target)


def test_truncated_embeddings_are_a_named_error(tmp_path):
    target = copy_artifact(tmp_path)
    emb = target / "encoder" / "embeddings.safetensors"
    emb.write_bytes(emb.read_bytes()[:1000])
    with pytest.raises(ArtifactError):
        classifier.load(model_dir=target).predict(["x"])


# --- input as people type it (issue 13) -----------------------------------------------------------

LICENCE = "\n\n".join(
    f"{i}. The Licensee shall not sublicense, sell or lease the Software without the written consent of the "
    "Licensor. The Software is provided as is, and the Licensor's liability under this Agreement is limited."
    for i in range(1, 160)
)
SCRIPT = "\n".join(["import sys", "", "def parse(argv):", "    out = {}", "    for arg in argv:",
                    "        key, _, value = arg.partition('=')", "        out[key] = value", "    return out", "",
                    "if __name__ == '__main__':", "    print(parse(sys.argv[1:]))"] * 5)


@pytest.mark.parametrize("first", [True, False])
def test_a_pasted_licence_is_classified_by_its_instruction(clf, first):
    ask = "Go through this licence and tell me what I am obliged to do."
    text = f"{ask}\n\n{LICENCE}" if first else f"{LICENCE}\n\n{ask}"
    p = clf.predict([text])[0]
    assert p.profile == "document-intelligence" and not p.abstained
    assert p.focus == ask
    assert p.payload_kind == "legal"
    assert not p.truncated  # the instruction was read whole
    assert "\n" not in p.text


def test_pasted_code_with_its_question_is_programming(clf):
    p = clf.predict([f"{SCRIPT}\n\nWhy does this crash when an argument has no equals sign?"])[0]
    assert (p.profile, p.payload_kind) == ("programming", "code")


def test_a_long_paste_is_read_at_its_ends_whatever_its_length(clf):
    """A 100 KB paste and a 1 MB one with the same ends read the same: the middle is never encoded
    (what keeps a paste's cost flat; its time is measured in benchmarks/bench_suggest.py)."""
    ask = "Summarise the obligations in the licence below.\n\n"
    short, long = clf.predict([ask + LICENCE * 4, ask + LICENCE * 40])
    assert len(ask + LICENCE * 4) > 100_000
    assert short.profile == long.profile == "document-intelligence"
    assert short.confidence == pytest.approx(long.confidence) and short.focus == long.focus


@pytest.mark.parametrize(("text", "expected"), [
    ("which model is best for debugging python?", "programming"),
    ("what local llm should I use to write short stories", "writing"),
    ("best model for sql queries", "data-work"),
])
def test_questions_about_models_are_classified_by_their_subject(clf, text, expected):
    p = clf.predict([text])[0]
    assert p.profile == expected, (p.profile, p.confidence)
    assert p.focus is not None and p.focus in text
    assert p.profile != "skills-building"


@pytest.mark.parametrize(("text", "expected"), [
    ("no SQL please, just a poem about databases", "writing"),
    ("I don't need a system design, just brainstorm names for my distributed cache product", "brainstorming"),
])
def test_negated_requests_follow_what_is_asked(clf, text, expected):
    assert clf.predict([text])[0].profile == expected


def test_misspelt_words_still_reach_the_profile(clf):
    p = clf.predict(["reveiw this contarct and flag riksy clauses"])[0]
    assert p.profile == "document-intelligence" and not p.abstained


@pytest.mark.parametrize("text", ["请帮我审查这份合同", "この契約書を確認してください", "Проверь этот договор, пожалуйста"])
def test_an_unread_language_abstains_and_says_so(clf, text):
    p = clf.predict([text])[0]
    assert p.abstained
    assert not p.language_supported
    assert p.language in ("zh", "ja", "ru")


def test_english_is_supported_and_named(clf):
    p = clf.predict(["review this contract"])[0]
    assert (p.language, p.language_supported, p.focus, p.payload_kind) == ("en", True, None, None)


def test_a_character_head_is_shipped_and_used(clf):
    assert clf.char_head is not None
    encoded = clf.encoder.encode(["review this contarct"])
    assert not np.allclose(clf.logits(encoded, ["review this contarct"]), clf.logits(encoded))
