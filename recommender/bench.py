"""How fast installed models really are here, read from Ollama's own timings.

Each model answers a small fixed set of prompts typical of its profile through the streaming chat
endpoint. Ollama's final chunk carries load, prompt and generation durations (nanoseconds) and
token counts; time to first token is the wall clock from request to the first streamed piece.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from recommender import hardware, history, ollama_client, usage
from recommender.errors import InputError
from recommender.ollama_client import Server
from recommender.profiles import check_name, params_from_ref
from recommender.results import BenchReport, BenchRun, BenchTarget
from recommender.session import Session
from recommender.types import Tier, TierSelection

NS = 1e9

# Two short prompts a profile: enough to see load and warm speed, small enough for a 70B model.
PROMPTS: dict[str, tuple[str, ...]] = {
    "programming": (
        "Write a Python function that returns the n-th Fibonacci number iteratively, with a docstring.",
        "Explain this error in two sentences: TypeError: 'NoneType' object is not subscriptable.",
    ),
    "systems-architecture": (
        "Outline the components of a URL shortener that serves 10,000 redirects per second.",
        "When should a small team choose a modular monolith over microservices? Five bullet points.",
    ),
    "research": (
        "Summarise what is known about the effect of sleep on memory consolidation, in one paragraph.",
        "List three open questions in battery chemistry research and why each matters.",
    ),
    "writing": (
        "Write a four-line poem about the first frost of autumn.",
        "Rewrite this sentence to be warmer: 'Your request has been denied due to policy.'",
    ),
    "data-work": (
        "Write a SQL query for monthly revenue per customer from orders(customer_id, amount, created_at).",
        "In pandas, how do I fill missing values in a column with that group's median?",
    ),
    "skills-building": (
        "Write a system prompt for an assistant that reviews pull requests politely and briefly.",
        "Make a five-day study plan for learning the basics of SQL, one line a day.",
    ),
    "brainstorming": (
        "Give me ten names for a bakery that sells only sourdough.",
        "List eight ways a library could attract teenagers.",
    ),
    "document-intelligence": (
        "From this clause, list the parties and the notice period: 'Either Party may terminate this "
        "Agreement by giving the other Party sixty (60) days written notice.'",
        "Summarise in two bullets: 'Revenue rose 12% to $4.1M; costs rose 20%, so margin fell to 18%.'",
    ),
    "business-research": (
        "What are the main revenue streams of a typical B2B SaaS company? Keep it short.",
        "Name four risks for a new coffee chain entering a saturated city market.",
    ),
}
GENERAL_PROMPTS = (
    "In one paragraph, explain why the sky is blue.",
    "Give three tips for writing clear emails.",
)


def prompts_for(profile: str | None) -> tuple[str, ...]:
    return PROMPTS.get(profile or "", GENERAL_PROMPTS)


# The catalogue's parser: one reading of "8b", "1.5b", "8x7b" for profiles and benchmarks alike.
params_from_tag = params_from_ref


def run(server: Server, ref: str, prompts: tuple[str, ...], *, profile: str | None = None,
        tier: Tier | None = None, expected: tuple[int, int] | None = None) -> BenchRun:
    """Ask `ref` every prompt; the first answer's load time is the cold load."""
    load = ttft_total = 0.0
    eval_count = eval_ns = prompt_count = prompt_ns = 0
    response_seconds: list[float] = []
    for i, prompt in enumerate(prompts):
        started = time.monotonic()
        first = None
        final = None
        for chunk in server.chat(ref, prompt):
            if first is None and chunk.message and chunk.message.content:
                first = time.monotonic() - started
            final = chunk
        wall = time.monotonic() - started
        ttft_total += first if first is not None else wall
        if final is None:
            continue
        load_ns = final.load_duration or 0
        if i == 0:
            load = load_ns / NS
        eval_count += final.eval_count or 0
        eval_ns += final.eval_duration or 0
        prompt_count += final.prompt_eval_count or 0
        prompt_ns += final.prompt_eval_duration or 0
        total_ns = final.total_duration or int(wall * NS)
        # A response's own time, without loading the model into memory (reported apart).
        response_seconds.append((total_ns - load_ns) / NS)
    n = len(prompts)
    return BenchRun(
        model=ref,
        profile=profile,
        tier=tier,
        responses=n,
        load_seconds=round(load, 3),
        ttft_seconds=round(ttft_total / n, 3),
        prompt_tokens_per_second=round(prompt_count / prompt_ns * NS, 2) if prompt_ns else None,
        tokens_per_second=round(eval_count / eval_ns * NS, 2) if eval_ns else None,
        seconds_per_response=round(sum(response_seconds) / max(len(response_seconds), 1), 3),
        expected_seconds=expected,
    )


def targets(session: Session, names: Iterable[str], tier: TierSelection = "all") -> tuple[list[BenchTarget], list[str]]:
    """What to measure: profiles' models of a tier, or models named by tag, each once, on the server of
    its tier. Returns (installed targets, skipped refs)."""
    names = list(names) or list(session.catalogue)
    wanted: dict[str, BenchTarget] = {}
    catalogue = session.catalogue
    for target in names:
        if target in catalogue:
            for m in catalogue[target].models_for(tier):
                wanted.setdefault(m.ref, BenchTarget(m.ref, session.host(m.tier), target, m.tier, m.params_b))
            continue
        ref = ollama_client.normal_ref(target)
        # A model named directly: it answers the prompts of the first profile that has it, as that
        # profile's tier — a pair that belongs together, not one profile's name with another's tier.
        owner = next(((p, m) for p in catalogue.values() for m in p.models if m.ref == ref), None)
        if owner is None and ":" not in target:
            check_name(target)  # path-like names get the usual error
            if ref not in session.listing(session.host("fast")):
                raise InputError(f"'{target}' is neither a profile nor a model: try `taskprof profiles` "
                                 "or a tag like llama3.1:8b")
        if owner:
            p, m = owner
            wanted.setdefault(ref, BenchTarget(ref, session.host(m.tier), p.name, m.tier, m.params_b))
        else:
            wanted.setdefault(ref, BenchTarget(ref, session.host("fast"), None, None, params_from_tag(ref)))
    present = [t for t in wanted.values() if t.ref in session.listing(t.host)]
    skipped = [t.ref for t in wanted.values() if t.ref not in session.listing(t.host)]
    return present, skipped


def measure(session: Session, names: Iterable[str] = (), tier: TierSelection = "all",
            progress: Callable[[BenchTarget], None] | None = None) -> BenchReport:
    """Measure every installed target and keep the figures in the usage database (unless logging is
    off), so `status` and `suggest` show measured seconds per answer instead of the estimate."""
    for host in session.hosts:
        session.server(host).version()  # one clear "not reachable" before any work
    present, skipped = targets(session, names, tier)
    runs = []
    for t in present:
        if progress is not None:
            progress(t)
        result = run(session.chat_server(t.host), t.ref, prompts_for(t.profile), profile=t.profile, tier=t.tier,
                     expected=hardware.expected_seconds_for(t.params_b) if t.params_b else None)
        runs.append(result)
        if session.logging_on():
            session.warn(usage.record_bench(
                t.ref, tokens_per_second=result.tokens_per_second, seconds_per_response=result.seconds_per_response,
                load_seconds=result.load_seconds, ttft_seconds=result.ttft_seconds,
                prompt_tokens_per_second=result.prompt_tokens_per_second,
            ))
        history.record(session, "bench", profile=t.profile, tier=t.tier, model=t.ref)
    return BenchReport(session.hosts, tuple(skipped), tuple(runs))
