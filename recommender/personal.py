"""The personal classifier: the shipped head refitted on the shipped data plus the user's corrections.

Only the head is refitted; the static encoder stays the shipped one, and the shipped artifact
carries the embeddings of its training data, so this needs numpy alone (no torch, no
scikit-learn). The head is the shipped one's model, multinomial logistic
regression on the mean embedding and the token bag with an L2 penalty, fitted here by full-batch
gradient descent with Nesterov momentum.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender import paths
from recommender.classifier import Classifier, softmax
from recommender.errors import TrainingError

# A user's own profile becomes a label of the personal model once this many tasks were corrected to it.
MIN_CORRECTIONS_FOR_NEW_PROFILE = 3
# Each correction counts as this many training examples, so that a handful can move the boundary.
CORRECTION_WEIGHT = 10.0
# A personal model may lose at most this much cross-validated top-1 on the shipped data.
MAX_CV_LOSS = 0.02
FOLDS = 5
SEED = 20261124


@dataclass(frozen=True)
class Correction:
    text: str
    profile: str


@dataclass(frozen=True)
class PersonalReport:
    shipped_cv: float
    personal_cv: float
    corrections: int
    labels: tuple[str, ...]
    new_labels: tuple[str, ...]
    ignored: dict[str, int]  # user profiles with too few corrections, and how many they have
    saved_to: Path | None


@dataclass(frozen=True)
class Features:
    """The head's input: dense mean embeddings plus a sparse token bag over a column subset."""

    dense: np.ndarray  # (n, d) float32
    rows: np.ndarray  # (nnz,) row of each bag entry
    cols: np.ndarray  # (nnz,) column in 0..n_tokens-1
    vals: np.ndarray  # (nnz,) weight, already scaled by the token weight
    n_tokens: int

    def take(self, index: np.ndarray) -> Features:
        keep = np.isin(self.rows, index)
        remap = np.full(len(self.dense), -1)
        remap[index] = np.arange(len(index))
        return Features(self.dense[index], remap[self.rows[keep]], self.cols[keep], self.vals[keep], self.n_tokens)

    def stack(self, other: Features) -> Features:
        return Features(np.vstack([self.dense, other.dense]), np.concatenate([self.rows, other.rows + len(self.dense)]),
                        np.concatenate([self.cols, other.cols]), np.concatenate([self.vals, other.vals]), self.n_tokens)


def build_features(encoded, columns: dict[int, int], token_weight: float, idf: np.ndarray | None) -> Features:
    """Features for encoded texts; token ids outside `columns` (never seen in training) are dropped."""
    b = encoded.bags if idf is None else encoded.bags.reweighted(idf)
    rows = np.repeat(np.arange(len(encoded.vectors)), np.diff(b.indptr))
    cols = np.array([columns.get(int(t), -1) for t in b.ids], dtype=np.int64)
    known = cols >= 0
    return Features(encoded.vectors.astype(np.float32), rows[known], cols[known],
                    (b.weights[known] * token_weight).astype(np.float32), len(columns))


def _logits(f: Features, coef: np.ndarray, tok: np.ndarray, bias: np.ndarray) -> np.ndarray:
    z = f.dense @ coef.T + bias
    if f.rows.size:
        # Bag entries are ordered by row, so each row's share is one contiguous segment to sum.
        starts = np.flatnonzero(np.r_[True, f.rows[1:] != f.rows[:-1]])
        z[f.rows[starts]] += np.add.reduceat(tok[:, f.cols] * f.vals, starts, axis=1).T
    return z


