"""taskprof: pick local LLM profiles for a task and install them through Ollama.

    import recommender
    tp = recommender.Taskprof()
    print(tp.decide("review this contract").chosen_profile)

The names below load on first use (PEP 562), so `import recommender` stays as cheap as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recommender.api import Taskprof
    from recommender.errors import TaskprofError
    from recommender.types import Decision, Route

__all__ = ["Decision", "Route", "Taskprof", "TaskprofError"]

_WHERE = {"Taskprof": "recommender.api", "TaskprofError": "recommender.errors",
          "Decision": "recommender.types", "Route": "recommender.types"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'recommender' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
