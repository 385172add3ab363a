"""Configuration for other tools, written from the catalogue and the per-tier servers.

`litellm_config` is a LiteLLM proxy config (https://docs.litellm.ai/docs/proxy/configs): one
`model_list` entry per profile and tier, named as `taskprof serve` names them, each pointing at the
Ollama server of its tier. LiteLLM load-balances entries that share a `model_name`, so a team adds
a server by repeating an entry with another `api_base`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from recommender.session import Session
from recommender.types import TIERS

PREFIX = "taskprof/"
PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def litellm_config(session: Session, names: Iterable[str] = ()) -> dict[str, Any]:
    """model_list entries: taskprof/<profile> (the tier that fits) and taskprof/<profile>:<tier>."""
    profiles = [session.profile(n) for n in dict.fromkeys(names)] or list(session.catalogue.values())
    entries = []
    for p in profiles:
        fit = session.tier_choice(p).tier
        for name, tier in ((f"{PREFIX}{p.name}", fit), *((f"{PREFIX}{p.name}:{t}", t) for t in TIERS)):
            model = p.model_for(tier)
            entries.append({
                "model_name": name,
                "litellm_params": {"model": f"ollama_chat/{model.ref}", "api_base": session.host(tier)},
                "model_info": {"description": f"{p.name}, {tier} tier: {model.purpose}".strip()},
            })
    return {"model_list": entries}


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block YAML for plain data (dicts, lists, strings, numbers, booleans). Strings are written as
    JSON strings, which YAML reads as double-quoted scalars: no name can turn into YAML syntax."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{_key(key)}:")
                lines.append(to_yaml(value, indent + 2))
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(value)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict | list) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(data)}")
    return "\n".join(lines)


def _key(key: Any) -> str:
    return str(key) if PLAIN_KEY.fullmatch(str(key)) else json.dumps(str(key))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)  # bools, numbers and strings are the same in JSON and YAML


def litellm_yaml(session: Session, names: Iterable[str] = ()) -> str:
    header = (
        "# LiteLLM proxy config written by `taskprof export litellm`: run it with `litellm --config FILE`.\n"
        "# Each profile and tier is a model group; to spread a group over more Ollama servers, repeat its\n"
        "# entry with another api_base. taskprof/auto needs `taskprof serve`: it routes each chat itself.\n"
    )
    return header + to_yaml(litellm_config(session, names)) + "\n"
