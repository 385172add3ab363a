"""`taskprof bench`: measured speed of installed models, beside the design's expectations."""

from __future__ import annotations

import click

from recommender.cli.app import cli
from recommender.cli.common import (
    TIERS,
    host_option,
    json_option,
    no_log_option,
    note,
    session,
    show_warnings,
)
from recommender.cli.render import echo_json, style, table


@cli.command("bench")
@click.argument("targets", nargs=-1, metavar="[PROFILE|MODEL]...")
@click.option("--tier", type=TIERS, default="all", show_default=True, help="For profiles: which tier(s) to measure.")
@json_option
@host_option
@no_log_option
def bench_cmd(targets: tuple[str, ...], tier: str, as_json: bool, host: str | None, no_log: bool) -> None:
    """Measure installed models with prompts typical of their profile, using Ollama's own timings.

    With no arguments, every installed model of every profile. Results are kept in the usage
    database, so `status` and `suggest` show measured seconds per answer instead of the estimate.

    \b
    Examples:
      taskprof bench programming --tier fast
      taskprof bench llama3.1:8b --json
      taskprof bench
    """
    from recommender import bench, hardware, installer, usage

    core = session(host=host, no_log=no_log)
    for h in core.hosts:
        core.server(h).version()
    present, skipped = core.bench_targets(targets, tier)
    if targets:
        for ref in skipped:
            note(f"skipped {ref}: not installed (taskprof install, or ollama pull {ref})")
    elif skipped:
        note(f"skipped {len(skipped)} catalogue models that are not installed")
    runs = []
    for t in present:
        note(f"measuring {t.ref} ...")
        server = core.server(t.host, read_timeout=installer.CHAT_READ_TIMEOUT)
        result = bench.run(server, t.ref, bench.prompts_for(t.profile), profile=t.profile, tier=t.tier,
                           expected=hardware.expected_seconds_for(t.params_b) if t.params_b else None)
        runs.append(result)
        if core.logging_on():
            core.warn(usage.record_bench(
                t.ref, tokens_per_second=result.tokens_per_second, seconds_per_response=result.seconds_per_response,
                load_seconds=result.load_seconds, ttft_seconds=result.ttft_seconds,
                prompt_tokens_per_second=result.prompt_tokens_per_second,
            ))
        core.record("bench", profile=t.profile, tier=t.tier, model=t.ref)
    if as_json:
        echo_json({
            "hosts": list(core.hosts),
            "skipped": skipped,
            "models": [{
                "model": r.model, "profile": r.profile, "tier": r.tier, "responses": r.responses,
                "tokens_per_second": r.tokens_per_second, "prompt_tokens_per_second": r.prompt_tokens_per_second,
                "seconds_per_response": r.seconds_per_response, "load_seconds": r.load_seconds,
                "ttft_seconds": r.ttft_seconds,
                "expected_seconds": list(r.expected_seconds) if r.expected_seconds else None,
                "verdict": r.verdict,
            } for r in runs],
        })
        show_warnings(core)
        return
    show_warnings(core)
    if not runs:
        click.echo("No installed model to measure. Install one first: taskprof install PROFILE --tier fast")
        return
    rows = [[
        r.model, r.profile or "-", f"{r.load_seconds:.1f}", f"{r.ttft_seconds:.2f}",
        f"{r.prompt_tokens_per_second:.0f}" if r.prompt_tokens_per_second else "-",
        f"{r.tokens_per_second:.1f}" if r.tokens_per_second else "-",
        f"{r.seconds_per_response:.1f}",
        f"{r.expected_seconds[0]}-{r.expected_seconds[1]}" if r.expected_seconds else "?",
        r.verdict,
    ] for r in runs]
    click.echo(table(["model", "profile", "load s", "first token s", "prompt tok/s", "tok/s", "s/answer",
                      "expected s", "verdict"], rows, right=(2, 3, 4, 5, 6, 7)))
    note(style("Stored: `taskprof status` and `taskprof suggest` now show these speeds.", dim=True))
