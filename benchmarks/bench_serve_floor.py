"""The floor under serve's added latency: python benchmarks/bench_serve_floor.py [--pairs 1000]

A bare streaming proxy on serve's stack (benchmarks/bare_proxy.py: Starlette, uvicorn with h11,
httpx; no gate, validation, routing or log) and a real `taskprof serve`, both in front of the
loopback fake Ollama of the tests. Per round, for each of bare / serve with a real model / serve with
a pinned profile: one chat straight to the fake and one through the proxy, the difference kept; the
three take turns, so a change of load falls on all alike. Prints the p50 added (first chunk / whole).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000, help="timed pairs per kind (after 20 warm-up rounds)")
    args = parser.parse_args()

    import bench_serve as b

    home = Path(tempfile.mkdtemp(prefix="taskprof-floor-"))
    os.environ["TASKPROF_HOME"] = str(home)
    from tests.ollama_server import _running
    from tests.test_ollama import write_profile

    write_profile(home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    with _running() as fake:
        for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b"):
            fake.install(ref)
        port = b.free_port()
        bare = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"), str(port), fake.host],
                                stderr=subprocess.DEVNULL)
        bare_url = f"http://127.0.0.1:{port}"
        serve = b.Serve(fake.host, home)
        try:
            while True:
                try:
                    httpx.get(bare_url + "/", timeout=0.5)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            added: dict[str, tuple[list[float], list[float]]] = {
                "bare proxy": ([], []), "serve, real model": ([], []), "serve, pinned profile": ([], [])}
            with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as to_bare, \
                    httpx.Client(timeout=30) as to_serve:
                kinds = (("bare proxy", to_bare, bare_url, b.REAL), ("serve, real model", to_serve, serve.url, b.REAL),
                         ("serve, pinned profile", to_serve, serve.url, "taskprof/programming:fast"))
                for i in range(-20, args.pairs):
                    line = [{"role": "user", "content": f"{b.TASKS[i % 3]} (case {i})"}]
                    for kind, client, url, model in kinds:
                        d_first, d_total = b.one(direct, fake.host, b.REAL, line)
                        p_first, p_total = b.one(client, url, model, line)
                        if i >= 0:
                            added[kind][0].append(p_first - d_first)
                            added[kind][1].append(p_total - d_total)
        finally:
            serve.stop()
            bare.terminate()
            bare.wait()
    print(f"{args.pairs} pairs per kind, interleaved; load average {os.getloadavg()[0]:.1f} at the end")
    print("| proxy | first chunk added p50 ms | whole answer added p50 ms |")
    print("| --- | ---: | ---: |")
    for kind, (first, whole) in added.items():
        print(f"| {kind} | {1000 * statistics.median(first):.2f} | {1000 * statistics.median(whole):.2f} |")


if __name__ == "__main__":
    main()
