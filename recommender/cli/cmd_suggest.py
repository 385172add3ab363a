"""`taskprof suggest`: a task description in, the right profile and models out."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from recommender import classifier as clf_mod
from recommender.cli import install_flow
from recommender.cli.app import cli
from recommender.cli.common import (
    INSTALL_TIERS,
    host_option,
    json_option,
    memory_option,
    no_log_option,
    note,
    read_stdin_text,
    session,
    show_warnings,
    task_text,
    warn,
    yes_option,
)
from recommender.cli.render import echo_json, gb, style
from recommender.errors import InputError, TaskprofError

BATCH_CHUNK = 1024


def speeds(profile, measured: dict) -> dict[str, dict[str, Any]]:
    """Per tier: the design's seconds-per-answer range and, once `taskprof bench` ran, the measured one."""
    from recommender import hardware

    out = {}
    for m in profile.models:
        bench = measured.get(m.ref)
        out[m.tier] = {
            "expected_seconds": list(hardware.expected_seconds(m)),
            "measured_seconds": round(bench.seconds_per_response, 2) if bench and bench.seconds_per_response else None,
        }
    return out


def decision_json(d, catalogue, measured: dict) -> dict[str, Any]:
    profile = catalogue.get_profile(d.chosen_profile)
    speed = speeds(profile, measured)
    return {
        "id": d.id,
        "text": d.text,
        "profile": d.profile,
        "confidence": round(d.confidence, 4),
        "alternatives": [{"profile": a.profile, "confidence": round(a.confidence, 4)} for a in d.alternatives],
        "abstained": d.abstained,
        "fallback_profile": d.fallback_profile,
        "models": {
            m.tier: {"name": m.ref, "purpose": m.purpose, "size_gb": m.size_gb, **speed[m.tier]}
            for m in profile.models
        },
        "recommended_tier": d.recommended_tier,
        "tier_reason": d.tier_reason,
        "tier_fits": d.tier_fits,
        "similar": [{"text": x.text, "profile": x.profile, "similarity": round(x.similarity, 4)} for x in d.similar],
        "truncated": d.truncated,
        "focus": d.focus,
        "payload_kind": d.payload_kind,
        "language": d.language,
        "language_note": d.language_note,
        "encoder": d.encoder,
        "personal": d.personal,
        "history_decided": d.history_decided,
    }


def render(d, catalogue, measured: dict) -> None:
    """The suggestion on stdout; notes and hints on stderr."""
    others = ", ".join(f"{a.profile} {a.confidence:.2f}" for a in d.alternatives)
    if d.language_note:
        click.echo(style("Not read: ", fg="yellow", bold=True) + d.language_note)
        click.echo(f"Falling back to the general profile: {style(d.chosen_profile, bold=True)}")
    elif d.abstained:
        click.echo(style("No task profile fits this well.", fg="yellow", bold=True)
                   + f" Closest: {d.profile} {d.confidence:.2f}, {others}")
        click.echo(f"Falling back to the general profile: {style(d.chosen_profile, bold=True)}")
    else:
        click.echo(f"{style(d.profile, fg='green', bold=True)}  confidence {d.confidence:.2f}")
        click.echo(f"  runner-up: {others}")
        if d.history_decided:
            click.echo(f"  (a close call: your usage history chose {d.profile} over {d.alternatives[0].profile})")
    if d.focus:
        click.echo(f"  read from the request: \"{_short(d.focus)}\""
                   + (f" (pasted {d.payload_kind} around it)" if d.payload_kind else ""))
    profile = catalogue.get_profile(d.chosen_profile)
    click.echo()
    speed = speeds(profile, measured)
    for model in profile.models:
        mark = style("  <- start here", fg="cyan") if model.tier == d.recommended_tier else ""
        sp = speed[model.tier]
        pace = (f"{sp['measured_seconds']:.1f} s/answer measured" if sp["measured_seconds"] is not None
                else "~{}-{} s/answer expected".format(*sp["expected_seconds"]))
        click.echo(f"  {model.tier:<8} {style(model.ref, bold=True)} ({gb(model.size_gb)}, {pace}){mark}")
        click.echo(f"           {model.purpose}")
    click.echo()
    if d.tier_fits:
        click.echo(f"Start with the {d.recommended_tier} model: {d.tier_reason}")
    else:
        click.echo(style("Neither tier fits this machine well: ", fg="yellow") + d.tier_reason)
    if d.tier_hint:
        click.echo(f"  {d.tier_hint}")
    if d.similar and not d.abstained:
        click.echo("Similar to: " + "; ".join(f'"{x.text}"' for x in d.similar))
    if d.truncated:
        note(style(f"Note: the text is longer than the encoder reads: only its first {_max_tokens()} tokens were used",
                   dim=True))
    if d.personal:
        note(style("Note: classified with your personal model (taskprof train --reset goes back to the shipped one)",
                   dim=True))
    fix = f"taskprof correct --id {d.id} PROFILE" if d.id is not None else "taskprof correct --text \"...\" PROFILE"
    note(style(f"Install: taskprof install {d.chosen_profile}    Wrong profile? {fix}", dim=True))


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _max_tokens() -> int:
    from recommender.encoder import MAX_TOKENS

    return MAX_TOKENS


@cli.command("suggest")
@click.argument("text", nargs=-1)
@json_option
@click.option("--batch", is_flag=True, help="Classify one task per stdin line; print one JSON object per line.")
@click.option("--encoder", type=click.Choice(clf_mod.ENCODERS), default="static", show_default=True,
              help="'full' runs the original sentence-transformer (needs the train extra): the accuracy reference.")
