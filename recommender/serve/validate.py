"""Request bodies: JSON of a sane depth, and the fields routing and Ollama rely on of the right type.

Everything wrong with a client's body is a 400 in the route's error shape, never a 500: nesting is
measured before `json.loads` (whose C parser recurses once per level and, 100,000 levels deep, ends
in RecursionError), then the fields are checked as Ollama's own types would decode them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from recommender.serve.names import NotServed

# Deeper than any request a client sends (tool schemas nest ~10 levels), far below the parser's limit.
MAX_DEPTH = 64
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# +1 for an opening bracket, -1 for a closing one (as int8, from the byte values).
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1


def depth(raw: bytes | bytearray) -> int:
    """How deeply arrays and objects nest in a JSON text, strings aside (exact past MAX_DEPTH brackets,
    an upper bound below); linear, in C."""
    opened = raw.count(b"[") + raw.count(b"{")
    if opened <= MAX_DEPTH:
        return opened  # no deeper than there are brackets (the usual chat body: a few dozen µs saved)
    data = bytes(raw)
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    if b'"' in data:
        data = _STRING.sub(b"", data)
    brackets = data.translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    steps = _STEP[np.frombuffer(brackets, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max())


def parse(raw: bytes | bytearray) -> dict[str, Any]:
    """The body as a JSON object, or NotServed(400) saying what is wrong with it."""
    if not raw.strip():
        return {}
    nested = depth(raw)
    if nested > MAX_DEPTH:
        raise NotServed(400, f"the request body nests {nested} levels deep; the limit is {MAX_DEPTH}")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise NotServed(400, f"the request body nests too deeply; the limit is {MAX_DEPTH}") from None
    except UnicodeDecodeError:
        raise NotServed(400, "the request body is not JSON: it is not UTF-8 text") from None
    except ValueError as exc:
        raise NotServed(400, f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise NotServed(400, f"the request body must be a JSON object, not {_kind(body)}")
    return body


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def _wrong(field: str, expected: str, value: Any) -> NotServed:
    return NotServed(400, f"'{field}' must be {expected}, not {_kind(value)}")


def model_name(body: dict[str, Any], *, also: str | None = None) -> str:
    """The `model` field (or, for show, its older name `name`): a non-empty string."""
    value = body.get("model")
    if value is None and also is not None:
        value = body.get(also)
    if value is None or value == "":
        raise NotServed(400, "model is required")
    if not isinstance(value, str):
        raise _wrong("model", "a string", value)
    return value


def _optional(body: dict[str, Any], field: str, kinds: tuple[type, ...], expected: str) -> None:
    value = body.get(field)
    if value is not None and (not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)):
        raise _wrong(field, expected, value)


def _common(body: dict[str, Any]) -> None:
    _optional(body, "stream", (bool,), "true or false")
    _optional(body, "options", (dict,), "an object")
    _optional(body, "format", (str, dict), "a string or a JSON schema object")
    _optional(body, "keep_alive", (str, int, float), "a duration")
    _optional(body, "think", (bool, str), "true, false or a level")
    _optional(body, "tools", (list,), "an array")


def chat(body: dict[str, Any], *, openai: bool) -> None:
    """An Ollama chat or an OpenAI chat completion: messages a list of {role, content} objects."""
    _common(body)
    if openai:
        _optional(body, "stream_options", (dict,), "an object")
        for field in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
            _optional(body, field, (int, float), "a number")
        _optional(body, "max_tokens", (int,), "an integer")
    messages = body.get("messages")
    if messages is None:
        if openai:
            raise NotServed(400, "'messages' is required")
        return
    if not isinstance(messages, list):
        raise _wrong("messages", "an array of {role, content} objects", messages)
    if openai and not messages:
        raise NotServed(400, "'messages' must not be empty")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _wrong(f"messages[{i}]", "a {role, content} object", message)
        role = message.get("role")
        if not isinstance(role, str):
            raise _wrong(f"messages[{i}].role", "a string", role)
        _optional(message, "images", (list,), "an array")
        content = message.get("content")
        if content is None:
            continue
        if isinstance(content, str):
            continue
        if openai and isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _wrong(f"messages[{i}].content[{j}]", "a {type, ...} object", part)
            continue
        raise _wrong(f"messages[{i}].content", "a string" + (" or an array of parts" if openai else ""), content)


def generate(body: dict[str, Any], *, openai: bool) -> None:
    """An Ollama generate or an OpenAI completion: prompt a string (OpenAI: or a list of strings)."""
    _common(body)
    _optional(body, "system", (str,), "a string")
    _optional(body, "suffix", (str,), "a string")
    prompt = body.get("prompt")
    if prompt is None or isinstance(prompt, str):
        return
    if openai and isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        return
    raise _wrong("prompt", "a string" + (" or an array of strings" if openai else ""), prompt)


def embed(body: dict[str, Any], *, field: str) -> None:
    """/api/embed and /v1/embeddings: input a string or a list of them; /api/embeddings: prompt a string."""
    _optional(body, "options", (dict,), "an object")
    _optional(body, "truncate", (bool,), "true or false")
    value = body.get(field)
    if value is None:
        return
    if isinstance(value, str):
        return
    if field != "prompt" and isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool)
                                                             for v in value):
        return
    raise _wrong(field, "a string" + ("" if field == "prompt" else " or an array of strings"), value)


def prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return prompt if isinstance(prompt, str) else ""
