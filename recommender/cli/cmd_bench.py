"""`taskprof bench`: measured speed of installed models, beside the design's expectations."""

from __future__ import annotations

import click

from recommender.cli.app import TaskprofCommand
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
from recommender.types import TierSelection


@click.command("bench", cls=TaskprofCommand)
@click.argument("targets", nargs=-1, metavar="[PROFILE|MODEL]...")
@click.option("--tier", type=TIERS, default="all", show_default=True, help="For profiles: which tier(s) to measure.")
@json_option
@host_option
@no_log_option
def bench_cmd(targets: tuple[str, ...], tier: TierSelection, as_json: bool, host: str | None, no_log: bool) -> None:
    """Measure installed models with prompts typical of their profile, using Ollama's own timings.

    With no arguments, every installed model of every profile. Results are kept in the usage
    database, so `status` and `suggest` show measured seconds per answer instead of the estimate.

    \b
    Examples:
      taskprof bench programming --tier fast
      taskprof bench llama3.1:8b --json
      taskprof bench
    """
    core = session(host=host, no_log=no_log)
    report = core.bench(targets, tier, progress=lambda t: note(f"measuring {t.ref} ..."))
    if targets:
        for ref in report.skipped:
            note(f"skipped {ref}: not installed (taskprof install, or ollama pull {ref})")
    elif report.skipped:
        note(f"skipped {len(report.skipped)} catalogue models that are not installed")
    runs = report.runs
    if as_json:
        echo_json(report.to_json())
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
