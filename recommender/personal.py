"""The personal classifier: the shipped head refitted on the shipped data plus the user's corrections.

Only the head is refitted; the static encoder stays the shipped one, and the shipped artifact
carries the embeddings of its training data, so this needs numpy alone (no torch, no
scikit-learn). The head is the shipped one's model, multinomial logistic
regression on the mean embedding and the token bag with an L2 penalty, fitted here by full-batch
gradient descent with Nesterov momentum.
"""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender import files, lock, paths
from recommender.classifier import Classifier, softmax
from recommender.errors import TrainingError
from recommender.results import Trained

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import TypedDict

    import numpy.typing as npt

    from recommender.encoder import Encoded

    class _Idf(TypedDict, total=False):
        """The personal head's optional array: the shipped IDF weights, when the shipped head has them."""

        token_idf: np.ndarray

# A user's own profile becomes a label of the personal model once this many tasks were corrected to it.
MIN_CORRECTIONS_FOR_NEW_PROFILE = 3
# Each correction counts as this many training examples, so that a handful can move the boundary.
CORRECTION_WEIGHT = 10.0
# A personal model may lose at most this much cross-validated top-1 on the shipped data.
MAX_CV_LOSS = 0.02
FOLDS = 5
SEED = 20261124
# Gradient steps of a fit from zero (the shipped baseline, at training time) and of one that starts
# from a head already fitted without the corrections (every `train --personal`).
COLD_ITERATIONS = 400
WARM_ITERATIONS = 100
# The shipped data's fold heads and cross-validated top-1 by this module's procedure, written by
# training/train.py beside the shipped head so that `train --personal` need not refit them.
BASELINE_FILE = "personal-baseline.npz"


@dataclass(frozen=True)
class Correction:
    text: str
    profile: str


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


def build_features(encoded: Encoded, columns: dict[int, int], token_weight: float, idf: np.ndarray | None) -> Features:
    """Features for encoded texts; token ids outside `columns` (never seen in training) are dropped."""
    assert encoded.bags is not None  # the static encoder's texts, which always have their bags
    b = encoded.bags if idf is None else encoded.bags.reweighted(idf)
    rows = np.repeat(np.arange(len(encoded.vectors)), np.diff(b.indptr))
    cols = np.array([columns.get(int(t), -1) for t in b.ids], dtype=np.int64)
    known = cols >= 0
    return Features(encoded.vectors.astype(np.float32), rows[known], cols[known],
                    (b.weights[known] * token_weight).astype(np.float32), len(columns))


def _logits(f: Features, coef: np.ndarray, tok: np.ndarray, bias: np.ndarray) -> npt.NDArray[np.float32]:
    z: npt.NDArray[np.float32] = f.dense @ coef.T + bias
    if f.rows.size:
        # Bag entries are ordered by row, so each row's share is one contiguous segment to sum.
        starts = np.flatnonzero(np.r_[True, f.rows[1:] != f.rows[:-1]])
        z[f.rows[starts]] += np.add.reduceat(tok[:, f.cols] * f.vals, starts, axis=1).T
    return z


Head = tuple[np.ndarray, np.ndarray, np.ndarray]  # (embedding coef, token coef over the columns, bias)


def fit_softmax(f: Features, y: np.ndarray, w: np.ndarray, n_classes: int, c: float,
                iterations: int = COLD_ITERATIONS, start: Head | None = None) -> Head:
    """Weighted multinomial logistic regression, penalty |W|²/(2C) as in scikit-learn, balanced classes.

    Full-batch gradient descent with Nesterov momentum, from zero or from `start` (copied, not changed).
    """
    d = f.dense.shape[1]
    if start is None:
        coef = np.zeros((n_classes, d), dtype=np.float32)
        tok = np.zeros((n_classes, f.n_tokens), dtype=np.float32)
        bias = np.zeros(n_classes, dtype=np.float32)
    else:
        coef, tok, bias = (np.array(a, dtype=np.float32) for a in start)
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
    with _one_blas_thread():
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


def _one_blas_thread() -> AbstractContextManager[object]:
    """The fits multiply small matrices thousands of times; BLAS threads only wait on each other there
    (on a busy 2-core machine one thread was 20 times faster)."""
    from threadpoolctl import threadpool_limits

    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")
    return limits


def _predict(f: Features, fitted: Head) -> npt.NDArray[np.intp]:
    coef, tok, bias = fitted
    best: npt.NDArray[np.intp] = np.argmax(_logits(f, coef, tok, bias), axis=1)
    return best


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
                   extra: Features | None = None, extra_y: np.ndarray | None = None,
                   starts: list[Head] | None = None, iterations: int = COLD_ITERATIONS) -> tuple[float, list[Head]]:
    """Top-1 on the shipped data's folds, and each fold's head; the corrections (extra) are always in the
    training part. `starts`, one head a fold, must have been fitted without that fold's test part."""
    correct = 0
    heads = []
    for k, test_idx in enumerate(_folds(y)):
        train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
        tf, ty, tw = f.take(train_idx), y[train_idx], np.ones(len(train_idx))
        if extra is not None:
            assert extra_y is not None  # the corrections' labels come with them
            tf = tf.stack(extra)
            ty = np.concatenate([ty, extra_y])
            tw = np.concatenate([tw, np.full(len(extra_y), CORRECTION_WEIGHT)])
        fitted = fit_softmax(tf, ty, tw, n_classes, c, iterations, None if starts is None else starts[k])
        correct += int((_predict(f.take(test_idx), fitted) == y[test_idx]).sum())
        heads.append(fitted)
    return correct / len(y), heads


