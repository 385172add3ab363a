"""`taskprof serve` from start to Ctrl-C: the address and key checked, the socket bound (a port in use
is said at once), the classifier loaded (create_app warms it), where to connect said, then uvicorn."""

from __future__ import annotations

from collections.abc import Callable

from recommender.errors import InputError
from recommender.serve.app import create_app
from recommender.serve.names import bind, clean_key, parse_listen
from recommender.serve.net import run
from recommender.serve.route import ServeSession


def main(listen: str, *, host: str | None = None, api_key: str | None = None, log: bool = True,
         key_env: str = "TASKPROF_SERVE_KEY", on_event: Callable[[str], None] = print,
         origins: tuple[str, ...] = ()) -> None:
    address = parse_listen(listen)
    key = clean_key(api_key, f"--api-key / {key_env}")
    if not address.loopback and not key:
        raise InputError(f"listening on {address.host} lets other machines in: give a key with --api-key "
                         f"or {key_env} (clients send 'Authorization: Bearer <key>'), or listen on 127.0.0.1")
    core = ServeSession(host=host, log=log)
    on_event(f"taskprof serve: loading the classifier and asking Ollama ({', '.join(core.hosts)}) ...")
    sock = bind(address)  # before loading: a port in use is said at once
    app = create_app(core, api_key=key, on_event=on_event, loopback=address.loopback, origins=origins)
    tiers = ", ".join(f"{tier} tier on {core.host(tier)}" for tier in ("fast", "quality"))
    url = address.client_url()
    on_event(f"Listening on {url}" + (f" (all interfaces, {address.url})" if address.unspecified else "")
             + f" ({tiers}); {'a key is required' if key else 'no key: loopback only'}; "
             f"usage log {'on' if core.logging_on() else 'off'}. Ctrl-C stops.")
    on_event(f"  ollama:  OLLAMA_HOST={url.removeprefix('http://')} ollama run taskprof/auto")
    on_event(f"  openai:  base_url={url}/v1, model=taskprof/auto")
    for message in core.drain_warnings():
        on_event(f"Warning: {message}")
    run(app, sock)
