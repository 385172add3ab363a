"""Corrections and the personal classifier: they change what they should and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from recommender import personal, usage
from recommender.classifier import Classifier
from training import dataset

CORRECTED = [
    "estimate churn for our SaaS from last year's subscriptions",
    "figure out why customers cancel their subscriptions",
    "which customers are likely to churn next quarter",
]
SIMILAR = "estimate churn for our mobile app subscribers"
UNRELATED = {
    "write a haiku about rain": "writing",
    "design a URL shortener": "systems-architecture",
    "fix this python stack trace": "programming",
    "write a SQL query for monthly revenue": "data-work",
}


def profile_of(run, text: str) -> dict:
    result = run("suggest", "--json", "--no-log", text)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_correct_relabels_the_last_suggestion(run):
    assert run("suggest", "estimate churn for our mobile app subscribers").exit_code == 0
    result = run("correct", "business-research", "--json")
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    assert stored["text"] == SIMILAR and stored["profile"] == "business-research"
    assert stored["was"] and stored["was"] != "business-research"
    assert [(c.text, c.profile) for c in usage.corrections()] == [(SIMILAR, "business-research")]


def test_suggest_tells_how_to_correct_it(run):
    assert 'taskprof correct --text "..." PROFILE' in run("suggest", "--no-log", "design a URL shortener").stderr  # a hint


def test_correct_refuses_what_it_cannot_use(run):
    assert run("correct", "writing").exit_code == 2  # nothing suggested yet
    assert run("correct", "--text", "x", "nope").exit_code == 2  # an unknown profile is a bad argument
    assert run("correct", "--text", "x", "../etc").exit_code == 2  # a path is no profile name
    assert run("correct", "--text", "tell me a joke", "balanced").exit_code == 2  # a general profile
    assert run("train", "--personal").exit_code == 1  # no corrections yet
    assert usage.corrections() == []


def test_corrections_change_corrected_and_similar_tasks_only_and_reset_restores(run, taskprof_home):
    before = {text: profile_of(run, text)["profile"] for text in [*CORRECTED, SIMILAR, *UNRELATED]}
    assert {t: before[t] for t in UNRELATED} == UNRELATED
    assert before[SIMILAR] != "business-research"

    for text in CORRECTED:
        assert run("correct", "--text", text, "business-research").exit_code == 0
    report = run("train", "--personal", "--json")
    assert report.exit_code == 0, report.output
    figures = json.loads(report.stdout)
    assert figures["corrections"] == 3
    assert figures["personal_cv_top1"] >= figures["shipped_cv_top1"] - personal.MAX_CV_LOSS

    after = {text: profile_of(run, text) for text in [*CORRECTED, SIMILAR, *UNRELATED]}
    assert all(after[t]["profile"] == "business-research" for t in CORRECTED)
    assert after[SIMILAR]["profile"] == "business-research"  # never corrected, but alike
    assert {t: after[t]["profile"] for t in UNRELATED} == UNRELATED
    assert all(a["personal"] for a in after.values())
    assert "your personal model" in run("suggest", "--no-log", SIMILAR).stderr  # a note, not the result

    # A restart: a new process reads the personal model from the data directory.
    env = {**os.environ, "TASKPROF_HOME": str(taskprof_home)}
    fresh = subprocess.run([sys.executable, "-m", "recommender", "suggest", "--json", "--no-log", SIMILAR],
                           capture_output=True, text=True, env=env, check=True)
    assert json.loads(fresh.stdout)["profile"] == "business-research"

    assert run("train", "--reset").exit_code == 0
    restored = {text: profile_of(run, text) for text in [*CORRECTED, SIMILAR, *UNRELATED]}
    assert {t: r["profile"] for t, r in restored.items()} == before
    assert not any(r["personal"] for r in restored.values())
    assert len(usage.corrections()) == 3  # the corrections stay for the next training


def write_user_profile(home, name: str) -> None:
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({
        "name": name, "kind": "task", "description": "Drafting and redlining legal agreements.",
        "models": [
            {"name": "llama3.1:8b", "tag": "latest", "tier": "fast", "purpose": "Quick clauses.", "size_gb": 4.9,
             "params_b": 8.0, "context": 131072},
            {"name": "llama3.3:70b", "tag": "latest", "tier": "quality", "purpose": "Careful drafting.", "size_gb": 43,
             "params_b": 70.6, "context": 131072},
        ],
        "recommended_for": ["drafting contracts"], "size_estimate": "~48 GB",
    }))


def test_a_profile_of_your_own_becomes_suggestible_after_three_corrections(run, taskprof_home):
    write_user_profile(taskprof_home, "legal-drafting")
    tasks = [
        "draft a mutual NDA between two startups",
        "redline this software license agreement in our favour",
        "write an indemnification clause for a consulting contract",
    ]
    for text in tasks[:2]:
        assert run("correct", "--text", text, "legal-drafting").exit_code == 0
    assert run("correct", "--text", "draft a termination letter for my landlord", "writing").exit_code == 0
    early = json.loads(run("train", "--personal", "--json").stdout)
    assert early["ignored"] == {"legal-drafting": 2}
    assert "legal-drafting" not in early["labels"]

    assert run("correct", "--text", tasks[2], "legal-drafting").exit_code == 0
    learned = json.loads(run("train", "--personal", "--json").stdout)
    assert learned["new_labels"] == ["legal-drafting"]
    assert profile_of(run, tasks[0])["profile"] == "legal-drafting"
    alike = profile_of(run, "redline this license agreement")  # a shorter wording of a corrected task
    assert alike["profile"] == "legal-drafting"
    assert alike["models"]["fast"]["name"] == "llama3.1:8b"
    assert profile_of(run, "write a short story about a dragon")["profile"] == "writing"


def test_a_profile_of_your_own_that_breaks_later_is_not_suggested(run, taskprof_home):
    write_user_profile(taskprof_home, "legal-drafting")
    tasks = ["draft a mutual NDA between two startups", "redline this software license agreement in our favour",
             "write an indemnification clause for a consulting contract"]
    for text in tasks:
        assert run("correct", "--text", text, "legal-drafting").exit_code == 0
    assert json.loads(run("train", "--personal", "--json").stdout)["new_labels"] == ["legal-drafting"]
    assert profile_of(run, tasks[0])["profile"] == "legal-drafting"

    (taskprof_home / "profiles" / "legal-drafting.json").write_text('{"name": "legal-drafting", "models": [')
    result = run("suggest", "--json", "--no-log", tasks[0])
    assert result.exit_code == 0, result.output
    suggestion = json.loads(result.stdout)
    assert suggestion["profile"] in dataset.TASK_LABELS
    assert "legal-drafting" not in {a["profile"] for a in suggestion["alternatives"]}
    assert "legal-drafting.json" in result.stderr  # the skipped file
    assert "the personal model chose 'legal-drafting'" in result.stderr


def test_a_personal_model_much_worse_on_the_shipped_data_is_refused(run):
    from recommender import classifier

    shipped = classifier.load(personal=False)
    # Teach it nonsense: every shipped programming example relabelled as writing.
    programming = [t for t, label in zip(shipped.example_texts, shipped.example_labels, strict=True)
                   if shipped.labels[label] == "programming"]
    for text in programming:
        usage.record_correction(text=text, profile="writing", predicted="programming")
    result = run("train", "--personal")
    assert result.exit_code == 1
    assert "refused" in result.output and "points worse" in result.output
    assert not (personal.paths.personal_model_dir() / "manifest.json").exists()


def test_the_shipped_artifact_carries_the_personal_baseline():
    # Without it every `train --personal` refits the shipped data's five folds from zero (minutes, not seconds).
    shipped = Classifier(personal.paths.bundled_dir("models"), "static")
    token_ids = np.unique(shipped.encoder.encode(list(shipped.example_texts)).bags.ids)
    baseline = personal.load_baseline(shipped, token_ids)
    assert baseline is not None, "models/ lacks the personal baseline: retrain with python -m training.train"
    assert len(baseline.folds) == personal.FOLDS
    assert abs(baseline.cv_top1 - shipped.manifest["heads"]["static"]["cv"]["top1"]) < 0.02
