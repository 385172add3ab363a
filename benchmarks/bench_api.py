"""Cold `taskprof suggest` against the import floor, and against an earlier commit, interleaved.

    python benchmarks/bench_api.py [--pairs 15] [--baseline 5edc55b] [--out benchmarks/RESULTS-api.md]

Three whole processes per round, in a shuffled order each round so that all three see the same
machine state: the floor (`python -c "import numpy, click"`, what any numpy + click CLI pays), this
tree's `python -m recommender suggest "review this contract"`, and the same command of the
--baseline commit (extracted with `git archive`, run with that tree as the working directory so its
package is the one imported). Bytecode is compiled first and PYTHONDONTWRITEBYTECODE is unset, as a
user's installed copy runs. Reports medians and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK = "review this contract"


def wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="rounds (>= 10)")
    parser.add_argument("--baseline", default="5edc55b", help="the commit to time beside this tree")
    parser.add_argument("--out", type=Path, default=None, help="append the result to this Markdown file")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        env["TASKPROF_HOME"] = str(Path(tmp) / "home")
        for tree in (ROOT, base):
            subprocess.run([sys.executable, "-m", "compileall", "-q", "recommender"], cwd=tree, env=env, check=True)
        runs = {
            "floor": ([sys.executable, "-c", "import numpy, click"], ROOT),
            "this tree": ([sys.executable, "-m", "recommender", "suggest", TASK], ROOT),
            f"baseline {args.baseline}": ([sys.executable, "-m", "recommender", "suggest", TASK], base),
        }
        for cmd, cwd in runs.values():  # warm the page cache and write the usage database once
            wall(cmd, cwd, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.pairs):
            order = list(runs)
            random.shuffle(order)
            for name in order:
                cmd, cwd = runs[name]
                times[name].append(wall(cmd, cwd, env))
    floor = statistics.median(times["floor"])
    lines = [f"`python benchmarks/bench_api.py --pairs {args.pairs} --baseline {args.baseline}` "
             f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}), "
             f"medians of {args.pairs} interleaved rounds:", "", "| process | median s | x floor |", "|---|---|---|"]
    for name, values in times.items():
        m = statistics.median(values)
        lines.append(f"| {name} | {m:.3f} | {m / floor:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
