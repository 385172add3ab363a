"""Speed and accuracy of `taskprof suggest`, whole process, written to benchmarks/RESULTS.md.

    python benchmarks/bench_suggest.py [--runs 11] [--full-runs 9] [--baseline 590de27] [--public FILE]

- cold `taskprof suggest "review this contract" --json`: wall time and peak RSS per fresh process,
  median of --runs, interleaved with the same classification through sentence-transformers
  (`--encoder full`) in a fresh process, so that both see the same machine state;
- the same cold command of the --baseline commit's code and models/ (extracted from git), both run as
  `python -m recommender` with that tree on PYTHONPATH, interleaved with this tree's run the same way;
- a 100 kB paste (a licence with the request after it) on standard input, whole process;
- `--batch` throughput over 20,000 tasks, whole process (start-up included), median of 5 runs;
- `import recommender` and `taskprof --help` cold times;
- the accuracy report of `python -m training.evaluate`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKPROF = shutil.which("taskprof") or str(Path(sys.executable).parent / "taskprof")


def run(cmd: list[str], env: dict[str, str], stdin: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process."""
    stdin_f = stdin.open("rb") if stdin else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=stdin_f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if stdin:
        stdin_f.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="cold runs of the fast path (>= 9)")
    parser.add_argument("--full-runs", type=int, default=9, help="cold runs of the sentence-transformers path")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--skip-accuracy", action="store_true", help="speed only")
    parser.add_argument("--baseline", default="590de27", help="commit whose code and models/ to time beside this tree")
    parser.add_argument("--public", type=Path, default=None, help="the public benchmark JSONL (default: training.evaluate's)")
    args = parser.parse_args()

    load_at_start = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").is_file() else "?"
    home = Path(tempfile.mkdtemp(prefix="taskprof-bench-"))
    env = {**os.environ, "TASKPROF_HOME": str(home), "NO_COLOR": "1"}
    # An installed taskprof has its bytecode compiled (pip does it); so does a source tree once run.
    # Without this a shell with PYTHONDONTWRITEBYTECODE would time the compiling of every module.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    text = "review this contract"
    fast_cmd = [TASKPROF, "suggest", text, "--json", "--no-log"]
    full_cmd = [TASKPROF, "suggest", text, "--json", "--no-log", "--encoder", "full"]

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_robust import checkout

    tree = checkout(args.baseline, home)
    module_cmd = [sys.executable, "-m", "recommender", "suggest", text, "--json", "--no-log"]
    env_new = {**env, "PYTHONPATH": str(ROOT)}
    env_old = {**env, "PYTHONPATH": str(tree)}
    run(fast_cmd, env)  # warm the page cache once, as any second use of the tool would
    run(module_cmd, env_old)
    fast, full, same_new, same_old = [], [], [], []
    for i in range(max(args.runs, args.full_runs)):
        if i < args.runs:
            fast.append(run(fast_cmd, env))
            same_new.append(run(module_cmd, env_new))
            same_old.append(run(module_cmd, env_old))
        if i < args.full_runs:
            full.append(run(full_cmd, env))
    paste = home / "paste.txt"
    licence = "\n\n".join(f"{i}. The Licensee shall not sublicense the Software; the Licensor disclaims all warranties "
                           "and limits its liability as set out in this Agreement." for i in range(1, 900))
    paste.write_text(licence[:100_000] + "\n\nReview this licence and list what I must do as the licensee.\n", encoding="utf-8")
    pastes = [run([TASKPROF, "suggest", "--json", "--no-log"], env, stdin=paste) for _ in range(args.runs)]
    imports = [run([sys.executable, "-c", "import recommender.cli"], env)[0] for _ in range(args.runs)]
    helps = [run([TASKPROF, "--help"], env)[0] for _ in range(args.runs)]
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, recommender.cli, recommender.classifier, recommender.encoder;"
         "print(sorted(m for m in ('torch','sentence_transformers','sklearn','ollama','httpx','rich') if m in sys.modules))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()

    from training import dataset

    texts = dataset.load().texts
    rng = random.Random(7)
    batch_file = home / "batch.txt"
    n_batch = 20_000
    batch_file.write_text("\n".join(rng.choice(texts) for _ in range(n_batch)) + "\n", encoding="utf-8")
    batch = [run([TASKPROF, "suggest", "--batch"], env, stdin=batch_file) for _ in range(5)]
    batch_rate = n_batch / median([b[0] for b in batch])

    fast_wall = median([f[0] for f in fast])
    full_wall = median([f[0] for f in full])
    lines = [
        "# taskprof benchmarks",
        "",
        "Made by `python benchmarks/bench_suggest.py"
        + (" --skip-accuracy" if args.skip_accuracy else "") + f"` on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        "Whole-process timings (fork to exit), medians; the fast and full runs were interleaved.",
        "",
        "## Speed",
        "",
        "| measurement | median | runs | target |",
        "|---|---:|---:|---|",
        f"| cold `taskprof suggest \"{text}\" --json` (static encoder) | {fast_wall:.3f} s | {len(fast)} | <= 0.15 s |",
        f"| peak RSS of that process | {median([f[1] for f in fast]):.0f} MB | {len(fast)} | <= 200 MB |",
        f"| same classification through sentence-transformers (`--encoder full`), fresh process | {full_wall:.3f} s | {len(full)} | |",
        f"| peak RSS of that process | {median([f[1] for f in full]):.0f} MB | {len(full)} | |",
        f"| speed-up of the fast path | {full_wall / fast_wall:.1f}x | | >= 25x |",
        f"| `python -m recommender suggest \"{text}\" --json`, this tree | {median([f[0] for f in same_new]):.3f} s | {len(same_new)} | <= 0.15 s |",
        f"| the same, {args.baseline}'s code and models/ (interleaved) | {median([f[0] for f in same_old]):.3f} s | {len(same_old)} | |",
        f"| this tree / {args.baseline}, median of the per-pair ratios | "
        f"{median([a[0] / b[0] for a, b in zip(same_new, same_old, strict=True)]):.3f} | {len(same_new)} | <= 1.10 |",
        f"| a 100 kB paste on stdin (`taskprof suggest --json`) | {median([p[0] for p in pastes]):.3f} s | {len(pastes)} | < 0.5 s |",
        f"| `--batch`, {n_batch:,} tasks, whole process | {batch_rate:,.0f} tasks/s | 5 | >= 5,000 tasks/s |",
        f"| `python -c 'import recommender.cli'` | {median(imports):.3f} s | {len(imports)} | |",
        f"| `taskprof --help` | {median(helps):.3f} s | {len(helps)} | |",
        "",
        f"Heavy modules loaded by importing recommender.cli, classifier and encoder: {heavy} (must be empty).",
        "",
        f"All cold fast-path runs (s): {', '.join(f'{f[0]:.3f}' for f in fast)}",
        f"All full-path runs (s): {', '.join(f'{f[0]:.3f}' for f in full)}",
        "",
    ]
    if not args.skip_accuracy:
        from training import evaluate

        report = evaluate.evaluate(args.public or evaluate.DEFAULT_PUBLIC)
        accuracy = evaluate.markdown(report, "python benchmarks/bench_suggest.py")
        lines += ["## Accuracy", "",
                  "Variants tried for the public benchmark, held-out figures and what limits the public score: "
                  "[RESULTS-variants.md](RESULTS-variants.md). The robustness sets and `benchmarks/heldout/` are "
                  "at the end (`python benchmarks/bench_robust.py`).", "", *accuracy.splitlines()[3:]]
    from bench_robust import SECTION_END, SECTION_START

    # Keep the robustness section bench_robust.py wrote: the two scripts share the file.
    old = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    kept = ""
    if SECTION_START in old and SECTION_END in old:
        kept = "\n" + SECTION_START + old.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0] + SECTION_END + "\n"
    args.out.write_text("\n".join(lines) + "\n" + kept, encoding="utf-8")
    # The figures README.md quotes, for benchmarks/readme_figures.py: whole-process medians.
    from readme_figures import load_average, record

    record("suggest", {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "load_at_start": load_at_start, "load_at_end": load_average(), "runs": len(fast), "full_runs": len(full),
        "cold_suggest_s": round(fast_wall, 4), "cold_suggest_rss_mb": round(median([f[1] for f in fast]), 1),
        "full_encoder_s": round(full_wall, 4), "paste_100kb_s": round(median([p[0] for p in pastes]), 4),
        "batch_tasks_per_s": round(batch_rate, 1), "batch_runs": len(batch),
    })
    print("\n".join(lines))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