@memory_option
@click.option("--install", "do_install", is_flag=True, help="Install the suggested profile's models through Ollama.")
@click.option("--tier", type=INSTALL_TIERS, help="With --install: which tier(s) to pull (default: what fits).")
@yes_option
@click.option("--dry-run", is_flag=True, help="With --install: show the plan, download nothing.")
@host_option
@no_log_option
def suggest_cmd(text, as_json, batch, encoder, memory, do_install, tier, yes, dry_run, host, no_log) -> None:
    """Suggest the profile for a task described in plain words.

    The text comes from the arguments, or from standard input when piped. With no text at all,
    shows the profiles you use most. Every logged suggestion gets an id for `taskprof correct --id`.

    \b
    Examples:
      taskprof suggest "review this contract"
      taskprof suggest --json "write a SQL query for monthly revenue"
      echo "design a rate limiter" | taskprof suggest
      taskprof suggest --batch < tasks.txt > suggestions.jsonl
      taskprof suggest --install --tier fast "refactor this python class"
    """
    if not do_install and (tier or yes or dry_run):
        raise click.UsageError("--tier, --yes and --dry-run go with --install")
    core = session(host=host, memory=memory, no_log=no_log, encoder=encoder)
    if batch:
        if text or do_install:
            raise click.UsageError("--batch reads tasks from standard input; it takes no TEXT and no --install")
        run_batch(core)
        return
    joined = task_text(text)
    if not text and not joined.strip():
        show_history(core, as_json)
        return
    from recommender import service, usage

    decision = core.decide(joined)
    # Logged before anything is printed: a reader that hangs up (| head) must not lose the event.
    decision = service.with_id(decision, core.record(
        "suggest", profile=decision.chosen_profile, tier=decision.recommended_tier,
        confidence=decision.confidence, abstained=decision.abstained, text=decision.read_text))
    measured = usage.latest_bench()
    if as_json:
        echo_json(decision_json(decision, core.catalogue, measured))
    else:
        render(decision, core.catalogue, measured)
    show_warnings(core)
    if do_install:
        outcome = install_flow.run_install(core, [decision.chosen_profile], tier or "fit", yes=yes, dry_run=dry_run)
        if outcome is not None:
            install_flow.summary(outcome, err=True)
            show_warnings(core)
            if not outcome.ok:
                raise click.exceptions.Exit(1)
    elif decision.id is not None:
        _auto_install(core, decision)


def _auto_install(core, decision) -> None:
    """`config set auto_install true`: pull the missing tier of a profile suggested often enough.
    Everything it says goes to stderr, and nothing it meets changes suggest's exit code."""
    due = core.auto_install_due(decision)
    if due is None:
        show_warnings(core)
        return
    name, tier = due
    note(f"\nauto-install is on and '{name}' has been suggested often enough: installing its {tier} tier.")
    try:
        outcome = install_flow.run_install(core, [name], tier, yes=True, dry_run=False)
        if outcome is not None:
            install_flow.summary(outcome, err=True)
    except TaskprofError as exc:
        warn(f"auto-install failed: {exc}")
    show_warnings(core)


def show_history(core, as_json: bool) -> None:
    """No text: the profiles this user relies on most, which tiers are installed, how to install the rest."""
    from recommender import usage

    top = usage.top_profiles(limit=5)
    if not top and not as_json:
        raise InputError('no task given: describe it, e.g. taskprof suggest "review this contract"')
    state = core.installed_state(quick=True) if top else None
    tiers = {u.profile: state.tiers(u.profile) if state else None for u in top}
    missing = [name for name, t in tiers.items() if t == "no"]
    if as_json:
        echo_json({"profiles": [{"profile": u.profile, "uses": u.uses, "share": round(u.share, 4),
                                 "last_used": u.last_used, "installed": tiers[u.profile]} for u in top],
                   "install_command": f"taskprof install {' '.join(missing)}" if missing else None})
        show_warnings(core)
        return
    click.echo("No task given. The profiles you use most:")
    for u in top:
        t = tiers[u.profile]
        mark = "install state unknown" if t is None else "not installed" if t == "no" else f"installed: {t}"
        click.echo(f"  {u.profile:<24} {u.uses:>5} {'use' if u.uses == 1 else 'uses'}  "
                   f"last {u.last_used[:16].replace('T', ' ')}  {mark}")
    if missing:
        note(f"Install the missing ones: taskprof install {' '.join(missing)}")
    elif state is not None and not all(state.reachable.values()):
        note("Ollama was not reachable, so the install state is unknown. To install them: "
             f"taskprof install {' '.join(u.profile for u in top)}")
    show_warnings(core)


def run_batch(core) -> None:
    """One task a line in, one JSON object a line out. The same decide() as a single suggestion."""
    from recommender import service, usage

    lines = list(service.iter_lines(read_stdin_text()))
    measured = usage.latest_bench()
    out = sys.stdout
    for start in range(0, len(lines), BATCH_CHUNK):
        chunk = lines[start:start + BATCH_CHUNK]
        decisions = iter(core.decide_many([t for t in chunk if t]))
        for line in chunk:
            if not line:
                out.write(json.dumps({"text": "", "error": "empty line"}) + "\n")
                continue
            out.write(json.dumps(decision_json(next(decisions), core.catalogue, measured), ensure_ascii=False) + "\n")
    out.flush()
    show_warnings(core)
