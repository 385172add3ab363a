"""`taskprof config`: settings, kept in config.json in the data directory."""

from __future__ import annotations

import json

import click

from recommender.cli.app import cli
from recommender.cli.common import json_option, warn
from recommender.cli.render import echo_json, table


@cli.group("config")
def config_cmd() -> None:
    """Settings, kept in config.json in the data directory.

    \b
    Examples:
      taskprof config list
      taskprof config set auto_install true
      taskprof config set quality_host http://gpu-box:11434
    """


def _loaded():
    from recommender import config

    values = config.load()
    for message in values.warnings:
        warn(message)
    return config, values


@config_cmd.command("list")
@json_option
def config_list_cmd(as_json: bool) -> None:
    """Show every setting with its value and what it does."""
    config, values = _loaded()
    if as_json:
        echo_json(dict(values))
        return
    click.echo(table(["SETTING", "VALUE", "MEANING"],
                     [[k, config.show(k, values[k]), s.help] for k, s in config.SETTINGS.items()]))


@config_cmd.command("get")
@click.argument("name")
def config_get_cmd(name: str) -> None:
    """Print one setting's value (JSON)."""
    config, values = _loaded()
    click.echo(json.dumps(values[config.check_name(name)]))


@config_cmd.command("set", short_help="Change a setting.")
@click.argument("name")
@click.argument("value")
def config_set_cmd(name: str, value: str) -> None:
    """Change a setting.

    \b
    Examples:
      taskprof config set auto_install true
      taskprof config set update_every 7d
      taskprof config set quality_host http://gpu-box:11434
    """
    from recommender import config

    stored = config.set_value(name, value)
    click.echo(f"{name} = {config.show(name, stored)}")


@config_cmd.command("unset")
@click.argument("name")
def config_unset_cmd(name: str) -> None:
    """Return a setting to its default."""
    from recommender import config

    config.unset(name)
    click.echo(f"{name} = {config.show(name, config.SETTINGS[name].default)} (default)")