def fit_softmax(f: Features, y: np.ndarray, w: np.ndarray, n_classes: int, c: float,
                iterations: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted multinomial logistic regression, penalty |W|²/(2C) as in scikit-learn, balanced classes.

    Full-batch gradient descent with Nesterov momentum; returns (embedding coef, token coef, bias).
    """
    d = f.dense.shape[1]
    coef = np.zeros((n_classes, d), dtype=np.float32)
    tok = np.zeros((n_classes, f.n_tokens), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    v = [np.zeros_like(coef), np.zeros_like(tok), np.zeros_like(bias)]
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    counts = np.bincount(y, weights=w, minlength=n_classes)
    class_weight = np.where(counts > 0, w.sum() / (n_classes * np.maximum(counts, 1e-12)), 0.0)
    sw = (w * class_weight[y]).astype(np.float32)
    total = float(sw.sum())
    step, momentum = 2.0, 0.9
    # The token gradient sums bag entries per column: sort them by column once, then sum segments.
    by_token = np.argsort(f.cols, kind="stable")
    token_ids, token_starts = np.unique(f.cols[by_token], return_index=True)
    for _ in range(iterations):
        look = [coef + momentum * v[0], tok + momentum * v[1], bias + momentum * v[2]]
        p = softmax(_logits(f, look[0], look[1], look[2]))
        g = (p - onehot) * sw[:, None]
        grad_tok = np.zeros_like(tok)
        if by_token.size:
            grad_tok[:, token_ids] = np.add.reduceat((g[f.rows] * f.vals[:, None]).T[:, by_token], token_starts, axis=1)
        grads = [g.T @ f.dense / total + look[0] / (c * total),
                 grad_tok / total + look[1] / (c * total),
                 g.sum(axis=0) / total]
        for i, param in enumerate((coef, tok, bias)):
            v[i] = momentum * v[i] - step * grads[i]
            param += v[i]
    return coef, tok, bias


def _predict(f: Features, fitted: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    coef, tok, bias = fitted
    return np.argmax(_logits(f, coef, tok, bias), axis=1)


def _folds(y: np.ndarray) -> list[np.ndarray]:
    """Stratified fold assignment, seeded."""
    rng = np.random.default_rng(SEED)
    fold = np.zeros(len(y), dtype=int)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % FOLDS
    return [np.flatnonzero(fold == k) for k in range(FOLDS)]


def cross_validate(f: Features, y: np.ndarray, n_classes: int, c: float,
                   extra: Features | None = None, extra_y: np.ndarray | None = None) -> float:
    """Top-1 on the shipped data's folds; the corrections (extra) are always in the training part."""
    correct = 0
    for test_idx in _folds(y):
        train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
        tf, ty, tw = f.take(train_idx), y[train_idx], np.ones(len(train_idx))
        if extra is not None:
            tf = tf.stack(extra)
            ty = np.concatenate([ty, extra_y])
            tw = np.concatenate([tw, np.full(len(extra_y), CORRECTION_WEIGHT)])
        fitted = fit_softmax(tf, ty, tw, n_classes, c)
        correct += int((_predict(f.take(test_idx), fitted) == y[test_idx]).sum())
    return correct / len(y)


def train_personal(corrections: list[Correction], *, known_profiles: set[str],
                   model_dir: Path | None = None, out_dir: Path | None = None,
                   seeds: dict[str, list[str]] | None = None) -> PersonalReport:
    """Fit, guard and write the personal head. Refuses a model that is worse on the shipped data."""
    model_dir = model_dir or paths.bundled_dir("models")
    out_dir = out_dir or paths.personal_model_dir()
    if not corrections:
        raise TrainingError("no corrections yet: use `taskprof correct PROFILE` after a suggestion first")
    shipped = Classifier(model_dir, "static")
    labels = list(shipped.labels)
    counts = Counter(c.profile for c in corrections)
    ignored = {}
    for profile, n in sorted(counts.items()):
        if profile in labels:
            continue
        if profile not in known_profiles:
            ignored[profile] = n
        elif n >= MIN_CORRECTIONS_FOR_NEW_PROFILE:
            labels.append(profile)
        else:
            ignored[profile] = n
    usable = [c for c in corrections if c.profile in labels]
    if not usable:
        raise TrainingError(
            f"none of the corrections can be used yet: a profile of your own needs {MIN_CORRECTIONS_FOR_NEW_PROFILE} "
            f"corrected tasks ({', '.join(f'{p}: {n}' for p, n in ignored.items())})"
        )
    # A new profile's own description and recommended_for lines are examples too (not counted above).
    for name in labels[len(shipped.labels):]:
        usable += [Correction(text, name) for text in (seeds or {}).get(name, []) if text.strip()]
    head = shipped.manifest["heads"]["static"]
    c_value, token_weight = float(head["C"]), float(head.get("token_weight", 0.0))
    base = shipped.encoder.encode(list(shipped.example_texts))
    fixes = shipped.encoder.encode([c.text for c in usable])
    columns = {int(t): i for i, t in enumerate(np.unique(np.concatenate([base.bags.ids, fixes.bags.ids])))}
    x = build_features(base, columns, token_weight, shipped.token_idf)
    cx = build_features(fixes, columns, token_weight, shipped.token_idf)
    y = np.asarray(shipped.example_labels, dtype=np.int64)
    cy = np.array([labels.index(c.profile) for c in usable])
    n_classes = len(labels)
    base_cv = cross_validate(x, y, len(shipped.labels), c_value)
    personal_cv = cross_validate(x, y, n_classes, c_value, cx, cy)
    if personal_cv < base_cv - MAX_CV_LOSS:
        raise TrainingError(
            f"refused: the personal model scores {personal_cv:.3f} top-1 in cross-validation on the shipped data, "
            f"the shipped one {base_cv:.3f} (more than {MAX_CV_LOSS * 100:.0f} points worse); check your corrections"
        )
    coef, tok, bias = fit_softmax(x.stack(cx), np.concatenate([y, cy]),
                                  np.concatenate([np.ones(len(y)), np.full(len(cy), CORRECTION_WEIGHT)]), n_classes, c_value)
    token_coef = np.zeros((n_classes, shipped.token_coef.shape[1] if shipped.token_coef is not None else 0), np.float32)
    if token_coef.shape[1]:
        token_coef[:, list(columns)] = tok
    examples = np.vstack([base.vectors, fixes.vectors]).astype(np.float16)
    example_labels = np.concatenate([y, cy]).astype(np.int16)
    texts = list(shipped.example_texts) + [c.text for c in usable]
    _write(out_dir, labels, coef, bias, token_coef, examples, example_labels, texts, shipped, base_cv, personal_cv, len(usable))
    return PersonalReport(base_cv, personal_cv, len(corrections) - sum(ignored.values()), tuple(labels), tuple(labels[len(shipped.labels):]),
                          ignored, out_dir)


def _write(out_dir: Path, labels, coef, bias, token_coef, examples, example_labels, texts, shipped: Classifier,
           base_cv: float, personal_cv: float, n_corrections: int) -> None:
    scratch = out_dir.with_name(out_dir.name + ".new")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    # The shipped IDF weights stay: a handful of corrections should not re-weigh the vocabulary.
    idf = {} if shipped.token_idf is None else {"token_idf": shipped.token_idf}
    np.savez(scratch / "head-static.npz", coef=coef, intercept=bias, token_coef=token_coef, examples=examples,
             example_labels=example_labels, **idf)
    (scratch / "examples.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    manifest = {
        "format": shipped.manifest["format"],
        "labels": labels,
        "examples_file": "examples.json",
        "base_training_data": shipped.manifest["training_data"]["sha256"],
        "heads": {"static": {"file": "head-static.npz", "threshold": shipped.threshold,
                             "cv": {"shipped_top1": round(base_cv, 4), "personal_top1": round(personal_cv, 4)}}},
        "corrections": n_corrections,
        "correction_weight": CORRECTION_WEIGHT,
    }
    (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    # Swap the folder in whole: a reader sees the old personal model or the new one.
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    scratch.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def reset(out_dir: Path | None = None) -> bool:
    """Remove the personal model; True if there was one."""
    out_dir = out_dir or paths.personal_model_dir()
    if not out_dir.exists():
        return False
    shutil.rmtree(out_dir)
    return True

