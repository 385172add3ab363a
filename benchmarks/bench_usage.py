"""`taskprof usage stats` over 1,000,000 events, whole process: python benchmarks/bench_usage.py

Builds a usage.db with N events (spread over nine profiles and a year) through the real schema,
then times fresh `taskprof usage stats` and `--json` processes; medians of --runs. Writes
benchmarks/RESULTS-usage.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKPROF = shutil.which("taskprof") or str(Path(sys.executable).parent / "taskprof")
PROFILES = ["programming", "systems-architecture", "research", "writing", "data-work", "skills-building",
            "brainstorming", "document-intelligence", "business-research"]


def build(home: Path, n: int) -> None:
    os.environ["TASKPROF_HOME"] = str(home)
    from recommender import usage

    log = usage.UsageLog.open()
    rng = random.Random(3)
    start = datetime.now(UTC) - timedelta(days=365)
    rows = ((( start + timedelta(seconds=rng.randrange(365 * 86400))).isoformat(timespec="seconds"),
             rng.choice(["suggest", "suggest", "suggest", "install", "ask"]), rng.choice(PROFILES),
             rng.choice(["fast", "quality"]), None, rng.random(), 0, "a task description") for _ in range(n))
    with usage._transaction(log.conn):
        log.conn.executemany("INSERT INTO events (ts, command, profile, tier, model, confidence, abstained, text) "
                             "VALUES (?,?,?,?,?,?,?,?)", rows)
    usage.rebuild_summary(log.conn)
    log.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.close()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="taskprof-usage-bench-"))
    t = time.perf_counter()
    build(home, args.events)
    built = time.perf_counter() - t
    # An unreachable Ollama must not slow stats down: point it at a closed loopback port.
    env = {**os.environ, "TASKPROF_HOME": str(home), "OLLAMA_HOST": "127.0.0.1:9", "NO_COLOR": "1"}
    results = {}
    for label, cmd in [("usage stats", [TASKPROF, "usage", "stats"]),
                       ("usage stats --json", [TASKPROF, "usage", "stats", "--json"]),
                       ("usage stats --days 30", [TASKPROF, "usage", "stats", "--days", "30"])]:
        timed(cmd, env)
        results[label] = [timed(cmd, env) for _ in range(args.runs)]
    lines = ["# Usage log benchmark", "",
             f"Made by `python benchmarks/bench_usage.py --events {args.events} --runs {args.runs}`, "
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores. Database built in {built:.1f} s "
             f"({(home / 'usage.db').stat().st_size / 1e6:.0f} MB). Whole-process wall times, Ollama unreachable.", "",
             "| command | median | min | max | target |", "|---|---:|---:|---:|---|"]
    for label, times in results.items():
        lines.append(f"| `taskprof {label}` over {args.events:,} events | {statistics.median(times):.3f} s | "
                     f"{min(times):.3f} s | {max(times):.3f} s | <= 0.5 s |")
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "RESULTS-usage.md").write_text(text)
    print(text)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
