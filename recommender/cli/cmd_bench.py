"""`taskprof bench`: measured speed of installed models, beside the design's expectations."""

from __future__ import annotations

import click

from recommender.cli.app import cli
from recommender.cli.cmd_usage import record_use, warn
from recommender.cli.render import echo_json, echo_warnings, style, table
from recommender.errors import InputError


@cli.command("bench")
@click.argument("targets", nargs=-1, metavar="[PROFILE|MODEL]...")
@click.option("--tier", type=click.Choice(["fast", "quality", "all"]), default="all", show_default=True,
              help="For profiles: which tier(s) to measure.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--host", metavar="URL", help="The Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434).")
def bench_cmd(targets: tuple[str, ...], tier: str, as_json: bool, host: str | None) -> None:
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
    from recommender.profiles import check_name, load_catalogue

    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    server = installer.Server(host, read_timeout=installer.CHAT_READ_TIMEOUT)
    server.version()
    have = server.installed()
    by_ref = {m.ref: (p.name, m) for p in catalogue.values() for m in p.models}
    # ref -> (profile, tier, B parameters), in the order asked, each model once.
    wanted: dict[str, tuple[str | None, str | None, float | None]] = {}
    for target in targets or tuple(catalogue):
        if target in catalogue:
            for m in catalogue[target].models_for(tier):
                wanted.setdefault(m.ref, (target, m.tier, m.params_b))
            continue
        ref = installer.normal_ref(target)
        if ":" not in target and ref not in have and ref not in by_ref:
            check_name(target)  # path-like names get the usual error
            raise InputError(f"'{target}' is neither a profile nor a model: try `taskprof profiles` or a tag like llama3.1:8b")
        owner, model = by_ref.get(ref, (None, None))
        wanted.setdefault(ref, (owner, model.tier if model else None,
                                model.params_b if model else bench.params_from_tag(ref)))
    skipped = [ref for ref in wanted if ref not in have]
    if targets:
        for ref in skipped:
            click.echo(f"skipped {ref}: not installed (taskprof install, or ollama pull {ref})", err=True)
    elif skipped:
        click.echo(f"skipped {len(skipped)} catalogue models that are not installed", err=True)
    runs = []
    for ref, (profile, model_tier, params) in wanted.items():
        if ref not in have:
            continue
        if not as_json:
            click.echo(f"measuring {ref} ...", err=True)
        result = bench.run(server, ref, bench.prompts_for(profile), profile=profile, tier=model_tier,
                           expected=hardware.expected_seconds_for(params) if params else None)
        runs.append(result)
        warn(usage.record_bench(
            ref, tokens_per_second=result.tokens_per_second, seconds_per_response=result.seconds_per_response,
            load_seconds=result.load_seconds, ttft_seconds=result.ttft_seconds,
            prompt_tokens_per_second=result.prompt_tokens_per_second,
        ))
        record_use("bench", profile=profile, tier=model_tier, model=ref)
    if as_json:
        echo_json({
            "host": server.host,
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
        return
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
    click.echo(style("Stored: `taskprof status` and `taskprof suggest` now show these speeds.", dim=True))
