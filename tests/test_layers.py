"""The package's layers, read from its source: no import circles, a CLI that reaches the core only
through the API, and a `taskprof suggest` that loads none of the workflows it does not run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "recommender"
# What cli/ may import from the rest of the package: the API, its errors, the shared types; and
# `taskprof serve` hands over to the serve front end, which stands beside the CLI on the API.
CLI_MAY_IMPORT = {"recommender", "recommender.api", "recommender.errors", "recommender.types", "recommender.serve"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every module this file imports: top level, in functions and under TYPE_CHECKING alike."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from recommender import usage` imports a module; `from recommender.api import Taskprof` a name
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path, set(modules)) if m in modules and m != name} for name, path in modules.items()}


def test_there_is_no_import_circle(graph):
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import circle: " + " -> ".join([*trail[trail.index(name):], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            if target != "recommender":  # the package's face hands names on lazily (PEP 562)
                visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert len(done) == len(graph) > 40


def test_the_cli_reaches_the_core_only_through_the_api(graph):
    cli = {name: targets for name, targets in graph.items() if name.startswith("recommender.cli")}
    assert len(cli) >= 10
    for name, targets in cli.items():
        outside = {t for t in targets if not t.startswith("recommender.cli")} - CLI_MAY_IMPORT
        assert outside == set(), (name, outside)
    assert "recommender.serve" in graph["recommender.cli.cmd_serve"]  # the one hand-over, and where it is


def test_the_core_never_imports_a_front_end(graph):
    front_ends = ("recommender.cli", "recommender.serve")
    for name, targets in graph.items():
        if not name.startswith(front_ends) and name != "recommender.__main__":
            assert not {t for t in targets if t.startswith(front_ends)}, name


def test_a_suggest_loads_only_what_deciding_needs(tmp_path):
    """The workflows suggest never runs (installs, results, serve, bench...) and the training
    libraries stay unloaded in a real `taskprof suggest` process."""
    code = ("import sys\n"
            "from recommender.cli.app import main\n"
            "try:\n"
            "    main(['suggest', '--no-log', 'write a SQL query for monthly revenue'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TASKPROF_HOME": str(tmp_path)})
    assert "data-work" in run.stdout
    loaded = set(run.stderr.split())
    unwanted = {"recommender.results", "recommender.installs", "recommender.updates", "recommender.bench",
                "recommender.serve", "recommender.conversations", "torch",
                "sentence_transformers", "sklearn", "transformers", "ollama", "httpx", "starlette"}
    assert loaded & unwanted == set()
    assert {"recommender.api", "recommender.routing", "recommender.classifier"} <= loaded
