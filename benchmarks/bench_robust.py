"""Robustness of `taskprof suggest` on input as people type it, beside the model it replaces.

    python benchmarks/bench_robust.py [--baseline 590de27] [--out benchmarks/RESULTS-robustness.md]

Sets (benchmarks/robust_sets.py, all built at run time): long pastes with the instruction first and
last over six payload kinds, questions about models, negations, the public benchmark clean and with
20% of words misspelt, multi-intent requests, one-word inputs, German/Spanish/French and languages
the head does not read. Each set is classified by this tree's code and models/, and by the
baseline commit's code and models/ (checked out from git into a temporary folder and run in a
subprocess the way its CLI ran it: whitespace collapsed, then predict), in the same run.

"Right" is what the user is told to use: the profile, or `balanced` when the classifier abstains
(so for an item whose answer is "general", abstaining is right).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import robust_sets  # noqa: E402

from recommender import classifier  # noqa: E402
from training import evaluate  # noqa: E402

SECTION_START = "<!-- robustness: written by benchmarks/bench_robust.py -->"
SECTION_END = "<!-- /robustness -->"
HELDOUT = "held-out set (benchmarks/heldout/, never trained on)"
_BASELINE_RUNNER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from recommender import classifier
clf = classifier.Classifier(classifier.paths.bundled_dir("models"), "static")
texts = json.load(sys.stdin)
out = []
for start in range(0, len(texts), 512):
    chunk = [" ".join(t.split()) or "-" for t in texts[start:start + 512]]
    for p in clf.predict(chunk, similar=0):
        out.append({"profile": p.profile, "abstained": p.abstained, "confidence": p.confidence,
                    "ranked": [p.profile] + [a.profile for a in p.alternatives]})
json.dump(out, sys.stdout)
"""


def checkout(commit: str, into: Path) -> Path:
    """The baseline commit's recommender/ and models/, extracted from git."""
    archive = into / "baseline.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", commit, "recommender", "models", "profiles"], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def baseline_predict(tree: Path, texts: list[str]) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", _BASELINE_RUNNER, str(tree)], input=json.dumps(texts),
                         capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout)


def current_predict(clf, texts: list[str]) -> list[dict]:
    out = []
    for start in range(0, len(texts), 512):
        for p in clf.predict(texts[start:start + 512], similar=0):
            out.append({"profile": p.profile, "abstained": p.abstained, "confidence": p.confidence,
                        "ranked": [p.profile] + [a.profile for a in p.alternatives], "focus": p.focus,
                        "payload_kind": p.payload_kind, "language": p.language,
                        "language_supported": p.language_supported})
    return out


def chosen(p: dict) -> str:
    return "general" if p["abstained"] else p["profile"]


