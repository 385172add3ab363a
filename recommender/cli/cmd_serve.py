"""`taskprof serve`: the profiles as models for Ollama and OpenAI clients, every chat routed."""

from __future__ import annotations

import click

from recommender.cli.app import TaskprofCommand
from recommender.cli.common import host_option, no_log_option, note

KEY_ENV = "TASKPROF_SERVE_KEY"


@click.command("serve", cls=TaskprofCommand)
@click.option("--listen", default="127.0.0.1:11435", show_default=True, metavar="HOST:PORT",
              help="Where to listen. Any address but loopback needs --api-key.")
@host_option
@click.option("--api-key", envvar=KEY_ENV, metavar="KEY",
              help=f"Require 'Authorization: Bearer KEY' on every request (better: set {KEY_ENV}, "
                   "which other users cannot see in the process list).")
@click.option("--origins", metavar="LIST",
              help="Web origins allowed besides loopback pages, comma-separated ('*' allows every site); "
                   "also the serve_origins setting and OLLAMA_ORIGINS.")
@no_log_option
def serve_cmd(listen: str, host: str | None, api_key: str | None, origins: str | None, no_log: bool) -> None:
    """Serve the profiles as models, Ollama- and OpenAI-compatible, each chat routed to its profile.

    Clients see taskprof/auto (each conversation routed by what it asks, as `suggest`
    would), taskprof/PROFILE (the tier that fits) and taskprof/PROFILE:fast|quality, for every
    profile with an installed model, next to the real models, which pass through untouched. Each
    routed chat is a use in the usage log (--no-log: not). Ctrl-C stops it.

    \b
    Examples:
      taskprof serve
      OLLAMA_HOST=127.0.0.1:11435 ollama run taskprof/auto
      TASKPROF_SERVE_KEY=s3cret taskprof serve --listen 0.0.0.0:11435
    """
    # The serve front end stands beside the CLI on the API; starlette, uvicorn and httpx load here,
    # never for other commands.
    from recommender.serve import main as serve

    serve(listen, host=host, api_key=api_key, log=not no_log, key_env=KEY_ENV, on_event=note,
          origins=tuple((origins or "").split(",")))