@dataclass(frozen=True)
class Baseline:
    """The shipped data cross-validated by this module's procedure: what a personal model is compared
    with, and where its cross-validation starts from."""

    token_ids: np.ndarray  # (T,) the token id of each token column, ascending
    folds: list[Head]  # one head a fold, fitted from zero on the other folds
    cv_top1: float


def _shipped_head(shipped: Classifier) -> tuple[float, float]:
    head = shipped.manifest["heads"]["static"]
    return float(head["C"]), float(head.get("token_weight", 0.0))


def fit_baseline(shipped: Classifier, base: Encoded | None = None) -> Baseline:
    """Cross-validate the shipped data alone (5 fits from zero): slow, so training/train.py ships the result."""
    c_value, token_weight = _shipped_head(shipped)
    base = base if base is not None else shipped.encoder.encode(list(shipped.example_texts))
    assert base.bags is not None  # the static encoder's
    token_ids = np.unique(base.bags.ids)
    x = build_features(base, {int(t): i for i, t in enumerate(token_ids)}, token_weight, shipped.token_idf)
    y = np.asarray(shipped.example_labels, dtype=np.int64)
    top1, folds = cross_validate(x, y, len(shipped.labels), c_value)
    return Baseline(token_ids, folds, top1)


def write_baseline(model_dir: Path) -> dict[str, Any]:
    """Fit the baseline of the artifact in model_dir, write BASELINE_FILE there; returns its manifest entry."""
    baseline = fit_baseline(Classifier(model_dir, "static"))
    coef, tok, bias = (np.stack(part) for part in zip(*baseline.folds, strict=True))
    np.savez(model_dir / BASELINE_FILE, token_ids=baseline.token_ids, coef=coef, token_coef=tok, intercept=bias)
    return {"file": BASELINE_FILE, "cv_top1": baseline.cv_top1, "folds": FOLDS, "seed": SEED,
            "iterations": COLD_ITERATIONS}


def load_baseline(shipped: Classifier, token_ids: np.ndarray) -> Baseline | None:
    """The shipped baseline if the artifact has one made by this procedure for these tokens, else None."""
    entry = shipped.manifest["heads"]["static"].get("personal_baseline")
    if not entry or (entry.get("folds"), entry.get("seed"), entry.get("iterations")) != (FOLDS, SEED, COLD_ITERATIONS):
        return None
    try:
        with np.load(shipped.model_dir / entry["file"], allow_pickle=False) as arrays:
            if not np.array_equal(arrays["token_ids"], token_ids):
                return None
            folds = list(zip(arrays["coef"], arrays["token_coef"], arrays["intercept"], strict=True))
    except (OSError, KeyError, ValueError):
        return None
    return Baseline(token_ids, folds, float(entry["cv_top1"]))


def _widen(head: Head, n_classes: int, token_ids: np.ndarray, columns: np.ndarray) -> Head:
    """A head over (classes, token_ids) placed in a larger problem: new classes and new token columns start at zero."""
    coef, tok, bias = head
    wide_coef = np.zeros((n_classes, coef.shape[1]), np.float32)
    wide_tok = np.zeros((n_classes, len(columns)), np.float32)
    wide_bias = np.zeros(n_classes, np.float32)
    k = coef.shape[0]
    wide_coef[:k], wide_bias[:k] = coef, bias
    wide_tok[:k, np.searchsorted(columns, token_ids)] = tok
    return wide_coef, wide_tok, wide_bias