def right(preds: list[dict], expected: list[str]) -> float:
    return float(np.mean([chosen(p) == e for p, e in zip(preds, expected, strict=True)])) if expected else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="590de27", help="the commit whose code and models/ to compare with")
    parser.add_argument("--public", type=Path, default=evaluate.DEFAULT_PUBLIC)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md",
                        help="the Markdown file whose robustness section is (re)written")
    args = parser.parse_args()

    clf = classifier.load(personal=False)
    pastes = robust_sets.long_pastes()
    clean, typo = robust_sets.typo_public(args.public)
    sets: dict[str, list[tuple[str, str]]] = {
        "long pastes": [(t, e) for t, e, _, _ in pastes],
        "questions about models": robust_sets.META,
        "negations": robust_sets.NEGATIONS,
        "public (clean)": clean,
        "public, 20% of words misspelt": typo,
        "multi-intent (first intent)": [(t, a) for t, a, _ in robust_sets.MULTI_INTENT],
        "one-word inputs": robust_sets.ONE_WORD,
        **{f"language: {lang}": items for lang, items in robust_sets.LANGUAGES.items()},
        **{f"language: {lang}, held out from the gloss": items for lang, items in robust_sets.LANGUAGES_HELDOUT.items()},
        "other languages (right = abstain)": [(t, "general") for t, _ in robust_sets.OTHER_LANGUAGES],
        HELDOUT: robust_sets.heldout(),
    }
    tmp = tempfile.mkdtemp(prefix="taskprof-baseline-")
    try:
        tree = checkout(args.baseline, Path(tmp))
        results = {}
        timings = {}
        for name, items in sets.items():
            texts = [t for t, _ in items]
            started = time.perf_counter()
            new = current_predict(clf, texts)
            timings[name] = time.perf_counter() - started
            results[name] = (items, baseline_predict(tree, texts), new)
        report(args, clf, tree, pastes, clean, results, timings)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(args, clf, tree: Path, pastes, clean, results, timings) -> None:

    lines = [SECTION_START, "## Robustness: input as people type it", "",
             f"Made by `python benchmarks/bench_robust.py --baseline {args.baseline}` on {time.strftime('%Y-%m-%d')}. "
             f"Baseline: {args.baseline}'s code and models/, run from git in the same process tree; new: this tree.",
             "Right = the profile the user is told to use (`balanced`, i.e. abstaining, counts as right only where "
             "the answer is \"no task profile\").", "",
             "| set | items | baseline right | new right | new abstained | target |", "|---|---:|---:|---:|---:|---|"]
    targets = {"long pastes": ">= 0.90", "questions about models": ">= 0.90", "negations": ">= 0.85",
               "public, 20% of words misspelt": "within 0.03 of clean"}
    figures: dict = {"date": time.strftime("%Y-%m-%d"), "baseline": args.baseline, "right": {}, "items": {}}
    for name, (items, old, new) in results.items():
        expected = [e for _, e in items]
        figures["right"][name] = right(new, expected)
        figures["items"][name] = len(items)
        lines.append(f"| {name} | {len(items)} | {right(old, expected):.3f} | {right(new, expected):.3f} | "
                     f"{np.mean([p['abstained'] for p in new]):.3f} | {targets.get(name, '')} |")
    # Top-1 over the best task profile (abstaining or not), as the public benchmark is scored.
    items, old, new = results["public (clean)"]
    _, old_t, new_t = results["public, 20% of words misspelt"]
    truth = [e for _, e in items]

    def top1(preds):
        return float(np.mean([p["profile"] == e for p, e in zip(preds, truth, strict=True)]))

    present = [label for label in evaluate.TASK if label in set(truth)]

    def macro_f1(preds):
        return evaluate.score("x", truth, [p["ranked"] for p in preds], present).macro_f1

    lines += ["", "Public benchmark top-1 over the best task profile (as `training.evaluate` scores it):", "",
              "| | clean top-1 | clean macro-F1 | misspelt top-1 | drop |", "|---|---:|---:|---:|---:|",
              f"| baseline | {top1(old):.3f} | {macro_f1(old):.3f} | {top1(old_t):.3f} | {top1(old) - top1(old_t):+.3f} |",
              f"| new | {top1(new):.3f} | {macro_f1(new):.3f} | {top1(new_t):.3f} | {top1(new) - top1(new_t):+.3f} |", ""]
    figures.update(public_top1=top1(new), public_macro_f1=macro_f1(new),
                   public_typo_top1=top1(new_t), public_items=len(truth))
    items, old, new = results[HELDOUT]
    truth_h = [e for _, e in items]
    tasks = [i for i, e in enumerate(truth_h) if e != "general"]
    present_h = [label for label in evaluate.TASK if label in set(truth_h)]
    for label, preds in (("baseline", old), ("new", new)):
        ranked = [preds[i]["ranked"] for i in tasks]
        scores = evaluate.score("x", [truth_h[i] for i in tasks], ranked, present_h)
        per = {lab: np.mean([preds[i]["profile"] == lab for i in tasks if truth_h[i] == lab]) for lab in present_h}
        if label == "new":
            figures.update(heldout_top1=float(scores.top1), heldout_macro_f1=float(scores.macro_f1),
                           heldout_tasks=len(tasks))
        lines.append(f"Held-out set, {label}: top-1 over the best task profile {scores.top1:.3f}, macro-F1 "
                     f"{scores.macro_f1:.3f} ({len(tasks)} task texts); skills-building recall {per['skills-building']:.3f}; "
                     f"abstained on {np.mean([preds[i]['abstained'] for i in range(len(preds)) if truth_h[i] == 'general']):.3f} of the general texts.")
    lines.append("")
    old_manifest = json.loads((tree / "models" / "manifest.json").read_text()) if (tree / "models").is_dir() else None
    if old_manifest:
        o, n = old_manifest["heads"]["static"]["cv"], clf.manifest["heads"]["static"]["cv"]
        lines += ["Cross-validation of each model on its own training data (from the manifests; the new data has "
                  f"{clf.manifest['training_data']['total']} texts, the old {old_manifest['training_data']['total']}):", "",
                  "| | baseline | new | target |", "|---|---:|---:|---|",
                  f"| CV top-1 | {o['top1']:.4f} | {n['top1']:.4f} | >= 0.965 |",
                  f"| general abstention (CV) | {o['general_abstention']:.4f} | {n['general_abstention']:.4f} | >= 0.95 |", ""]
    # Long pastes by payload kind and position, and how long one took.
    lines += ["Long pastes by payload kind and position of the instruction (new right / baseline right, of 5 each):", "",
              "| payload | first | last | payload kind detected |", "|---|---:|---:|---:|"]
    _, old, new = results["long pastes"]
    for kind in robust_sets.PAYLOADS:
        cells = []
        for position in ("first", "last"):
            idx = [i for i, (_, _, k, pos) in enumerate(pastes) if k == kind and pos == position]
            cells.append(f"{sum(chosen(new[i]) == pastes[i][1] for i in idx)} / {sum(chosen(old[i]) == pastes[i][1] for i in idx)}")
        idx = [i for i, p in enumerate(pastes) if p[2] == kind]
        detected = sum(new[i]["payload_kind"] == kind for i in idx)
        lines.append(f"| {kind} | {cells[0]} | {cells[1]} | {detected} of {len(idx)} |")
    sizes = [len(t) for t, *_ in pastes]
    lines += ["", f"Long pastes: {len(pastes)} texts of {min(sizes):,}–{max(sizes):,} characters classified in "
              f"{timings['long pastes']:.2f} s in one process ({timings['long pastes'] / len(pastes) * 1000:.1f} ms each).", ""]
    _, _, new = results["multi-intent (first intent)"]
    both = np.mean([{a, b} <= set(p["ranked"][:2]) for p, (_, a, b) in zip(new, robust_sets.MULTI_INTENT, strict=True)])
    lines.append(f"Multi-intent: both intents among the new model's top two in {both:.3f} of items.")
    lines.append("")
    lines += ["Languages (new): detected language and how it was handled:", "",
              "| set | detected as that language | marked unsupported (abstains, says why) |", "|---|---:|---:|"]
    for lang in robust_sets.LANGUAGES:
        _, _, new = results[f"language: {lang}"]
        _, _, held = results[f"language: {lang}, held out from the gloss"]
        new = new + held
        lines.append(f"| {lang} | {np.mean([p['language'] == lang for p in new]):.3f} | "
                     f"{np.mean([not p['language_supported'] for p in new]):.3f} |")
    _, _, new = results["other languages (right = abstain)"]
    lines.append(f"| zh/ja/ru/ko/ar | {np.mean([p['language'] == lang for p, (_, lang) in zip(new, robust_sets.OTHER_LANGUAGES, strict=True)]):.3f} | "
                 f"{np.mean([not p['language_supported'] for p in new]):.3f} |")
    english = [t for t, _ in robust_sets.META + robust_sets.NEGATIONS] + [t for t, _ in clean]
    detected_en = np.mean([p.language in ("en", "und") for p in clf.predict(english, similar=0)])
    lines += ["", f"English texts (public, meta, negations: {len(english)}) read as English or undetermined: {detected_en:.4f}.", ""]
    lines.append(SECTION_END)
    text = "\n".join(lines) + "\n"
    write_section(args.out, text)
    # The figures README.md quotes, for benchmarks/readme_figures.py, with the models they describe.
    from readme_figures import models_fingerprint, record

    record("robust", {**figures, "models": models_fingerprint()})
    print(text)


def write_section(path: Path, section: str) -> None:
    """Replace the robustness section of `path` (or append it), leaving the rest as it is."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if SECTION_START in old and SECTION_END in old:
        before, rest = old.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1].lstrip("\n")
        new = before + section + after
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + section
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
