"""The figures README.md quotes, from their sources of truth, written into the marked spans.

    python benchmarks/readme_figures.py            # rewrite every marked figure in README.md
    python benchmarks/readme_figures.py --check    # exit 1 listing every figure that differs

A figure in README.md is marked `<!-- fig:NAME -->value<!-- /fig -->`; a whole code block whose
output a command prints is marked by a line `<!-- fig-block:NAME -->` just before its fence.

Where each figure comes from:
- computed now, from what is committed: cross-validated top-1 and the number of training examples
  (models/manifest.json, which training writes), every profile's size and the storage plan of the
  task profiles (the catalogue, through `recommender` itself, and `taskprof profiles size`);
- measured: benchmarks/figures.json, which `bench_robust.py` (accuracy on the held-out, public and
  robustness sets) and `bench_suggest.py` (whole-process timings) write beside their Markdown.
  Accuracy depends only on models/ and the code: figures.json keeps a fingerprint of models/ and a
  figure measured on other models is reported as stale (rerun `make readme-figures FULL=1`).
  Timings depend on the machine as well: they are what the last run measured, with its date and load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIGURES = ROOT / "benchmarks" / "figures.json"
MODELS = ROOT / "models"

SPAN = re.compile(r"<!-- fig:([a-z0-9-]+) -->(.*?)<!-- /fig -->", re.S)
BLOCK = re.compile(r"^<!-- fig-block:([a-z0-9-]+) -->\n(```[a-z]*\n)(.*?)^```$", re.S | re.M)


class Stale(Exception):
    """A measured figure whose measurement no longer describes what is committed."""


# --- the measured figures' file ------------------------------------------------------------------


def models_fingerprint(models: Path = MODELS) -> str:
    """sha256 over every file of models/ (relative path and bytes): changes with any retrain."""
    digest = hashlib.sha256()
    for file in sorted(p for p in models.rglob("*") if p.is_file()):
        digest.update(file.relative_to(models).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def record(section: str, figures: dict[str, Any], path: Path = FIGURES) -> None:
    """Write one benchmark's section of figures.json (the other sections are kept as they are)."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[section] = figures
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- sources -------------------------------------------------------------------------------------


