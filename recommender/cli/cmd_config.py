"""`taskprof config`: settings, kept in config.json in the data directory."""

from __future__ import annotations

import json
from typing import Any

import click

import recommender.api as api
from recommender.cli.app import TaskprofGroup
from recommender.cli.common import json_option, warn
from recommender.cli.render import echo_json, table


@click.group("config", cls=TaskprofGroup)
def config_cmd() -> None:
    """Settings, kept in config.json in the data directory.

    \b
    Examples:
      taskprof config list
      taskprof config set auto_install true
      taskprof config set quality_host http://gpu-box:11434
    """


def _loaded() -> Any:
    values = api.settings()
    for message in values.warnings:
        warn(message)
    return values


@config_cmd.command("list")
@json_option
def config_list_cmd(as_json: bool) -> None:
    """Show every setting with its value and what it does."""
    values = _loaded()
    if as_json:
        echo_json(dict(values))
        return
    click.echo(table(["SETTING", "VALUE", "MEANING"],
                     [[k, api.show_setting(k, values[k]), meaning] for k, meaning in api.setting_help().items()]))


@config_cmd.command("get")
@click.argument("name")
def config_get_cmd(name: str) -> None:
    """Print one setting's value (JSON)."""
    values = _loaded()
    click.echo(json.dumps(values[api.check_setting(name)]))


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
    stored = api.set_setting(name, value)
    click.echo(f"{name} = {api.show_setting(name, stored)}")


@config_cmd.command("unset")
@click.argument("name")
def config_unset_cmd(name: str) -> None:
    """Return a setting to its default."""
    default = api.unset_setting(name)
    click.echo(f"{name} = {api.show_setting(name, default)} (default)")