def train_personal(corrections: list[Correction], *, known_profiles: set[str],
                   model_dir: Path | None = None, out_dir: Path | None = None,
                   seeds: dict[str, list[str]] | None = None,
                   progress: Callable[[str], None] | None = None) -> Trained:
    """Fit, guard and write the personal head. Refuses a model that is worse on the shipped data.

    The shipped artifact's baseline gives the shipped data's cross-validated top-1 and each fold's head;
    the personal folds start from those heads and the final fit from the shipped head, so a handful of
    corrections costs a few short fits instead of eleven from zero.
    """
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
    if progress:
        progress(f"Training on {len(shipped.example_texts):,} shipped examples and {len(usable)} of yours "
                 f"({FOLDS}-fold check against the shipped model, then the final fit) ...")
    c_value, token_weight = _shipped_head(shipped)
    base = shipped.encoder.encode(list(shipped.example_texts))
    fixes = shipped.encoder.encode([c.text for c in usable])
    assert base.bags is not None and fixes.bags is not None  # the static encoder's
    base_ids = np.unique(base.bags.ids)
    baseline = load_baseline(shipped, base_ids) or fit_baseline(shipped, base)
    token_ids = np.unique(np.concatenate([base_ids, fixes.bags.ids]))
    columns = {int(t): i for i, t in enumerate(token_ids)}
    x = build_features(base, columns, token_weight, shipped.token_idf)
    cx = build_features(fixes, columns, token_weight, shipped.token_idf)
    y = np.asarray(shipped.example_labels, dtype=np.int64)
    cy = np.array([labels.index(c.profile) for c in usable])
    n_classes = len(labels)
    base_cv = baseline.cv_top1
    starts = [_widen(head, n_classes, baseline.token_ids, token_ids) for head in baseline.folds]
    personal_cv, _ = cross_validate(x, y, n_classes, c_value, cx, cy, starts, WARM_ITERATIONS)
    if personal_cv < base_cv - MAX_CV_LOSS:
        raise TrainingError(
            f"refused: the personal model scores {personal_cv:.3f} top-1 in cross-validation on the shipped data, "
            f"the shipped one {base_cv:.3f} (more than {MAX_CV_LOSS * 100:.0f} points worse); check your corrections"
        )
    # The shipped head was fitted (by scikit-learn) to the same objective on the shipped data: start there.
    # Its token coefficients act on the bag scaled by the token weight; ours on the unscaled columns.
    shipped_tok = (np.zeros((len(shipped.labels), len(token_ids)), np.float32) if shipped.token_coef is None or not token_weight
                   else shipped.token_coef[:, token_ids] / token_weight)
    start = _widen((shipped.coef, shipped_tok, shipped.intercept), n_classes, token_ids, token_ids)
    coef, tok, bias = fit_softmax(x.stack(cx), np.concatenate([y, cy]),
                                  np.concatenate([np.ones(len(y)), np.full(len(cy), CORRECTION_WEIGHT)]), n_classes, c_value,
                                  WARM_ITERATIONS, start)
    token_coef = np.zeros((n_classes, shipped.token_coef.shape[1] if shipped.token_coef is not None else 0), np.float32)
    if token_coef.shape[1]:
        # The classifier multiplies the token coefficients by the bag itself, not by the bag scaled by the weight.
        token_coef[:, token_ids] = tok * token_weight
    examples = np.vstack([base.vectors, fixes.vectors]).astype(np.float16)
    example_labels = np.concatenate([y, cy]).astype(np.int16)
    texts = list(shipped.example_texts) + [c.text for c in usable]
    _write(out_dir, labels, coef, bias, token_coef, examples, example_labels, texts, shipped, base_cv, personal_cv, len(usable))
    return Trained(base_cv, personal_cv, len(corrections) - sum(ignored.values()), tuple(labels),
                   tuple(labels[len(shipped.labels):]), ignored, MIN_CORRECTIONS_FOR_NEW_PROFILE, out_dir)


def _write(out_dir: Path, labels: list[str], coef: npt.NDArray[np.float32], bias: npt.NDArray[np.float32],
           token_coef: npt.NDArray[np.float32], examples: npt.NDArray[np.float16],
           example_labels: npt.NDArray[np.int16], texts: list[str], shipped: Classifier,
           base_cv: float, personal_cv: float, n_corrections: int) -> None:
    scratch = out_dir.with_name(out_dir.name + ".new")
    shutil.rmtree(scratch, ignore_errors=True)
    files.ensure_dir(scratch)
    # The shipped IDF weights stay: a handful of corrections should not re-weigh the vocabulary.
    idf: _Idf = {} if shipped.token_idf is None else {"token_idf": shipped.token_idf}
    buffer = io.BytesIO()
    np.savez(buffer, coef=coef, intercept=bias, token_coef=token_coef, examples=examples,
             example_labels=example_labels, **idf)
    files.write_bytes(scratch / "head-static.npz", buffer.getvalue())
    # The user's corrected task texts are in here: written 0600 like every file of theirs.
    files.write_text(scratch / "examples.json", json.dumps(texts, ensure_ascii=False))
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
    files.write_text(scratch / "manifest.json", json.dumps(manifest, indent=2))
    # Swap the folder in whole: a reader sees the old personal model or the new one.
    old = out_dir.with_name(out_dir.name + ".old")
    try:
        with lock.state_lock("taskprof train --personal"):
            shutil.rmtree(old, ignore_errors=True)
            if out_dir.exists():
                out_dir.rename(old)
            scratch.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
    except files.WriteFailed:
        raise
    except OSError as exc:
        raise TrainingError(f"cannot save the personal model in {out_dir}: {exc.strerror or exc}") from None


def reset(out_dir: Path | None = None) -> bool:
    """Remove the personal model; True if there was one. TrainingError when it cannot be removed."""
    out_dir = out_dir or paths.personal_model_dir()
    try:
        with lock.state_lock("taskprof train --reset"):
            if not out_dir.exists():
                return False
            shutil.rmtree(out_dir)
    except files.WriteFailed:
        raise
    except OSError as exc:
        raise TrainingError(f"cannot remove the personal model {out_dir}: {exc.strerror or exc}") from None
    return True

