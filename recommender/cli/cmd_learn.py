"""`taskprof correct` and `taskprof train`: learning from the user's corrections."""

from __future__ import annotations

import click

from recommender.cli.app import cli
from recommender.cli.render import echo_json, style
from recommender.errors import InputError


@cli.command("correct")
@click.argument("profile")
@click.option("--text", metavar="TEXT", help="Relabel this task instead of the last suggestion.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored correction as JSON.")
def correct_cmd(profile: str, text: str | None, as_json: bool) -> None:
    """Say which profile a task should have got; `taskprof train --personal` learns from it.

    \b
    Examples:
      taskprof correct business-research
      taskprof correct --text "estimate churn for our SaaS" data-work
    """
    from recommender import usage
    from recommender.profiles import load_catalogue

    catalogue = load_catalogue()
    target = catalogue.get_profile(profile)
    if target.kind != "task" and not target.is_user:
        raise InputError(f"'{profile}' is a general profile; correct a task to a task profile or a profile of your own")
    if text is None:
        last = usage.last_suggestion()
        if last is None:
            raise InputError("no suggestion to correct yet: pass --text \"the task\" PROFILE")
        text, predicted = last.text, last.profile
    else:
        text = " ".join(text.split())
        if not text:
            raise InputError("--text is empty")
        predicted = None
    stored = usage.record_correction(text=text, profile=target.name, predicted=predicted)
    if as_json:
        echo_json({"text": text, "profile": target.name, "was": predicted, "corrections": stored})
        return
    was = f" (was {predicted})" if predicted else ""
    click.echo(f"Noted: \"{text}\" -> {style(target.name, bold=True)}{was}. {stored} correction(s) stored.")
    click.echo("Run `taskprof train --personal` to learn from them.")


@cli.command("train")
@click.option("--personal", is_flag=True, help="Refit the classifier on the shipped data plus your corrections.")
@click.option("--reset", is_flag=True, help="Remove your personal model and go back to the shipped one.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def train_cmd(personal: bool, reset: bool, as_json: bool) -> None:
    """Train your personal classifier from your corrections (no torch needed), or reset it.

    The shipped classifier is rebuilt from training/ with `python -m training.train`.

    \b
    Examples:
      taskprof train --personal
      taskprof train --reset
    """
    from recommender import personal as personal_mod

    if personal == reset:
        raise click.UsageError("choose one of --personal or --reset")
    if reset:
        removed = personal_mod.reset()
        if as_json:
            echo_json({"removed": removed})
        else:
            click.echo("Personal model removed: suggest uses the shipped classifier again." if removed
                       else "There was no personal model: suggest already uses the shipped classifier.")
        return
    from recommender import usage
    from recommender.profiles import load_catalogue

    corrections = [personal_mod.Correction(c.text, c.profile) for c in usage.corrections()]
    catalogue = load_catalogue()
    seeds = {p.name: [p.description, *p.recommended_for] for p in catalogue.values() if p.is_user}
    report = personal_mod.train_personal(corrections, known_profiles=set(catalogue), seeds=seeds,
                                         progress=lambda line: click.echo(line, err=True))
    if as_json:
        echo_json({
            "shipped_cv_top1": round(report.shipped_cv, 4),
            "personal_cv_top1": round(report.personal_cv, 4),
            "corrections": report.corrections,
            "labels": list(report.labels),
            "new_labels": list(report.new_labels),
            "ignored": report.ignored,
            "path": str(report.saved_to),
        })
        return
    click.echo(f"Personal model trained on the shipped data plus {report.corrections} correction(s).")
    click.echo(f"  cross-validated top-1 on the shipped data: shipped {report.shipped_cv:.3f}, personal {report.personal_cv:.3f}")
    if report.new_labels:
        click.echo(f"  your own profiles now suggestible: {', '.join(report.new_labels)}")
    for name, n in report.ignored.items():
        click.echo(f"  not yet learned: {name} ({n} of {personal_mod.MIN_CORRECTIONS_FOR_NEW_PROFILE} corrections needed)")
    click.echo(f"  saved to {report.saved_to}; `taskprof train --reset` removes it")