class Sources:
    """Each source read once, when a figure first needs it."""

    def __init__(self, figures_file: Path = FIGURES):
        self.figures_file = figures_file
        self._cache: dict[str, Any] = {}

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def manifest(self) -> dict[str, Any]:
        return self._once("manifest", lambda: json.loads((MODELS / "manifest.json").read_text(encoding="utf-8")))

    def catalogue(self) -> Any:
        def load() -> Any:
            sys.path.insert(0, str(ROOT))
            from recommender import profiles

            # The bundled profiles alone: a user's own files must not change the README.
            return profiles.load_catalogue(user=Path(tempfile.mkdtemp(prefix="taskprof-figures-")) / "profiles")

        return self._once("catalogue", load)

    def task_plan(self) -> Any:
        def plan() -> Any:
            from recommender import profiles

            return profiles.storage_plan(self.catalogue().of_kind("task"))

        return self._once("plan", plan)

    def measured(self, section: str) -> dict[str, Any]:
        data = self._once("figures", lambda: json.loads(self.figures_file.read_text(encoding="utf-8"))
                          if self.figures_file.is_file() else {})
        if section not in data:
            raise Stale(f"{self.figures_file.name} has no '{section}' section: run benchmarks/bench_{section}.py")
        found = data[section]
        if section == "robust":
            now = self._once("fingerprint", models_fingerprint)
            if found.get("models") != now:
                raise Stale(f"measured on other models/ than the committed ones ({found.get('date', '?')}): "
                            "rerun python benchmarks/bench_robust.py")
        return dict(found)

    def cli(self, *args: str) -> str:
        home = tempfile.mkdtemp(prefix="taskprof-figures-")
        env = {**os.environ, "TASKPROF_HOME": home, "NO_COLOR": "1", "COLUMNS": "100",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("OLLAMA_HOST", None)
        out = subprocess.run([sys.executable, "-m", "recommender", *args], env=env, capture_output=True,
                             text=True, check=True, cwd=ROOT)
        return out.stdout


def _gb(x: float) -> str:
    return f"{x:,.1f} GB"


def _rate(x: float) -> str:
    return f"{x:.2f}"


def _figures(src: Sources) -> dict[str, Callable[[], str]]:
    """NAME -> how to get its value, as README.md prints it."""
    figs: dict[str, Callable[[], str]] = {
        # models/manifest.json, written by `python -m training.train`
        "cv-top1": lambda: f"{src.manifest()['heads']['static']['cv']['top1']:.3f}",
        "training-examples": lambda: f"{src.manifest()['training_data']['total']:,}",
        # the catalogue, through recommender.profiles
        "task-total": lambda: _gb(src.task_plan().total_gb),
        "task-distinct": lambda: str(len(src.task_plan().models)),
        "task-naive": lambda: _gb(src.task_plan().naive_gb),
        "task-saved": lambda: _gb(src.task_plan().saved_gb),
        # benchmarks/figures.json, section "robust" (bench_robust.py)
        "heldout-top1": lambda: f"{src.measured('robust')['heldout_top1']:.3f}",
        "heldout-n": lambda: f"{src.measured('robust')['heldout_tasks']:,}",
        "public-top1": lambda: f"{src.measured('robust')['public_top1']:.3f}",
        "public-macro-f1": lambda: f"{src.measured('robust')['public_macro_f1']:.3f}",
        "public-n": lambda: f"{src.measured('robust')['public_items']:,}",
        "public-typo-top1": lambda: f"{src.measured('robust')['public_typo_top1']:.3f}",
        "long-pastes": lambda: _rate(src.measured("robust")["right"]["long pastes"]),
        "meta": lambda: _rate(src.measured("robust")["right"]["questions about models"]),
        "negations": lambda: _rate(src.measured("robust")["right"]["negations"]),
        "two-asks": lambda: _rate(src.measured("robust")["right"]["multi-intent (first intent)"]),
        # benchmarks/figures.json, section "suggest" (bench_suggest.py): whole-process medians
        "cold-suggest": lambda: f"{src.measured('suggest')['cold_suggest_s']:.2f} s",
        "cold-suggest-rss": lambda: f"{src.measured('suggest')['cold_suggest_rss_mb']:.0f} MB",
        "speed-up": lambda: f"{src.measured('suggest')['full_encoder_s'] / src.measured('suggest')['cold_suggest_s']:.0f}x",
        "paste-100kb": lambda: f"{src.measured('suggest')['paste_100kb_s']:.2f} s",
        "batch-rate": lambda: f"~{round(src.measured('suggest')['batch_tasks_per_s'], -2):,.0f} tasks/s",
        "timing-runs": lambda: str(src.measured("suggest")["runs"]),
        # whole code blocks: what the command prints
        "profiles-size": lambda: "$ taskprof profiles size\n" + src.cli("profiles", "size"),
    }
    for name in ("programming", "systems-architecture", "research", "writing", "data-work", "skills-building",
                 "brainstorming", "document-intelligence", "business-research", "fast", "balanced", "quality",
                 "all-rounders"):
        figs[f"size-{name}"] = (lambda n: lambda: _gb(src.catalogue()[n].size_gb))(name)
    return figs


# --- README ----------------------------------------------------------------------------------------


def update(text: str, src: Sources) -> tuple[str, list[str], list[str]]:
    """The README with every marked figure from its source; the differences; the figures not known."""
    figs = _figures(src)
    values: dict[str, str | Exception] = {}
    differ: list[str] = []
    problems: list[str] = []

    def value(name: str) -> str | None:
        if name not in values:
            if name not in figs:
                values[name] = KeyError(f"no figure named '{name}' (benchmarks/readme_figures.py lists them)")
            else:
                try:
                    values[name] = figs[name]()
                except (Stale, OSError, KeyError, subprocess.CalledProcessError) as exc:
                    values[name] = exc
        found = values[name]
        if isinstance(found, Exception):
            message = f"{name}: {found}"
            if message not in problems:
                problems.append(message)
            return None
        return found

    def span(match: re.Match[str]) -> str:
        name, old = match.group(1), match.group(2)
        new = value(name)
        if new is None:
            return match.group(0)
        if new != old:
            differ.append(f"{name}: README says {old!r}, the source says {new!r}")
        return f"<!-- fig:{name} -->{new}<!-- /fig -->"

    def block(match: re.Match[str]) -> str:
        name, fence, old = match.group(1), match.group(2), match.group(3)
        new = value(name)
        if new is None:
            return match.group(0)
        new = new.rstrip("\n") + "\n"
        if new != old:
            differ.append(f"{name}: the README's block is not what `{new.splitlines()[0].lstrip('$ ')}` prints now")
        return f"<!-- fig-block:{name} -->\n{fence}{new}```"

    text = BLOCK.sub(block, text)
    text = SPAN.sub(span, text)
    return text, differ, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a figure differs or is stale")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--figures", type=Path, default=FIGURES, help="the measured figures (default: %(default)s)")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new, differ, problems = update(text, Sources(args.figures))
    for line in problems:
        print(f"cannot check {line}", file=sys.stderr)
    if args.check:
        for line in differ:
            print(f"differs: {line}", file=sys.stderr)
        if differ or problems:
            print(f"{len(differ)} figure(s) differ, {len(problems)} cannot be checked: "
                  "run `make readme-figures` (FULL=1 to measure again)", file=sys.stderr)
            return 1
        print(f"README figures: all {len(SPAN.findall(text)) + len(BLOCK.findall(text))} marked figures match their sources")
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
    for line in differ:
        print(f"updated {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
