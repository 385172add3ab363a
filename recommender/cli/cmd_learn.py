"""`taskprof correct` and `taskprof train`: learning from the user's corrections."""

from __future__ import annotations

import click

from recommender.api import reset_personal
from recommender.cli.app import TaskprofCommand
from recommender.cli.common import json_option, note, profile_argument, session, show_warnings
from recommender.cli.render import echo_json, style


@click.command("correct", cls=TaskprofCommand)
@profile_argument("profile")
@click.option("--id", "event_id", type=click.IntRange(1), metavar="ID",
              help="Relabel the logged suggestion with this id (suggest prints it).")
@click.option("--text", metavar="TEXT", help="Relabel this task instead of a logged suggestion.")
@json_option
def correct_cmd(profile: str, event_id: int | None, text: str | None, as_json: bool) -> None:
    """Say which profile a task should have got; `taskprof train --personal` learns from it.

    Without --id or --text, the newest logged suggestion is corrected; the output names it.
    Correcting the same task again replaces the earlier correction.

    \b
    Examples:
      taskprof correct business-research
      taskprof correct --id 42 data-work
      taskprof correct --text "estimate churn for our SaaS" data-work
    """
    if event_id is not None and text is not None:
        raise click.UsageError("give --id or --text, not both")
    core = session()
    c = core.correct(profile, text=text, event_id=event_id)
    if as_json:
        echo_json(c.to_json())
    else:
        which = f"#{c.event_id} " if c.event_id is not None else ""
        was = f" (was {c.was})" if c.was else ""
        click.echo(f"Corrected {which}\"{c.text}\" -> {style(c.profile, bold=True)}{was}. "
                   f"{c.stored} correction{'s' if c.stored != 1 else ''} stored.")
        note("Run `taskprof train --personal` to learn from them.")
    show_warnings(core)


@click.command("train", cls=TaskprofCommand)
@click.option("--personal", is_flag=True, help="Refit the classifier on the shipped data plus your corrections.")
@click.option("--reset", is_flag=True, help="Remove your personal model and go back to the shipped one.")
@json_option
def train_cmd(personal: bool, reset: bool, as_json: bool) -> None:
    """Train your personal classifier from your corrections (no torch needed), or reset it.

    The shipped classifier is rebuilt from training/ with `python -m training.train`.

    \b
    Examples:
      taskprof train --personal
      taskprof train --reset
    """
    if personal == reset:
        raise click.UsageError("choose one of --personal or --reset")
    if reset:
        removed = reset_personal()
        if as_json:
            echo_json({"removed": removed})
        else:
            click.echo("Personal model removed: suggest uses the shipped classifier again." if removed
                       else "There was no personal model: suggest already uses the shipped classifier.")
        return
    core = session()
    report = core.train_personal(progress=lambda line: click.echo(line, err=True))
    show_warnings(core)
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(f"Personal model trained on the shipped data plus {report.corrections} correction(s).")
    click.echo(f"  cross-validated top-1 on the shipped data: shipped {report.shipped_cv:.3f}, personal {report.personal_cv:.3f}")
    if report.new_labels:
        click.echo(f"  your own profiles now suggestible: {', '.join(report.new_labels)}")
    for name, n in report.ignored.items():
        click.echo(f"  not yet learned: {name} ({n} of {report.needed} corrections needed)")
    click.echo(f"  saved to {report.saved_to}; `taskprof train --reset` removes it")
