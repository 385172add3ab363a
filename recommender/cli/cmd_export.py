"""`taskprof export`: the profiles as configuration for other tools."""

from __future__ import annotations

from pathlib import Path

import click

from recommender.cli.app import TaskprofGroup
from recommender.cli.common import host_option, note, profile_argument, session, show_warnings


@click.group("export", cls=TaskprofGroup)
def export_group() -> None:
    """Write the profiles as configuration for other tools.

    \b
    Example:
      taskprof export litellm -o litellm.yaml
    """


@export_group.command("litellm")
@profile_argument("profiles", nargs=-1)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), metavar="FILE",
              help="Write the config to FILE (default: standard output).")
@host_option
def litellm_cmd(profiles: tuple[str, ...], output: Path | None, host: str | None) -> None:
    """A LiteLLM proxy config whose model groups are the profiles and their tiers.

    Every profile (or just PROFILE...) gets taskprof/PROFILE (the tier that fits), and
    taskprof/PROFILE:fast and :quality, the names `taskprof serve` uses, each on the Ollama server of
    its tier (fast_host / quality_host, OLLAMA_HOST, or --host). LiteLLM balances the entries that
    share a name, so a team spreads a profile over several servers by repeating its entry.

    \b
    Examples:
      taskprof export litellm -o litellm.yaml && litellm --config litellm.yaml
      taskprof export litellm programming writing
    """
    from recommender.api import write_text

    core = session(host=host)
    text = core.export_litellm(profiles)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
        entries = text.count("model_name")
        note(f"Wrote {entries} model entries to {output}.")
    show_warnings(core)
