"""Rendering helpers shared by the commands: colour that respects NO_COLOR, tables, JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import click


def color_enabled() -> bool:
    return not os.environ.get("NO_COLOR")


def style(text: str, **kwargs: Any) -> str:
    """click.style, unless NO_COLOR is set (https://no-color.org)."""
    return click.style(text, **kwargs) if color_enabled() else text


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def echo_warnings(messages: Sequence[str]) -> None:
    """One stderr line each, so that stdout stays the result alone (e.g. skipped user profiles)."""
    for message in messages:
        click.echo(f"Warning: {message}", err=True)


def gb(value: float) -> str:
    return f"{value:,.1f} GB"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """A plain-text table; columns whose index is in `right` are right-aligned."""
    def width(cell: str) -> int:
        return len(click.unstyle(cell))  # colour codes take no room on screen

    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (w - width(cell))
            parts.append(pad + cell if i in right else cell + pad)
        return "  ".join(parts).rstrip()

    out = [style(line(headers), bold=True), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    return "\n".join(out)
