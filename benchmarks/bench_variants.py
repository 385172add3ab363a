"""Variants of the classifier's head, encoder and data, scored the same way side by side (needs the train extra).

    python benchmarks/bench_variants.py [--extra DIR] [--distil {pca384,vocab}] [--variants shipped,bigrams:0.5,joint]

Every variant is trained on training/data/ (plus --extra DIR's <label>.txt files, if given) and scored on:
- 5-fold stratified cross-validation of the training data (the folds training.train uses);
- benchmarks/heldout/ (written apart from the training data, never trained on): top-1 over the best
  task profile and macro-F1;
- the public benchmark (../shared/benchmarks/public_tasks.jsonl): top-1 and macro-F1, the same way.
Evaluation texts are read as the runtime reads them (reading.read, then the speller). Variants:
- `shipped`: what training.train fits: a logistic regression on the mean embedding and the IDF-weighted
  token bag (the manifest's C and bag weight), plus one on hashed character 2-5-grams (C, weight from
  the manifest), log p of the first + weight x logits of the second;
- `bigrams:W`: shipped + a third head on TF-IDF word unigrams and bigrams, logits times W;
- `joint:W`: one logistic regression over embedding, bag and W x character n-grams.
`--distil` replaces the shipped static encoder by one distilled here: `pca384` keeps all 384 dimensions,
`vocab` adds the training data's words (two or more uses) to the vocabulary as whole tokens.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import robust_sets  # noqa: E402

from recommender import paths, reading  # noqa: E402
from recommender.encoder import StaticEncoder  # noqa: E402
from recommender.spelling import Speller, word_counts  # noqa: E402
from training import dataset, evaluate, train  # noqa: E402

LABELS = list(dataset.LABELS)
GENERAL = LABELS.index(dataset.GENERAL)


def training_set(extra: Path | None) -> tuple[list[str], np.ndarray]:
    data = dataset.load()
    texts, labels = list(data.texts), list(data.labels)
    if extra:
        seen = {" ".join(t.lower().split()) for t in texts}
        for text, label in robust_sets.heldout(extra):
            key = " ".join(text.lower().split())
            if key not in seen and label in LABELS:
                seen.add(key)
                texts.append(text)
                labels.append(label)
    return texts, np.array([LABELS.index(label) for label in labels])


def distilled(kind: str, into: Path) -> Path:
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from model2vec.distill import distill
    from safetensors.numpy import save_file

    from recommender.encoder import teacher_path

    words = None
    if kind == "vocab":
        counts = word_counts(dataset.load().texts)
        words = sorted(w for w, c in counts.items() if c >= 2 and len(w) >= 3 and re.fullmatch(r"[a-z]+", w))
    torch.manual_seed(train.SEED)
    model = distill(str(teacher_path()), vocabulary=words, pca_dims=None if kind == "pca384" else train.PCA_DIMS,
                    sif_coefficient=train.SIF_COEFFICIENT, device="cpu")
    save_file({"embeddings": np.ascontiguousarray(np.asarray(model.embedding, dtype=np.float16))},
              str(into / "embeddings.safetensors"))
    model.tokenizer.save(str(into / "tokenizer.json"))
    return into


class Features:
    """The blocks a variant can use, for one list of texts (built by training.train's own functions)."""

    def __init__(self, encoder: StaticEncoder, texts: list[str], idf: np.ndarray, bag_weight: float, words=None):
        self.word = train.features(encoder.encode(texts), encoder.table.shape[0], bag_weight, idf)
        self.char = train.char_features(texts)
        self.bigrams = words.transform(texts) if words is not None else None

    def rows(self, idx):
        out = object.__new__(Features)
        out.word, out.char = self.word[idx], self.char[idx]
        out.bigrams = self.bigrams[idx] if self.bigrams is not None else None
        return out


def fit_and_score(variant: str, head: dict, train_x: Features, y: np.ndarray, test_x: Features) -> np.ndarray:
    """Logits of `test_x` under `variant` fitted on (train_x, y), with training.train's fitting functions."""
    import scipy.sparse as sp

    name, _, arg = variant.partition(":")
    if name == "joint":
        weight = float(arg or 1.0)
        model = train.fit_head(sp.hstack([train_x.word, weight * train_x.char]).tocsr(), y, head["C"])
        return model.decision_function(sp.hstack([test_x.word, weight * test_x.char]).tocsr())
    logits = train.fit_head(train_x.word, y, head["C"]).predict_log_proba(test_x.word)
    logits = logits + head["char"]["weight"] * train.fit_char_head(train_x.char, y, head["char"]["C"]).decision_function(test_x.char)
    if name == "bigrams":
        logits = logits + float(arg or 0.5) * train.fit_head(train_x.bigrams, y, 16.0).decision_function(test_x.bigrams)
    elif name != "shipped":
        raise SystemExit(f"unknown variant {variant!r}")
    return logits


def scores(logits: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Top-1 over the best task profile and macro-F1 over the labels present, on the task texts."""
    tasks = truth != GENERAL
    ranked_logits = logits[tasks].copy()
    ranked_logits[:, GENERAL] = -np.inf
    order = np.argsort(-ranked_logits, axis=1)
    ranked = [[LABELS[j] for j in row[:2]] for row in order]
    y_true = [LABELS[j] for j in truth[tasks]]
    present = [label for label in evaluate.TASK if label in set(y_true)]
    s = evaluate.score("variant", y_true, ranked, present)
    return s.top1, s.macro_f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=Path, help="a folder of <label>.txt files added to the training data")
    parser.add_argument("--distil", choices=("pca384", "vocab"), help="score with a static encoder distilled here")
    parser.add_argument("--variants", default="shipped")
    parser.add_argument("--public", type=Path, default=evaluate.DEFAULT_PUBLIC)
    args = parser.parse_args()

    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    models = paths.bundled_dir("models")
    manifest = json.loads((models / "manifest.json").read_text())
    head = manifest["heads"]["static"]
    encoder_dir = models / "encoder"
    scratch = tempfile.TemporaryDirectory(prefix="taskprof-variants-")
    if args.distil:
        encoder_dir = distilled(args.distil, Path(scratch.name))
    encoder = StaticEncoder(encoder_dir / "tokenizer.json", encoder_dir / "embeddings.safetensors")
    texts, y = training_set(args.extra)
    idf = train.token_idf(encoder.encode(texts).bags, encoder.table.shape[0])
    speller = Speller(lambda: word_counts(texts), encoder.vocab.__contains__)
    words = make_pipeline(HashingVectorizer(ngram_range=(1, 2), n_features=1 << 18, alternate_sign=False, norm=None),
                          TfidfTransformer(sublinear_tf=True)).fit(texts)

    def read(raw: list[str]) -> list[str]:
        out = []
        for text in raw:
            r = reading.read(text)
            out.append(speller.correct(r.model_text) if r.language in (reading.ENGLISH, reading.UNDETERMINED) else r.model_text)
        return out

    train_x = Features(encoder, texts, idf, head["token_weight"], words)
    heldout = robust_sets.heldout()
    public = [json.loads(line) for line in args.public.read_text(encoding="utf-8").splitlines() if line.strip()]
    tests = {
        "held-out": (Features(encoder, read([t for t, _ in heldout]), idf, head["token_weight"], words),
                     np.array([LABELS.index(label) for _, label in heldout])),
        "public": (Features(encoder, read([r["text"] for r in public]), idf, head["token_weight"], words),
                   np.array([LABELS.index(r["label"]) for r in public])),
    }
    folds = list(StratifiedKFold(n_splits=train.FOLDS, shuffle=True, random_state=train.SEED).split(np.zeros(len(y)), y))
    print(f"training texts: {len(texts)}; encoder: {args.distil or 'shipped'}", flush=True)
    print("| variant | CV top-1 | held-out top-1 | held-out macro-F1 | public top-1 | public macro-F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant in args.variants.split(","):
        started = time.time()
        oof = np.zeros((len(y), len(LABELS)))
        for fit_idx, test_idx in folds:
            oof[test_idx] = fit_and_score(variant, head, train_x.rows(fit_idx), y[fit_idx], train_x.rows(test_idx))
        cells = [f"{(oof.argmax(1) == y).mean():.4f}"]
        for x, truth in tests.values():
            top1, f1 = scores(fit_and_score(variant, head, train_x, y, x), truth)
            cells += [f"{top1:.3f}", f"{f1:.3f}"]
        print(f"| {variant} | {' | '.join(cells)} | {time.time() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
