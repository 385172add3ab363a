"""Seeded typos for the robustness benchmark: the public set misspelt the way issue 13 measured it,
a share of the words (of 3+ letters) with two neighbouring letters swapped or one letter dropped.
"""

from __future__ import annotations

import random


def typo_word(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 3:
        return word
    i = rng.randrange(len(word) - 1)
    if rng.random() < 0.5 and word[i].isalpha() and word[i + 1].isalpha() and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    i = rng.choice(letters)
    return word[:i] + word[i + 1:]


def with_typos(text: str, rng: random.Random, share: float = 0.2) -> str:
    """`share` of the words (at least one when any word can take a typo) misspelt."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 3]
    if not candidates:
        return text
    count = max(1, round(share * len(words)))
    for i in rng.sample(candidates, min(count, len(candidates))):
        words[i] = typo_word(words[i], rng)
    return " ".join(words)
