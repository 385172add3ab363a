"""Measure the classifier: `python -m training.evaluate [--public FILE] [--markdown FILE]`.

(a) 5-fold stratified cross-validation of training/data (same folds and C as training),
(b) the public benchmark ../shared/benchmarks/public_tasks.jsonl (never trained on),
(c) abstention on the `general` class,
for the fast static encoder and the full sentence-transformer, beside three baselines:
a keyword-regex router, a nearest-example router and zero-shot similarity to profile descriptions.

Top-1 on the public benchmark counts the best *task* profile (what `suggest --json` reports as
`profile`, abstaining or not); abstentions on it are reported separately.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender import paths
from recommender.classifier import Classifier
from training import dataset
from training.train import FOLDS, SEED, abstains, char_features, features, fit_char_head, fit_head

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PUBLIC = ROOT.parent / "shared" / "benchmarks" / "public_tasks.jsonl"
TASK = list(dataset.TASK_LABELS)
LABELS = list(dataset.LABELS)

# First matching list wins, in this order (llm-checker's task detection works this way).
KEYWORDS: list[tuple[str, str]] = [
    ("data-work", r"\b(sql|query|queries|pandas|dataframe|excel|spreadsheet|csv|pivot|vlookup|etl|dataset|tableau|power bi)\b"),
    ("document-intelligence", r"\b(contract|pdf|document|clause|invoice|transcript|10-k|annual report|extract|summari[sz]e this|passage|meeting)\b"),
    ("systems-architecture", r"\b(design a|architecture|scalab\w*|microservices?|distributed|system design|load balanc\w*|sharding|high availability)\b"),
    ("programming", r"\b(code|python|javascript|typescript|java|rust|golang|c\+\+|function|bug|debug|compile|class|api|script|regex)\b"),
    ("business-research", r"\b(market|competitors?|industry|revenue|pricing|business model|swot|startup|investors?|company|companies)\b"),
    ("research", r"\b(research|studies|study|papers?|literature|evidence|scientific|theory|state of the art)\b"),
    ("skills-building", r"\b(prompt|system prompt|learn|study plan|curriculum|practice|quiz|flashcards?|modelfile|agent)\b"),
    ("brainstorming", r"\b(ideas?|brainstorm|names? for|suggestions|ways to|list of|options)\b"),
    ("writing", r"\b(write|essay|story|poem|blog|email|letter|rewrite|proofread|article|speech)\b"),
]


def keyword_route(text: str) -> str:
    lowered = text.lower()
    for label, pattern in KEYWORDS:
        if re.search(pattern, lowered):
            return label
    return dataset.GENERAL


@dataclass
class Scores:
    name: str
    top1: float
    top2: float | None
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    labels: list[str]
    extra: dict[str, float]


def score(name: str, y_true: list[str], ranked: list[list[str]], labels: list[str], extra=None) -> Scores:
    """Top-1/top-2 over rankings of labels; macro-F1 over `labels` (the labels present in y_true)."""
    top1 = np.mean([r[0] == t for r, t in zip(ranked, y_true, strict=True)])
    top2 = np.mean([t in r[:2] for r, t in zip(ranked, y_true, strict=True)]) if all(len(r) > 1 for r in ranked) else None
    pred = [r[0] for r in ranked]
    per_class = {}
    for label in labels:
        tp = sum(p == label and t == label for p, t in zip(pred, y_true, strict=True))
        fp = sum(p == label and t != label for p, t in zip(pred, y_true, strict=True))
        fn = sum(p != label and t == label for p, t in zip(pred, y_true, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[label] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    columns = labels + sorted({p for p in pred} - set(labels))
    confusion = [[sum(t == a and p == b for p, t in zip(pred, y_true, strict=True)) for b in columns] for a in labels]
    return Scores(name, float(top1), None if top2 is None else float(top2),
                  float(np.mean([per_class[label]["f1"] for label in labels])), per_class, confusion, columns, extra or {})


def ranked_from_probs(probs: np.ndarray, label_names: list[str], task_only: bool) -> list[list[str]]:
    out = []
    for p in probs:
        order = [label_names[i] for i in np.argsort(-p, kind="stable")]
        out.append([label for label in order if label in TASK] if task_only else order)
    return out


def nearest_example_scores(x: np.ndarray, train_x: np.ndarray, train_y: np.ndarray, k: int = 5) -> np.ndarray:
    """semantic-router style: per profile, the mean cosine of the top-k most similar examples."""
    sims = x @ train_x.T
    scores = np.full((len(x), len(LABELS)), -1.0)
    for j in range(len(LABELS)):
        cols = np.flatnonzero(train_y == j)
        if cols.size:
            part = np.sort(sims[:, cols], axis=1)[:, -k:]
            scores[:, j] = part.mean(1)
    return scores


def evaluate(public_file: Path | None) -> dict:
    data = dataset.load()
    y = np.array(data.label_ids)
    model_dir = paths.bundled_dir("models")
    clfs = {name: Classifier(model_dir, name) for name in ("static", "full")}
    enc = {name: clf.encoder.encode(data.texts) for name, clf in clfs.items()}
    x = {name: e.vectors for name, e in enc.items()}
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(x["static"], y))
    results: dict[str, list[Scores]] = {"cv": [], "public": []}
    true_cv = [LABELS[i] for i in y]
    vocabulary = int(clfs["static"].encoder.table.shape[0])

    for name, clf in clfs.items():
        head = clf.manifest["heads"][name]
        feats = features(enc[name], vocabulary, head.get("token_weight", 0.0), clf.token_idf)
        oof = np.zeros((len(y), len(LABELS)))
        for tr, te in folds:
            oof[te] = fit_head(feats[tr], y[tr], head["C"]).predict_proba(feats[te])
        if head.get("char"):
            # The shipped static head adds the character n-gram model's logits, weighted, to log p.
            cx = char_features(data.texts)
            char_oof = np.zeros_like(oof)
            for tr, te in folds:
                char_oof[te] = fit_char_head(cx[tr], y[tr], head["char"]["C"]).decision_function(cx[te])
            from recommender.classifier import softmax

            oof = softmax(np.log(np.clip(oof, 1e-12, None)) + head["char"]["weight"] * char_oof)
        a = abstains(oof, clf.threshold)
        general = y == LABELS.index(dataset.GENERAL)
        results["cv"].append(score(f"taskprof ({name} encoder)", true_cv, ranked_from_probs(oof, LABELS, False), LABELS,
                                   {"general_abstention": float(a[general].mean()), "task_answered": float((~a[~general]).mean())}))
    oof_ne = np.zeros((len(y), len(LABELS)))
    for tr, te in folds:
        oof_ne[te] = nearest_example_scores(x["full"][te], x["full"][tr], y[tr])
    results["cv"].append(score("nearest-example router (full encoder, top-5 mean)", true_cv, ranked_from_probs(oof_ne, LABELS, False), LABELS))
    results["cv"].append(score("keyword-regex router", true_cv, [[keyword_route(t)] for t in data.texts], LABELS))
    desc = _profile_descriptions()
    zs = x["full"] @ clfs["full"].encoder.encode([desc[label] for label in TASK]).vectors.T
    results["cv"].append(score("zero-shot cosine to profile descriptions (full encoder)", true_cv,
                               ranked_from_probs(zs, TASK, False), LABELS))

    if public_file and public_file.is_file():
        rows = [json.loads(line) for line in public_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts = [r["text"] for r in rows]
        truth = [r["label"] for r in rows]
        present = [label for label in TASK if label in set(truth)]
        for name, clf in clfs.items():
            preds = clf.predict(texts, similar=0)
            ranked = [[p.profile] + [a.profile for a in p.alternatives] for p in preds]
            results["public"].append(score(f"taskprof ({name} encoder)", truth, ranked, present,
                                           {"abstained": float(np.mean([p.abstained for p in preds]))}))
        px = clfs["full"].encoder.encode(texts).vectors
        ne = nearest_example_scores(px, x["full"], y)
        results["public"].append(score("nearest-example router (full encoder, top-5 mean)", truth,
                                       ranked_from_probs(ne, LABELS, True), present))
        results["public"].append(score("keyword-regex router", truth, [[keyword_route(t)] for t in texts], present))
        results["public"].append(score("zero-shot cosine to profile descriptions (full encoder)", truth,
                                       ranked_from_probs(px @ clfs["full"].encoder.encode([desc[label] for label in TASK]).vectors.T, TASK, False), present))
    return {"results": results, "counts": data.counts(), "public_file": str(public_file) if public_file else None}


def _profile_descriptions() -> dict[str, str]:
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue(user=Path("/nonexistent"))
    return {name: f"{catalogue[name].description} {'; '.join(catalogue[name].recommended_for)}" for name in TASK}


def markdown(report: dict, command: str) -> str:
    lines = ["# Classifier accuracy", "", f"Made by `{command}`.", ""]
    counts = report["counts"]
    lines.append(f"Training data: {sum(counts.values())} hand-written texts ({', '.join(f'{k} {v}' for k, v in counts.items())}).")
    lines.append("")
    for section, title in (("cv", "5-fold stratified cross-validation of training/data (10 classes)"),
                           ("public", "Public benchmark (shared/benchmarks/public_tasks.jsonl, never trained on; macro-F1 over its 8 labels)")):
        if not report["results"][section]:
            continue
        lines += [f"## {title}", "", "| router | top-1 | top-2 | macro-F1 | notes |", "|---|---:|---:|---:|---|"]
        for s in report["results"][section]:
            notes = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in s.extra.items())
            top2 = f"{s.top2:.3f}" if s.top2 is not None else "–"
            lines.append(f"| {s.name} | {s.top1:.3f} | {top2} | {s.macro_f1:.3f} | {notes} |")
        lines.append("")
        for s in report["results"][section][:2]:
            lines += [f"### {s.name}: per class", "", "| label | precision | recall | F1 | n |", "|---|---:|---:|---:|---:|"]
            for label, m in s.per_class.items():
                lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
            lines += ["", "Confusion matrix (rows: truth, columns: prediction):", "",
                      "| truth \\ predicted | " + " | ".join(s.labels) + " |", "|---|" + "---:|" * len(s.labels)]
            for label, row in zip(s.per_class, s.confusion, strict=True):
                lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--public", type=Path, default=DEFAULT_PUBLIC, help="the public benchmark JSONL")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown to this file")
    args = parser.parse_args(argv)
    report = evaluate(args.public)
    command = "python -m training.evaluate" + (f" --markdown {args.markdown}" if args.markdown else "")
    text = markdown(report, command)
    print(text)
    if args.markdown:
        paths.atomic_write_text(args.markdown, text + "\n")
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
