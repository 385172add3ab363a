"""Concurrent state changes: python benchmarks/stress_state.py [--procs 8] [--runs 100] [--seed 1]

8 worker processes x 100 runs each of a random mix of `install`, `remove`, `config set` and
`suggest`, all against one data directory and one fake Ollama (tests/ollama_server.py, started in
this process on 127.0.0.1). Each worker runs the real CLI in its own process (click's main,
in-process, so 800 runs do not pay 800 cold starts). Four tiny profiles share models, so an
install and a removal planned from stale state would delete a model another profile still needs or
leave one behind.

Afterwards three records must agree exactly:
  - state.json: which tiers of which profiles are installed;
  - the fake Ollama's model list: exactly the models of those tiers, no more (no orphans), no fewer;
  - the usage log: replaying its install/remove events in id order gives state.json's tiers, and
    it holds one event per run that changed something (and one per suggestion);
and config.json holds, for every setting the workers set, one of the values they set.
Prints the figures; exit 1 when anything disagrees.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROFILES = {
    # profile: (fast model, quality model) -- shared models on purpose
    "programming": ("qwen2.5-coder:7b", "qwen2.5-coder:32b"),
    "data-work": ("qwen2.5-coder:7b", "deepseek-r1:32b"),
    "brainstorming": ("dolphin-llama3:8b", "llama3.3:70b"),
    "writing": ("llama3.1:8b", "llama3.3:70b"),
}
TASKS = ["write a python function to parse dates", "brainstorm names for a bakery",
         "clean up this csv and plot monthly revenue", "edit my cover letter"]
SETTINGS = [("auto_install_after", ["2", "5", "9"]), ("update_every", ["7d", "12h", "off"]),
            ("auto_install_tier", ["fast", "quality", "all"]), ("log_text", ["true"])]


def write_profiles(home: Path) -> None:
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    for name, refs in PROFILES.items():
        models = [{"name": ref, "tag": "latest" if ref.endswith(":latest") else "sha256:" + "0" * 64, "tier": tier,
                   "purpose": f"The {tier} one.", "size_gb": 0.01, "params_b": 7.6 if tier == "fast" else 32.8,
                   "context": 32768} for ref, tier in zip(refs, ("fast", "quality"), strict=True)]
        (folder / f"{name}.json").write_text(json.dumps({
            "name": name, "kind": "task", "description": f"Stress profile {name}.", "models": models,
            "recommended_for": ["stress"], "size_estimate": "tiny"}))


def worker(args: tuple[int, int, int, str, str]) -> list[tuple[str, int, str]]:
    """One process: `runs` random commands through the CLI; returns (command, exit code, detail) each."""
    index, runs, seed, home, host = args
    os.environ["TASKPROF_HOME"] = home
    os.environ["TASKPROF_MEMORY"] = "512GB"  # every tier fits: plans do not depend on this machine
    import click

    from recommender.cli.app import cli

    rng = random.Random(seed * 1000 + index)
    done = []
    for _ in range(runs):
        kind = rng.choice(["install", "install", "remove", "config", "suggest"])
        if kind == "install":
            args_ = ["install", rng.choice(list(PROFILES)), "--tier", rng.choice(["fast", "quality", "all"]), "--yes"]
        elif kind == "remove":
            args_ = ["remove", rng.choice(list(PROFILES)), "--yes"]
        elif kind == "config":
            name, values = rng.choice(SETTINGS)
            args_ = ["config", "set", name, rng.choice(values)]
        else:
            args_ = ["suggest", "--json", rng.choice(TASKS)]
        if kind in ("install", "remove"):
            args_ += ["--host", host]
        code, detail = 0, " ".join(args_)
        try:
            with open(os.devnull, "w") as sink:
                stdout, stderr = sys.stdout, sys.stderr
                sys.stdout = sys.stderr = sink
                try:
                    cli.main(args=args_, prog_name="taskprof", standalone_mode=False)
                finally:
                    sys.stdout, sys.stderr = stdout, stderr
        except click.ClickException as exc:
            code, detail = exc.exit_code, f"{detail}: {exc.format_message()}"
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except Exception as exc:  # a traceback: count it, the run goes on
            code, detail = 99, f"{detail}: {exc.__class__.__name__}: {exc}"
        done.append((kind, code, detail))
    return done


def check(home: Path, fake, results: list[tuple[str, int, str]]) -> list[str]:
    """Every way the three records can disagree; an empty list when they agree exactly."""
    problems = []
    state = json.loads((home / "state.json").read_text())
    installed = {name: set(tiers) for name, tiers in state["installed"].items()}
    needed = {PROFILES[name][("fast", "quality").index(t)] for name, tiers in installed.items() for t in tiers}
    on_server = {ref.removesuffix(":latest") for ref in fake.installed}
    if needed - on_server:
        problems.append(f"installed in state.json but missing on the server: {sorted(needed - on_server)}")
    if on_server - needed:
        problems.append(f"on the server but needed by no installed profile (orphans): {sorted(on_server - needed)}")
    conn = sqlite3.connect(home / "usage.db")
    replay: dict[str, set[str]] = {}
    events = conn.execute("SELECT command, profile, tier FROM events WHERE command IN ('install', 'remove') "
                          "ORDER BY id").fetchall()
    for command, profile, tier in events:
        tiers = {"fast", "quality"} if tier in (None, "all") else {tier}
        if command == "install":
            replay[profile] = replay.get(profile, set()) | tiers
        else:
            replay[profile] = replay.get(profile, set()) - tiers
    replay = {k: v for k, v in replay.items() if v}
    if replay != installed:
        problems.append(f"the usage log replays to {replay}, state.json says {installed}")
    logged = Counter(dict(conn.execute("SELECT command, COUNT(*) FROM events GROUP BY command").fetchall()))
    ok = Counter(kind for kind, code, _ in results if code == 0)
    if logged["suggest"] != ok["suggest"]:
        problems.append(f"{ok['suggest']} suggestions ran, the log has {logged['suggest']}")
    if logged["install"] > ok["install"] or logged["remove"] > ok["remove"]:
        problems.append(f"more maintenance events ({logged}) than successful runs ({ok})")
    config = json.loads((home / "config.json").read_text())
    from recommender import config as config_mod

    for name, values in SETTINGS:
        if not any(d.startswith(f"config set {name} ") for _, c, d in results if c == 0):
            continue
        if name not in config:
            problems.append(f"config.json lost {name}")
        elif config[name] not in [config_mod.parse(name, v) for v in values]:
            problems.append(f"config.json holds {name} = {config[name]!r}, which no worker set")
    crashed = [d for _, c, d in results if c == 99]
    if crashed:
        problems.append(f"{len(crashed)} runs ended in a traceback, e.g. {crashed[0]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    from tests.ollama_server import _running

    with tempfile.TemporaryDirectory(prefix="taskprof-stress-") as tmp, _running() as fake:
        home = Path(tmp) / "home"
        write_profiles(home)
        for fast, quality in PROFILES.values():
            fake.publish(fast, weights=200_000)
            fake.publish(quality, weights=200_000)
        started = time.monotonic()
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(opts.procs) as pool:
            per_worker = pool.map(worker, [(i, opts.runs, opts.seed, str(home), fake.host) for i in range(opts.procs)])
        seconds = time.monotonic() - started
        results = [r for rs in per_worker for r in rs]
        codes = Counter((kind, code) for kind, code, _ in results)
        problems = check(home, fake, results)
        state = json.loads((home / "state.json").read_text())
        print(f"{opts.procs} processes x {opts.runs} runs = {len(results)} runs in {seconds:.1f} s "
              f"({len(results) / seconds:.1f} runs/s)")
        for (kind, code), n in sorted(codes.items()):
            print(f"  {kind:<8} exit {code}: {n}")
        failed = [d for _, c, d in results if c not in (0,)]
        for detail in sorted(set(failed))[:5]:
            print(f"  e.g. {detail}")
        print(f"state.json installed: {state['installed']}")
        print(f"server models: {sorted(fake.installed)}")
        print(f"pulls: {len(fake.paths_called('POST')) and sum(1 for p in fake.paths_called('POST') if p == '/api/pull')}, "
              f"deletes: {sum(1 for p in fake.paths_called('DELETE') if p == '/api/delete')}")
        if problems:
            print("DISAGREE:")
            for p in problems:
                print(f"  - {p}")
            return 1
        print("state.json, the server's model list and the usage log agree exactly")
        return 0


if __name__ == "__main__":
    sys.exit(main())
