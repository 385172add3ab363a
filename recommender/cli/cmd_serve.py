"""`taskprof serve`: the profiles as models for Ollama and OpenAI clients, every chat routed."""

from __future__ import annotations

import click

from recommender.cli.app import TaskprofCommand
from recommender.cli.common import host_option, no_log_option, note
from recommender.errors import InputError

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
    from recommender import serve  # starlette, uvicorn and httpx load here, never for other commands

    address = serve.parse_listen(listen)
    api_key = serve.clean_key(api_key, f"--api-key / {KEY_ENV}")
    if not address.loopback and not api_key:
        raise InputError(f"listening on {address.host} lets other machines in: give a key with --api-key "
                         f"or {KEY_ENV} (clients send 'Authorization: Bearer <key>'), or listen on 127.0.0.1")
    core = serve.ServeSession(host=host, log=not no_log)
    note(f"taskprof serve: loading the classifier and asking Ollama ({', '.join(core.hosts)}) ...")
    sock = serve.bind(address)
    app = serve.create_app(core, api_key=api_key, on_event=note, loopback=address.loopback,
                           origins=tuple((origins or "").split(",")))
    tiers = ", ".join(f"{tier} tier on {core.host(tier)}" for tier in ("fast", "quality"))
    url = address.client_url()
    note(f"Listening on {url}" + (f" (all interfaces, {address.url})" if address.unspecified else "")
         + f" ({tiers}); {'a key is required' if api_key else 'no key: loopback only'}; "
         f"usage log {'on' if core.logging_on() else 'off'}. Ctrl-C stops.")
    note(f"  ollama:  OLLAMA_HOST={url.removeprefix('http://')} ollama run taskprof/auto")
    note(f"  openai:  base_url={url}/v1, model=taskprof/auto")
    for message in core.drain_warnings():
        note(f"Warning: {message}")
    serve.run(app, sock)
