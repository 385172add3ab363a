"""The hand-written labelled task descriptions in training/data/: one file a label, one task a line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
TASK_LABELS = (
    "programming",
    "systems-architecture",
    "research",
    "writing",
    "data-work",
    "skills-building",
    "brainstorming",
    "document-intelligence",
    "business-research",
)
GENERAL = "general"
LABELS = (*TASK_LABELS, GENERAL)


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[str]
    sha256: str

    @property
    def label_ids(self) -> list[int]:
        return [LABELS.index(label) for label in self.labels]

    def counts(self) -> dict[str, int]:
        return {label: self.labels.count(label) for label in LABELS}


def load(data_dir: Path = DATA_DIR) -> Dataset:
    """Read every label file; refuse duplicates and a text filed under two labels."""
    texts: list[str] = []
    labels: list[str] = []
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for label in LABELS:
        file = data_dir / f"{label}.txt"
        if not file.is_file():
            raise SystemExit(f"missing training file {file}")
        raw = file.read_bytes()
        digest.update(label.encode() + b"\0" + raw + b"\0")
        for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            key = " ".join(text.lower().split())
            if key in seen:
                raise SystemExit(f"{file}:{number}: duplicate of a line in {seen[key]}.txt: {text!r}")
            seen[key] = label
            texts.append(text)
            labels.append(label)
    return Dataset(texts=texts, labels=labels, sha256=digest.hexdigest())
