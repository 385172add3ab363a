"""The order the training conversations were drawn and read in, and a reader for labelling.

    python -m training.conversations.sample --list 40          # the next 40 candidate ids
    python -m training.conversations.sample --show ID [ID ...]  # print them for reading (stdout only)

A candidate is a train-pool item (see sharegpt.in_train_pool), in the order of
sharegpt.shuffled_train_ids, that looks English, has at least one human turn with text, and whose
first human turn is not a bare "continue" of a conversation split off earlier in the file (it has
no task of its own to label). Nothing printed here is written into the repository.

Standard library only.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from typing import Any

from training.conversations.sharegpt import (
    HERE,
    HUMAN_ROLES,
    MAX_LABELLED,
    iter_sharegpt,
    read_labels,
    shuffled_train_ids,
)

MAX_TURNS = MAX_LABELLED
_WORD = re.compile(r"[a-z']+")
# Common English function words: real English prose has several in every few dozen words.
_STOP = frozenset(
    {
        "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "was", "be",
        "it", "this", "that", "i", "you", "we", "my", "your", "me", "what", "how", "can", "do", "does",
        "please", "write", "make", "give", "not", "if", "as", "at", "by", "from", "about",
    }
)  # fmt: skip
_BARE_CONTINUE = re.compile(r"^\W*(please\s+)?(continue|go on|keep going|more|next)(\s+please)?\W*$", re.I)


def human_texts(item: dict[str, Any]) -> list[str]:
    return [
        str(m.get("value") or "") for m in item.get("conversations") or [] if m.get("from") in HUMAN_ROLES
    ]


def looks_english(texts: list[str]) -> bool:
    """Mostly ASCII letters and enough English function words (pasted code has few; a line of ask has some)."""
    text = " ".join(texts[:MAX_TURNS])[:20000]
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) / len(letters) < 0.9:
        return False
    words = _WORD.findall(text.lower())
    hits = sum(w in _STOP for w in words)
    return hits >= 3 or (bool(words) and hits / len(words) >= 0.1)


def skipped() -> set[str]:
    """Ids passed over by hand while reading (skipped.txt: an id and the reason, one a line)."""
    path = HERE / "skipped.txt"
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def candidates() -> Iterator[tuple[int, dict[str, Any]]]:
    """(rank in the shuffled train pool, item) for every item that can be labelled, in order."""
    first: dict[str, dict[str, Any]] = {}
    for item in iter_sharegpt():
        first.setdefault(str(item.get("id")), item)
    for rank, conversation_id in enumerate(shuffled_train_ids(list(first))):
        item = first[conversation_id]
        texts = human_texts(item)
        if not any(t.strip() for t in texts) or not looks_english(texts):
            continue
        if _BARE_CONTINUE.match(texts[0]):
            continue
        yield rank, item


def _show(item: dict[str, Any], head: int, tail: int, reply: int) -> None:
    print(f"=== {item['id']}")
    n = 0
    for message in item.get("conversations") or []:
        text = str(message.get("value") or "")
        if message.get("from") in HUMAN_ROLES:
            if n == MAX_TURNS:
                break
            short = (
                text
                if len(text) <= head + tail
                else f"{text[:head]} [...{len(text)} chars...] {text[-tail:]}"
            )
            print(f"  H{n}: {short}")
            n += 1
        else:
            print(f"     [{message.get('from')}] {text[:reply]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=int, metavar="N", help="the next N candidates not labelled yet")
    parser.add_argument("--skip", type=int, default=0, help="with --list: leave out the first SKIP of them")
    parser.add_argument("--show", nargs="+", metavar="ID")
    parser.add_argument("--head", type=int, default=400)
    parser.add_argument("--tail", type=int, default=250)
    parser.add_argument("--reply", type=int, default=160)
    args = parser.parse_args()
    try:
        done = {r["id"] for r in read_labels()}
    except FileNotFoundError:
        done = set()
    done |= skipped()
    if args.list:
        shown = 0
        for n, (rank, item) in enumerate(c for c in candidates() if c[1]["id"] not in done):
            if n < args.skip:
                continue
            print(rank, item["id"], len(human_texts(item)))
            shown += 1
            if shown == args.list:
                break
    if args.show:
        wanted = set(args.show)
        items = {i["id"]: i for _, i in candidates() if i["id"] in wanted}
        for conversation_id in args.show:
            _show(items[conversation_id], args.head, args.tail, args.reply)


if __name__ == "__main__":
    main()
