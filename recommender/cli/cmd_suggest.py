"""`taskprof suggest`: a task description in, the right profile and models out."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from recommender import classifier as clf_mod
from recommender.cli.app import cli
from recommender.cli.render import echo_json, echo_warnings, gb, style
from recommender.errors import InputError, TaskprofError

BATCH_CHUNK = 1024


def read_stdin_text() -> str:
    """All of stdin as text; undecodable bytes are a one-line error, not a traceback."""
    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def task_text(words: tuple[str, ...]) -> str:
    """The task from the arguments, else from piped standard input; "" when there is neither."""
    if words:
        return " ".join(words)
    return "" if sys.stdin.isatty() else read_stdin_text()


def speeds(profile, measured: dict | None = None) -> dict[str, dict[str, Any]]:
    """Per tier: the design's seconds-per-answer range and, once `taskprof bench` ran, the measured one."""
    from recommender import hardware, usage

    if measured is None:
        measured = usage.latest_bench([m.ref for m in profile.models])
    out = {}
    for m in profile.models:
        bench = measured.get(m.ref)
        out[m.tier] = {
            "expected_seconds": list(hardware.expected_seconds(m)),
            "measured_seconds": round(bench.seconds_per_response, 2) if bench and bench.seconds_per_response else None,
        }
    return out


def suggestion_json(s: clf_mod.Suggestion, catalogue, measured: dict | None = None) -> dict[str, Any]:
    profile = catalogue.get_profile(s.chosen_profile)
    speed = speeds(profile, measured)
    return {
        "text": s.text,
        "profile": s.profile,
        "confidence": round(s.confidence, 4),
        "alternatives": [{"profile": a.profile, "confidence": round(a.confidence, 4)} for a in s.alternatives],
        "abstained": s.abstained,
        "fallback_profile": s.fallback_profile,
        "models": {
            m.tier: {"name": m.ref, "purpose": m.purpose, "size_gb": m.size_gb, **speed[m.tier]}
            for m in profile.models
        },
        "recommended_tier": s.recommended_tier,
        "tier_reason": s.tier_reason,
        "similar": [{"text": x.text, "profile": x.profile, "similarity": round(x.similarity, 4)} for x in s.similar],
        "truncated": s.truncated,
        "encoder": s.encoder,
        "personal": s.personal,
        "history_decided": s.history_decided,
    }


def render(s: clf_mod.Suggestion, catalogue) -> None:
    others = ", ".join(f"{a.profile} {a.confidence:.2f}" for a in s.alternatives)
    if s.abstained:
        click.echo(style("No task profile fits this well.", fg="yellow", bold=True)
                   + f" Closest: {s.profile} {s.confidence:.2f}, {others}")
        click.echo(f"Falling back to the general profile: {style(s.chosen_profile, bold=True)}")
    else:
        click.echo(f"{style(s.profile, fg='green', bold=True)}  confidence {s.confidence:.2f}")
        click.echo(f"  runner-up: {others}")
        if s.history_decided:
            click.echo(f"  (a close call: your usage history chose {s.profile} over {s.alternatives[0].profile})")
    profile = catalogue.get_profile(s.chosen_profile)
    click.echo()
    speed = speeds(profile)
    for model in profile.models:
        mark = style("  <- start here", fg="cyan") if model.tier == s.recommended_tier else ""
        sp = speed[model.tier]
        pace = (f"{sp['measured_seconds']:.1f} s/answer measured" if sp["measured_seconds"] is not None
                else "~{}-{} s/answer expected".format(*sp["expected_seconds"]))
        click.echo(f"  {model.tier:<8} {style(model.ref, bold=True)} ({gb(model.size_gb)}, {pace}){mark}")
        click.echo(f"           {model.purpose}")
    click.echo()
    click.echo(f"Start with the {s.recommended_tier} model: {s.tier_reason}")
    if s.tier_hint:
        click.echo(f"  {s.tier_hint}")
    if s.similar and not s.abstained:
        click.echo("Similar to: " + "; ".join(f'"{x.text}"' for x in s.similar))
    notes = []
    if s.truncated:
        notes.append(f"the text is longer than the encoder reads: only its first {clf_mod_max_tokens()} tokens were used")
    if s.personal:
        notes.append("classified with your personal model (taskprof train --reset goes back to the shipped one)")
    for note in notes:
        click.echo(style(f"Note: {note}", dim=True))
    click.echo(style(f"Install: taskprof install {s.chosen_profile}    Wrong profile? taskprof correct PROFILE", dim=True))


