"""`taskprof serve`: task profiles as models for any Ollama or OpenAI client, each chat routed.

The server speaks Ollama's API (`/`, `/api/version`, `/api/tags`, `/api/show`, `/api/ps`,
`/api/chat`, `/api/generate`, `/api/embed`, `/api/embeddings`) and the OpenAI-compatible `/v1/models`,
`/v1/models/{id}`, `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings`. Besides the real
models it lists virtual ones:

    taskprof/auto                 each conversation routed (conversation.ConversationRouter)
    taskprof/<profile>            that profile's installed model, the tier that fits first
    taskprof/<profile>:fast       that tier only (and :quality)

A virtual name is resolved once per request, the body is sent on with the real model's name, and
the answer comes back as the upstream Ollama sends it, chunk by chunk, with the real model in
`model` and the profile in the `X-Taskprof-Profile` header. Requests for real models go through
byte for byte. `/v1` requests go to Ollama's own OpenAI-compatible endpoint, so the translation is
Ollama's, not a copy of it.

    names.py     virtual names, the listen address, keys
    gate.py      Host, Origin and CORS, the key, body size and bodies in flight (ASGI middleware)
    validate.py  request bodies: JSON depth, field types
    route.py     where a request goes: names, conversation routing, residency
    upstream.py  the upstream Ollama servers: lists, loaded models, streamed answers
    background.py the usage log writer and background installs
    app.py       the handlers and create_app
    net.py       uvicorn with request deadlines, a connection cap and the file limit raised
    start.py     the command: checks, banner, run (`taskprof serve`, cli/cmd_serve.py, calls it)

Starlette and uvicorn are imported by this package only (httpx also by ollama_client, lazily), and
this package only by the serve command: `import recommender` and `taskprof suggest` never load them.
"""

from __future__ import annotations

from recommender.serve.app import MAX_BODY_BYTES, Server, create_app
from recommender.serve.gate import Gate, error_response
from recommender.serve.names import (
    AUTO,
    DEFAULT_LISTEN,
    PREFIX,
    Listen,
    NotServed,
    Virtual,
    bind,
    clean_key,
    parse_listen,
    parse_virtual,
)
from recommender.serve.net import run
from recommender.serve.route import ServeSession
from recommender.serve.start import main

__all__ = ["AUTO", "DEFAULT_LISTEN", "MAX_BODY_BYTES", "PREFIX", "Gate", "Listen", "NotServed", "ServeSession",
           "Server", "Virtual", "bind", "clean_key", "create_app", "error_response", "main", "parse_listen",
           "parse_virtual", "run"]
