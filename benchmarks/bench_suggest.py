"""Speed and accuracy of `taskprof suggest`, whole process, written to benchmarks/RESULTS.md.

    python benchmarks/bench_suggest.py [--runs 11] [--full-runs 9]

- cold `taskprof suggest "review this contract" --json`: wall time and peak RSS per fresh process,
  median of --runs, interleaved with the same classification through sentence-transformers
  (`--encoder full`) in a fresh process, so that both see the same machine state;
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
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="taskprof-bench-"))
    env = {**os.environ, "TASKPROF_HOME": str(home), "NO_COLOR": "1"}
    text = "review this contract"
    fast_cmd = [TASKPROF, "suggest", text, "--json", "--no-log"]
    full_cmd = [TASKPROF, "suggest", text, "--json", "--no-log", "--encoder", "full"]

    run(fast_cmd, env)  # warm the page cache once, as any second use of the tool would
    fast, full = [], []
    for i in range(max(args.runs, args.full_runs)):
        if i < args.runs:
            fast.append(run(fast_cmd, env))
        if i < args.full_runs:
            full.append(run(full_cmd, env))
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
        f"| cold `taskprof suggest \"{text}\" --json` (static encoder) | {fast_wall:.3f} s | {len(fast)} | <= 0.25 s |",
        f"| peak RSS of that process | {median([f[1] for f in fast]):.0f} MB | {len(fast)} | <= 200 MB |",
        f"| same classification through sentence-transformers (`--encoder full`), fresh process | {full_wall:.3f} s | {len(full)} | |",
        f"| peak RSS of that process | {median([f[1] for f in full]):.0f} MB | {len(full)} | |",
        f"| speed-up of the fast path | {full_wall / fast_wall:.1f}x | | >= 25x |",
        f"| `--batch`, {n_batch:,} tasks, whole process | {batch_rate:,.0f} tasks/s | 5 | >= 2,000 tasks/s |",
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

        report = evaluate.evaluate(evaluate.DEFAULT_PUBLIC)
        accuracy = evaluate.markdown(report, "python benchmarks/bench_suggest.py")
        lines += ["## Accuracy", "", *accuracy.splitlines()[3:]]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
