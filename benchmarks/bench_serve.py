"""What `taskprof serve` adds to a chat, and what it withstands: python benchmarks/bench_serve.py
[--requests 500] [--streams 4000] [--stress]

Starts the loopback fake Ollama of the tests (in this process) and a real `taskprof serve` process
in front of it.

Latency: streaming /api/chat requests in pairs, one straight to the fake, one through serve (the same
messages, the real model's name direct), alternating, over one keep-alive connection each; per pair
the difference in time to the first chunk (TTFT) and to the end. Kinds through serve: a real model
(passed through), a pinned profile (taskprof/programming:fast), and taskprof/auto on a one-line
task, on a long paste (~20 KB of code and an instruction) and on a 30-turn conversation. Every auto
text is new (a case number in it), so no cached prediction hides the classifier's cost; the
conversation's earlier turns repeat, as they do when a real chat grows a turn per request.

Streams: N streamed chats, 64 at a time, over several models and names; each answer must come whole,
from the model its name resolves to, in order (none lost, none mixed).

--stress: 16 concurrent 30 MB bodies (answered or 503; serve's peak RSS), 6 small chats while a
20,000-letter word is routed (time; peak RSS), and 1,500 stalled connections against a serve whose
soft file limit is 1,024 (a real client's latency among them; how long until they are all closed).
Writes benchmarks/RESULTS-serve.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import string
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
REAL = "qwen2.5-coder:7b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def one(client: httpx.Client, url: str, model: str, messages: list[dict]) -> tuple[float, float]:
    """(seconds to the first chunk, seconds to the end) of one streaming chat."""
    start = time.perf_counter()
    with client.stream("POST", url + "/api/chat", json={"model": model, "messages": messages}) as response:
        response.raise_for_status()
        first = None
        for _ in response.iter_lines():
            if first is None:
                first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def paste(i: int) -> str:
    code = "\n".join(f"def step_{n}(rows):\n    return [r * {n} for r in rows if r]\n" for n in range(300))
    return f"{code[:20_000]}\n\nwhy does step_7 return an empty list for these rows? (case {i})"


def thirty_turns(i: int) -> list[dict]:
    messages = []
    for n in range(30):
        text = f"{TASKS[0]}, variant {n}" if n < 29 else f"now make it accept timezones too (case {i})"
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": f"def parse_{n}(s): ..."}]
    return messages[:-1]


def message_sets(i: int) -> dict[str, tuple[str, list[dict]]]:
    line = [{"role": "user", "content": f"{TASKS[i % 3]} (case {i})"}]
    return {"real model (passed through)": (REAL, line),
            "taskprof/programming:fast (pinned)": ("taskprof/programming:fast", line),
            "taskprof/auto, one-line task": ("taskprof/auto", line),
            "taskprof/auto, ~20 KB paste": ("taskprof/auto", [{"role": "user", "content": paste(i)}]),
            "taskprof/auto, 30-turn conversation": ("taskprof/auto", thirty_turns(i))}


class Serve:
    def __init__(self, fake_host: str, home: Path, nofile: tuple[int, int] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TASKPROF_HOME": str(home), "TASKPROF_MEMORY": "128GB"}

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        started = time.perf_counter()
        self.proc = subprocess.Popen([TASKPROF, "serve", "--listen", f"127.0.0.1:{self.port}", "--host", fake_host],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=limits if nofile else None)
        while True:
            try:
                httpx.get(self.url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                if self.proc.poll() is not None or time.perf_counter() - started > 60:
                    raise SystemExit("serve did not start") from None
                time.sleep(0.05)
        self.startup = time.perf_counter() - started

    def kb(self, key: str) -> int:
        return status_kb(self.proc.pid, key)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def latency(fake, serve: Serve, requests: int) -> dict[str, tuple[list[float], list[float]]]:
    kinds = list(message_sets(0))
    results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in kinds}
    with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as through:
        for i in range(20):  # warm-up: connections, caches, the classifier's first calls
            for model, messages in message_sets(-1 - i).values():
                one(direct, fake.host, REAL, messages)
                one(through, serve.url, model, messages)
        for i in range(requests):  # the kinds take turns: a change of load falls on all alike
            for kind, (model, messages) in message_sets(i).items():
                d_first, d_total = one(direct, fake.host, REAL, messages)
                s_first, s_total = one(through, serve.url, model, messages)
                results[kind][0].append(s_first - d_first)
                results[kind][1].append(s_total - d_total)
    return results


async def streams(url: str, count: int, expected: dict[str, str], reply: str) -> tuple[int, int, float]:
    """(answered whole and right, wrong or lost, seconds) for `count` streamed chats, 64 at a time."""
    names = list(expected)
    ok = bad = 0
    gate = asyncio.Semaphore(64)

    async def chat(client: httpx.AsyncClient, i: int) -> bool | str:
        async with gate:
            started = time.perf_counter()
            try:
                return await _chat(client, i)
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s"

    async def _chat(client: httpx.AsyncClient, i: int) -> bool | str:
        name = names[i % len(names)]
        model = expected[name]
        async with client.stream("POST", url + "/api/chat", json={
                "model": name, "messages": [{"role": "user", "content": f"{TASKS[0]} (stream {i})"}]}) as response:
            if response.status_code != 200:
                return f"HTTP {response.status_code}: {(await response.aread())[:120]!r}"
            text, done = "", False
            async for line in response.aiter_lines():
                part = json.loads(line)
                if part.get("model") != model or "error" in part:
                    return f"{name}: {str(part)[:160]}"
                text += part["message"]["content"]
                done = part.get("done", False)
        return True if done and text == f"[{model}] {reply}" else f"{name}: incomplete {text[:80]!r}"

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        results = await asyncio.gather(*(chat(client, i) for i in range(count)), return_exceptions=True)
    reasons: dict[str, int] = {}
    for r in results:
        if r is True:
            ok += 1
        else:
            bad += 1
            cause = r.__cause__ or r.__context__ if isinstance(r, BaseException) else None
            why = r if isinstance(r, str) else f"{type(r).__name__}: {r} ({type(cause).__name__}: {cause})"
            reasons[why[:100]] = reasons.get(why[:100], 0) + 1
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n} x {why}", file=sys.stderr)
    return ok, bad, time.perf_counter() - started


def stress(fake, home: Path) -> list[str]:
    out = []
    # 16 concurrent 30 MB bodies.
    serve = Serve(fake.host, home)
    try:
        body = json.dumps({"model": "taskprof/auto", "stream": False, "messages": [
            {"role": "user", "content": "summarise this: " + "lorem ipsum " * ((30 << 20) // 12)}]}).encode()
        body = body[: (30 << 20) - 64]
        body = body[: body.rfind(b"lorem")] + b'"}], "stream": false}'

        async def big() -> list[int]:
            async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=32)) as client:
                return [r.status_code for r in await asyncio.gather(
                    *(client.post(serve.url + "/api/chat", content=body) for _ in range(16)))]

        started = time.perf_counter()
        statuses = asyncio.run(big())
        took = time.perf_counter() - started
        out.append(f"- 16 concurrent {len(body) / (1 << 20):.1f} MB bodies: {statuses.count(200)} answered 200, "
                   f"{statuses.count(503)} 503 with Retry-After, {16 - statuses.count(200) - statuses.count(503)} "
                   f"other; {took:.1f} s in all; serve's peak RSS {serve.kb('VmHWM') / 1024:.0f} MB "
                   f"(limit 600).")
    finally:
        serve.stop()
    # 6 small chats while a 20,000-letter word is routed.
    serve = Serve(fake.host, home)
    try:
        rng = random.Random(3)
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(20_000))

        async def mixed() -> tuple[list[float], float]:
            async with httpx.AsyncClient(timeout=30) as client:
                async def timed(content: str) -> float:
                    t = time.perf_counter()
                    r = await client.post(serve.url + "/api/chat", json={
                        "model": "taskprof/auto", "stream": False, "messages": [{"role": "user", "content": content}]})
                    assert r.status_code == 200, r.text
                    return time.perf_counter() - t
                times = await asyncio.gather(timed(f"review {word} " * 3),
                                             *(timed(f"{TASKS[0]} #{i}") for i in range(6)))
                return list(times[1:]), times[0]

        runs = [asyncio.run(mixed()) for _ in range(5)]
        smalls = [max(small) for small, _ in runs]
        out.append(f"- 6 small chats in parallel with one carrying a 20,000-letter word (3 times over), 5 runs: "
                   f"slowest small chat median {statistics.median(smalls) * 1000:.0f} ms (max "
                   f"{max(smalls) * 1000:.0f} ms; limit 3 s), the word's chat median "
                   f"{statistics.median(b for _, b in runs) * 1000:.0f} ms; peak RSS {serve.kb('VmHWM') / 1024:.0f} MB "
                   f"(limit 400).")
    finally:
        serve.stop()
    # 1,500 stalled connections, serve's soft file limit 1,024 (it raises it to the hard 4,096).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    serve = Serve(fake.host, home, nofile=(1024, 4096))
    conns = []
    try:
        started = time.perf_counter()
        for i in range(1500):
            s = socket.create_connection(("127.0.0.1", serve.port))
            if i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            conns.append(s)
        t = time.perf_counter()
        status = httpx.get(serve.url + "/api/tags", timeout=10).status_code
        client_ms = (time.perf_counter() - t) * 1000
        open_fds = len(os.listdir(f"/proc/{serve.proc.pid}/fd"))
        for s in conns:
            s.setblocking(False)
        pending = set(range(len(conns)))
        while pending and time.perf_counter() - started < 60:
            for i in list(pending):
                try:
                    if conns[i].recv(1) == b"":
                        pending.discard(i)
                except BlockingIOError:
                    pass
                except OSError:
                    pending.discard(i)
            time.sleep(0.05)
        closed_s = time.perf_counter() - started
        out.append(f"- 1,500 stalled connections (half silent, half with unfinished headers; serve's soft file "
                   f"limit 1,024, raised to 4,096 at start; {open_fds} descriptors open in serve at the peak): a real "
                   f"client answered {status} in {client_ms:.0f} ms among them; {1500 - len(pending)} of 1,500 closed "
                   f"by serve {closed_s:.1f} s after the first opened (head deadline 10 s; limit 30 s).")
    finally:
        for s in conns:
            s.close()
        serve.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="pairs per kind of request")
    parser.add_argument("--streams", type=int, default=4000, help="streamed chats checked for loss and mixing")
    parser.add_argument("--stress", action="store_true", help="also the 30 MB bodies, the long word, stalled clients")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-serve.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="taskprof-serve-bench-"))
    os.environ["TASKPROF_HOME"] = str(home)
    from tests.ollama_server import _running
    from tests.test_ollama import write_profile

    write_profile(home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    write_profile(home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b")
    write_profile(home, "writing", "llama3.1:8b", "llama3.3:70b")
    with _running() as fake:
        for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b", "llama3.1:8b", "llama3.3:70b"):
            fake.install(ref)
        serve = Serve(fake.host, home)
        try:
            idle = serve.kb("VmRSS")
            results = latency(fake, serve, args.requests)
            after = serve.kb("VmRSS")
            fake.echo_model = True
            fake.reply = "one two three four five six seven eight"
            expected = {"qwen2.5-coder:7b": "qwen2.5-coder:7b", "llama3.1:8b": "llama3.1:8b",
                        "taskprof/programming:fast": "qwen2.5-coder:7b", "taskprof/writing:quality": "llama3.3:70b",
                        "taskprof/data-work": "deepseek-r1:32b", "taskprof/auto": "qwen2.5-coder:32b"}
            ok, bad, took = asyncio.run(streams(serve.url, args.streams, expected, fake.reply))
            peak = serve.kb("VmHWM")
            startup = serve.startup
        finally:
            serve.stop()
        fake.echo_model = False
        extra = stress(fake, home) if args.stress else []

    load = os.getloadavg()
    command = f"python benchmarks/bench_serve.py --requests {args.requests} --streams {args.streams}" + (
        " --stress" if args.stress else "")
    lines = [
        "# taskprof serve: overhead per request, streams, memory and load",
        "",
        f"Command: `{command}` ({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, shared machine; load average {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) at the end).",
        "",
        "Streaming `/api/chat` to the loopback fake Ollama (answers at once, 10 chunks), directly and through",
        f"a `taskprof serve` process, alternating, {args.requests} pairs per kind (the kinds taking turns) after",
        "20 warm-up rounds; the usage log on; every auto text new. Added = through serve minus direct, pair by",
        "pair; milliseconds.",
        "",
        "| request through serve | TTFT added p50 | p95 | whole answer added p50 | p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, (ttft, total) in results.items():
        ms = [1000 * pct(ttft, 50), 1000 * pct(ttft, 95), 1000 * pct(total, 50), 1000 * pct(total, 95)]
        lines.append(f"| {kind} | " + " | ".join(f"{v:.2f}" for v in ms) + " |")
    lines += [
        "",
        f"Streams: {args.streams} streamed chats, 64 at a time, over {len(expected)} names (real, pinned, auto): "
        f"{ok} whole and from the right model, {bad} lost or mixed; {took:.1f} s.",
        "",
        f"Memory of the serve process: {idle / 1024:.0f} MB resident when ready, {after / 1024:.0f} MB after the "
        f"latency pairs, peak {peak / 1024:.0f} MB after the streams. Start-up (process start to the first answer "
        f"on `/`, classifier loaded): {startup:.2f} s.",
        "",
    ]
    if extra:
        lines += ["## Under load (--stress)", "", *extra, ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