def clf_mod_max_tokens() -> int:
    from recommender.encoder import MAX_TOKENS

    return MAX_TOKENS


@cli.command("suggest")
@click.argument("text", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--batch", is_flag=True, help="Classify one task per stdin line; print one JSON object per line.")
@click.option("--encoder", type=click.Choice(clf_mod.ENCODERS), default="static", show_default=True,
              help="'full' runs the original sentence-transformer (needs the train extra): the accuracy reference.")
@click.option("--memory", metavar="SIZE", help="Pretend this machine has SIZE of memory, e.g. 64GB (also TASKPROF_MEMORY).")
@click.option("--install", "do_install", is_flag=True, help="Install the suggested profile's models through Ollama.")
@click.option("--tier", type=click.Choice(["fast", "quality", "all"]), default="all", show_default=True,
              help="With --install: which tier(s) to pull.")
@click.option("--yes", "-y", is_flag=True, help="With --install: do not ask before downloading.")
@click.option("--dry-run", is_flag=True, help="With --install: show the plan, download nothing.")
@click.option("--host", metavar="URL", help="With --install: the Ollama server (default: OLLAMA_HOST or 127.0.0.1:11434).")
@click.option("--no-log", is_flag=True, help="Do not record this suggestion in the usage log.")
def suggest_cmd(text, as_json, batch, encoder, memory, do_install, tier, yes, dry_run, host, no_log) -> None:
    """Suggest the profile for a task described in plain words.

    The text comes from the arguments, or from standard input when piped. With no text at all,
    shows the profiles you use most.

    \b
    Examples:
      taskprof suggest "review this contract"
      taskprof suggest --json "write a SQL query for monthly revenue"
      echo "design a rate limiter" | taskprof suggest
      taskprof suggest --batch < tasks.txt > suggestions.jsonl
      taskprof suggest --install --tier fast "refactor this python class"
    """
    if batch:
        if text or do_install:
            raise click.UsageError("--batch reads tasks from standard input; it takes no TEXT and no --install")
        run_batch(encoder, memory)
        return
    joined = task_text(text)
    if not text and not joined.strip():
        show_history(as_json, host)
        return

    from recommender import hardware
    from recommender.profiles import load_catalogue

    clean = clf_mod.clean_text(joined)
    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    model = clf_mod.load(encoder)
    prediction = model.predict([clean])[0]
    history_choice = None
    if clf_mod.is_torn(prediction):
        history_choice = clf_mod.break_tie(prediction, _history())
    chosen = history_choice or (clf_mod.FALLBACK_PROFILE if prediction.abstained else prediction.profile)
    choice = hardware.recommend_tier(catalogue.get_profile(chosen), hardware.detect(memory))
    suggestion = clf_mod.to_suggestion(
        prediction, classifier=model, tier=(choice.tier, choice.reason, choice.hint), history_choice=history_choice
    )
    if as_json:
        echo_json(suggestion_json(suggestion, catalogue))
    else:
        render(suggestion, catalogue)
    if not no_log:
        _log(suggestion)
    if do_install:
        from recommender.cli.cmd_ollama import run_install

        run_install([suggestion.chosen_profile], tier, yes, dry_run, host)
    elif not no_log:
        _maybe_auto_install(suggestion, host)


def _history() -> dict[str, int]:
    from recommender import usage

    try:
        return usage.profile_counts()
    except (TaskprofError, AttributeError):
        return {}


def _log(s: clf_mod.Suggestion) -> None:
    from recommender.cli.cmd_usage import record_use

    record_use("suggest", profile=s.chosen_profile, tier=s.recommended_tier,
               confidence=s.confidence, abstained=s.abstained, text=s.text)


def _maybe_auto_install(s: clf_mod.Suggestion, host: str | None) -> None:
    """With `config set auto_install true`: install a profile suggested K times that is still missing."""
    try:
        from recommender import config, usage
    except ImportError:
        return
    try:
        settings = config.load()
        if not settings.get("auto_install") or s.abstained:
            return
        after = int(settings.get("auto_install_after", 3))
        if usage.times_suggested(s.chosen_profile) < after:
            return
    except TaskprofError as exc:
        click.echo(f"Warning: auto-install skipped: {exc}", err=True)
        return
    from recommender.cli.cmd_ollama import run_install

    click.echo(f"\nauto-install is on and '{s.chosen_profile}' has been suggested {after}+ times: installing it.")
    run_install([s.chosen_profile], settings.get("auto_install_tier", "fast"), True, False, host)


def show_history(as_json: bool, host: str | None = None) -> None:
    """No text: the profiles this user relies on most, their install state, how to install the rest."""
    from recommender import usage
    from recommender.cli.cmd_usage import installed_state

    top = usage.top_profiles(limit=5)
    if not top and not as_json:
        raise InputError('no task given: describe it, e.g. taskprof suggest "review this contract"')
    installed = installed_state(host) if top else None
    state = {u.profile: None if installed is None else installed.get(u.profile) for u in top}
    missing = [name for name, present in state.items() if present is False]
    if as_json:
        echo_json({"profiles": [{"profile": u.profile, "uses": u.uses, "share": round(u.share, 4),
                                 "last_used": u.last_used, "installed": state[u.profile]} for u in top],
                   "install_command": f"taskprof install {' '.join(missing)}" if missing else None})
        return
    click.echo("No task given. The profiles you use most:")
    for u in top:
        mark = {True: "installed", False: "not installed", None: "install state unknown"}[state[u.profile]]
        click.echo(f"  {u.profile:<24} {u.uses:>5} uses  last {u.last_used[:16].replace('T', ' ')}  {mark}")
    if missing:
        click.echo(f"Install the missing ones: taskprof install {' '.join(missing)}")
    elif installed is None:
        click.echo("Ollama was not reachable, so the install state is unknown. To install them: "
                   f"taskprof install {' '.join(u.profile for u in top)}")


def run_batch(encoder: str, memory: str | None) -> None:
    from recommender import hardware
    from recommender.profiles import load_catalogue

    text = read_stdin_text()
    lines = text.splitlines()
    catalogue = load_catalogue()
    echo_warnings(catalogue.warnings)
    model = clf_mod.load(encoder)
    machine = hardware.detect(memory)
    from recommender import usage
    from recommender.cli.cmd_usage import report_read_warnings

    measured = usage.latest_bench()
    report_read_warnings()
    tiers: dict[str, tuple[str, str, str | None]] = {}
    out = sys.stdout
    for start in range(0, len(lines), BATCH_CHUNK):
        chunk = [" ".join(line.split()) for line in lines[start:start + BATCH_CHUNK]]
        nonempty = [t for t in chunk if t]
        predictions = iter(model.predict(nonempty)) if nonempty else iter(())
        for line in chunk:
            if not line:
                out.write(json.dumps({"text": "", "error": "empty line"}) + "\n")
                continue
            p = next(predictions)
            chosen = clf_mod.FALLBACK_PROFILE if p.abstained else p.profile
            if chosen not in tiers:
                c = hardware.recommend_tier(catalogue.get_profile(chosen), machine)
                tiers[chosen] = (c.tier, c.reason, c.hint)
            s = clf_mod.to_suggestion(p, classifier=model, tier=tiers[chosen])
            out.write(json.dumps(suggestion_json(s, catalogue, measured), ensure_ascii=False) + "\n")
    out.flush()
