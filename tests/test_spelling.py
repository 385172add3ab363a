"""Mending misspelt words against the training words."""

from __future__ import annotations

from recommender.spelling import Speller, word_counts

COUNTS = word_counts(["review this contract", "review the contract clauses", "write a python function",
                      "brainstorm names for my bakery", "inspect the logs"])
VOCABULARY = {"review", "this", "the", "write", "python", "function", "names", "for", "inject", "insect"}


def speller():
    loads = []

    def load():
        loads.append(1)
        return COUNTS

    return Speller(load, VOCABULARY.__contains__), loads


def test_a_dropped_or_swapped_letter_is_mended():
    s, _ = speller()
    assert s.correct("reveiw this contarct") == "review this contract"
    assert s.correct("brainstrom nmaes for my bakey") == "brainstorm names for my bakery"
    assert s.correct("wrte a pyhton fucntion") == "write a python function"


def test_known_words_and_short_ones_stay():
    s, loads = speller()
    assert s.correct("review this function") == "review this function"
    assert not loads  # every word was known: the training words were never read
    assert s.correct("teh cat") == "teh cat"  # three letters: too many neighbours to guess


def test_a_changed_or_added_letter_is_not_guessed():
    # "gpus" is one changed letter from "cpus"; valid words the vocabulary lacks must survive.
    s = Speller(lambda: {"cpus": 5, "inspect": 3}, lambda w: False)
    assert s.correct("gpus") == "gpus"
    assert s.correct("inspecct") == "inspecct"


def test_the_index_used_for_batches_agrees_with_the_direct_search():
    texts = [f"reveiw contarct {i}" for i in range(200)] + [f"word{i}x" for i in range(100)]
    direct, _ = speller()
    direct.INDEX_AFTER = 10**9
    indexed, _ = speller()
    indexed.INDEX_AFTER = 0
    assert [direct.correct(t) for t in texts] == [indexed.correct(t) for t in texts]
    assert indexed._by_deletion is not None
