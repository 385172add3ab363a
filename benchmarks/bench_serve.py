"""What `taskprof serve` adds to a chat: python benchmarks/bench_serve.py [--requests 500]

Starts the loopback fake Ollama of the tests (in this process) and a real `taskprof serve` process
in front of it, then sends streaming /api/chat requests in pairs: one straight to the fake, one
through serve, alternating, over one keep-alive connection each. Per pair it takes the difference
in time to the first chunk (TTFT) and to the end of the answer; p50 and p95 of those differences
are the overhead. Three kinds of request through serve: a real model (passed through), a named
profile (taskprof/programming:fast: routing without the classifier) and taskprof/auto (routing
with decide() on the latest user message). The usage log is on, as by default. Memory is the
serve process's resident set (VmRSS) and its peak (VmHWM) from /proc after the run.
Writes benchmarks/RESULTS-serve.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TASKPROF = shutil.which("taskprof") or str(Path(sys.executable).parent / "taskprof")
TASKS = ["write a python function that parses ISO dates", "estimate customer churn from this billing data csv",
         "fix the race condition in this go worker pool"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(client: httpx.Client, url: str, model: str, text: str) -> tuple[float, float]:
    """(seconds to the first chunk, seconds to the end) of one streaming chat."""
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    start = time.perf_counter()
    with client.stream("POST", url + "/api/chat", json=body) as response:
        response.raise_for_status()
        first = None
        for _ in response.iter_lines():
            if first is None:
                first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def rss_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="pairs per kind of request")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-serve.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="taskprof-serve-bench-"))
    os.environ["TASKPROF_HOME"] = str(home)
    from tests.ollama_server import _running
    from tests.test_ollama import write_profile

    write_profile(home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    write_profile(home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b")
    port = free_port()
    with _running() as fake:
        for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b"):
            fake.install(ref)
        env = {**os.environ, "TASKPROF_HOME": str(home), "TASKPROF_MEMORY": "128GB"}
        proc = subprocess.Popen([TASKPROF, "serve", "--listen", f"127.0.0.1:{port}", "--host", fake.host],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        serve_url = f"http://127.0.0.1:{port}"
        try:
            started = time.perf_counter()
            while True:
                try:
                    httpx.get(serve_url + "/", timeout=0.5)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.perf_counter() - started > 60:
                        raise SystemExit("serve did not start") from None
                    time.sleep(0.05)
            startup = time.perf_counter() - started
            idle = rss_kb(proc.pid)
            kinds = {"real model (passed through)": "qwen2.5-coder:7b",
                     "taskprof/programming:fast (named)": "taskprof/programming:fast",
                     "taskprof/auto (decide per request)": "taskprof/auto"}
            results: dict[str, tuple[list[float], list[float], list[float]]] = {k: ([], [], []) for k in kinds}
            with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as through:
                for i in range(20):  # warm-up: connections, caches, the classifier's first calls
                    for model in kinds.values():
                        one(direct, fake.host, "qwen2.5-coder:7b", TASKS[i % 3])
                        one(through, serve_url, model, TASKS[i % 3])
                # The kinds take turns, so a change in the machine's load falls on all of them alike.
                for i in range(args.requests):
                    text = TASKS[i % 3]
                    for kind, model in kinds.items():
                        d_first, d_total = one(direct, fake.host, "qwen2.5-coder:7b", text)
                        s_first, s_total = one(through, serve_url, model, text)
                        ttft, total, ttft_direct = results[kind]
                        ttft.append(s_first - d_first)
                        total.append(s_total - d_total)
                        ttft_direct.append(d_first)
            after = rss_kb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        chats = len([1 for _, path, _ in fake.requests if path == "/api/chat"]) // 2  # half went through serve

    lines = [
        "# taskprof serve: overhead per request and memory",
        "",
        f"Command: `python benchmarks/bench_serve.py --requests {args.requests}` "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, shared machine).",
        "",
        "Streaming `/api/chat` to the loopback fake Ollama (answers at once, 10 chunks), directly and through",
        f"a `taskprof serve` process, alternating, {args.requests} pairs per kind (the kinds taking turns) after",
        "20 warm-up rounds; the usage log on. Overhead = through serve minus direct, pair by pair; milliseconds.",
        "",
        "| request through serve | TTFT added p50 | TTFT added p95 | whole answer added p50 | p95 | direct TTFT p50 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, (ttft, total, ttft_direct) in results.items():
        ms = [1000 * pct(ttft, 50), 1000 * pct(ttft, 95), 1000 * pct(total, 50), 1000 * pct(total, 95),
              1000 * pct(ttft_direct, 50)]
        lines.append(f"| {kind} | " + " | ".join(f"{v:.2f}" for v in ms) + " |")
    lines += [
        "",
        f"Memory of the serve process: {idle['VmRSS'] / 1024:.0f} MB resident when ready, "
        f"{after['VmRSS'] / 1024:.0f} MB after {chats} chats through it (peak {after['VmHWM'] / 1024:.0f} MB).",
        f"Start-up (process start to the first answer on `/`, classifier loaded): {startup:.2f} s.",
        "",
    ]
    load = os.getloadavg()
    lines.insert(3, f"Load average while it ran: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min): other jobs share the CPUs.")
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
