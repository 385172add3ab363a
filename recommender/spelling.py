"""Mend misspelt words before the head reads them: one edit away from a word of the training data.

"reveiw this contarct" tokenizes into WordPiece fragments the head never weighed. A word that is
neither in the training texts nor a whole token of the encoder's vocabulary is replaced by the
most frequent training word one edit away (a letter dropped, added, changed, or two swapped), if
there is one. Rare proper nouns ("Zepto") usually have no such neighbour and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[A-Za-z]+")
# Shorter words have too many neighbours one edit away ("teh" -> the/ten/tea) to guess safely.
MIN_LENGTH = 4
# Longer "words" are not slips of a real word (a hash, a base64 blob, a key held down): they are left
# as they are. Candidate generation grows with length x 26, so a 60,000-letter word would build
# ~1.5 million strings of 60 KB each (the 9.5 GB `suggest` of issue 20).
MAX_LENGTH = 30


def _inserts(word: str) -> list[str]:
    """Every word with one letter more: what `word` may have been before a letter was dropped."""
    return [word[:i] + c + word[i:] for i in range(len(word) + 1) for c in _LETTERS]


def _swaps(word: str) -> list[str]:
    return [word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1) if word[i] != word[i + 1]]


def _deletes(word: str) -> list[str]:
    return [word[:i] + word[i + 1:] for i in range(len(word))]


class Speller:
    """`known`: is this a whole word of the encoder's vocabulary; `load_counts`: the training words and
    their counts, read only when a word is unknown (most texts have none, and cold start stays cheap).

    Only the two commonest slips are undone, a dropped letter and two swapped ones: undoing an added
    or changed letter as well turned valid words the vocabulary lacks into others ("inject" into
    "insect", "gpus" into "cpus").
    """

    # After this many distinct unknown words (a batch), index the training words by their deletions:
    # a look-up then costs a few dict probes instead of ~250 generated candidates.
    INDEX_AFTER = 64

    def __init__(self, load_counts: Callable[[], dict[str, int]], known: Callable[[str], bool]):
        self._load_counts = load_counts
        self._counts: dict[str, int] | None = None
        self._by_deletion: dict[str, list[str]] | None = None
        self._misses = 0
        self.known = known
        self._seen: dict[str, str] = {}  # word -> its correction (often itself): a batch repeats words

    @property
    def counts(self) -> dict[str, int]:
        if self._counts is None:
            self._counts = self._load_counts()
        return self._counts

    def _dropped_from(self, word: str) -> list[str]:
        """Training words that become `word` when one letter is dropped."""
        if self._by_deletion is None and self._misses > self.INDEX_AFTER:
            index: dict[str, list[str]] = {}
            for w in self.counts:
                for d in set(_deletes(w)):
                    index.setdefault(d, []).append(w)
            self._by_deletion = index
        if self._by_deletion is not None:
            return self._by_deletion.get(word, [])
        return [w for w in _inserts(word) if w in self.counts]

    def _correct_word(self, word: str) -> str:
        lowered = word.lower()
        if not MIN_LENGTH <= len(lowered) <= MAX_LENGTH or self.known(lowered) or lowered in self.counts:
            return word
        self._misses += 1
        candidates = self._dropped_from(lowered) + [w for w in _swaps(lowered) if w in self.counts]
        if not candidates:
            return word
        return max(candidates, key=lambda w: (self.counts[w], w))

    def correct_word(self, word: str) -> str:
        fixed = self._seen.get(word)
        if fixed is None:
            if len(self._seen) > 100_000:
                self._seen.clear()
            fixed = self._seen[word] = self._correct_word(word)
        return fixed

    def correct(self, text: str) -> str:
        if all(self.correct_word(word) == word for word in _WORD.findall(text)):
            return text
        return _WORD.sub(lambda m: self._seen.get(m.group(0)) or self.correct_word(m.group(0)), text)


def word_counts(texts: list[str]) -> dict[str, int]:
    """How often each lowercase word occurs in `texts` (what training ships for the speller)."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            counts[word] = counts.get(word, 0) + 1
    return counts
