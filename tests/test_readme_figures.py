"""README.md's figures are what their sources say (benchmarks/readme_figures.py --check).

No timing here: the measured figures are compared with benchmarks/figures.json, the computed ones
(cross-validation from models/manifest.json, sizes from the catalogue) are computed now. A retrain
that changes the manifest's CV, a profile whose size changes, or new models/ without rerunning
bench_robust.py fails this test until `make readme-figures` (FULL=1 to measure again) is run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "readme_figures.py"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--check", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_every_marked_readme_figure_matches_its_source():
    proc = check()
    assert proc.returncode == 0, proc.stderr
    assert "marked figures match" in proc.stdout


def test_the_readme_marks_the_figures_that_drifted_before():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("cv-top1", "heldout-top1", "public-top1", "public-macro-f1", "cold-suggest", "cold-suggest-rss",
                 "speed-up", "paste-100kb", "batch-rate", "task-total", "task-naive", "size-programming"):
        assert f"<!-- fig:{name} -->" in text, name
    assert "<!-- fig-block:profiles-size -->" in text


def test_a_changed_cv_figure_is_reported_by_name(tmp_path):
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    cv = f"{manifest['heads']['static']['cv']['top1']:.3f}"
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8").replace(
        f"<!-- fig:cv-top1 -->{cv}<!-- /fig -->", "<!-- fig:cv-top1 -->0.999<!-- /fig -->"), encoding="utf-8")
    proc = check("--readme", str(readme))
    assert proc.returncode == 1
    assert f"differs: cv-top1: README says '0.999', the source says '{cv}'" in proc.stderr
    assert "1 figure(s) differ" in proc.stderr


def test_accuracy_measured_on_other_models_is_stale(tmp_path):
    figures = json.loads((ROOT / "benchmarks" / "figures.json").read_text(encoding="utf-8"))
    figures["robust"]["models"] = "0" * 64  # as after a retrain that did not rerun bench_robust.py
    stale = tmp_path / "figures.json"
    stale.write_text(json.dumps(figures), encoding="utf-8")
    proc = check("--figures", str(stale))
    assert proc.returncode == 1
    assert "cannot check heldout-top1: measured on other models/" in proc.stderr
    assert "cannot check cold-suggest" not in proc.stderr  # timings do not depend on models/ alone


def test_rewriting_puts_the_source_value_back(tmp_path):
    readme = tmp_path / "README.md"
    original = (ROOT / "README.md").read_text(encoding="utf-8")
    plan = original.split("<!-- fig-block:profiles-size -->\n", 1)[1].split("```", 2)[1]
    readme.write_text(original.replace(plan, "console\n$ taskprof profiles size\n...\n"), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--readme", str(readme)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "updated profiles-size" in proc.stdout
    assert readme.read_text(encoding="utf-8") == original
