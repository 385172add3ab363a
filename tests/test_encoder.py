"""The Python WordPiece tokenizer gives the Rust library's ids, character for character."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from tokenizers import Tokenizer

from recommender import paths
from recommender.encoder import CHECKED_RANGES, StaticEncoder, WordPiece
from training import dataset

MODELS = paths.bundled_dir("models")


@pytest.fixture(scope="module")
def encoders() -> tuple[StaticEncoder, Tokenizer]:
    static = StaticEncoder(MODELS / "encoder" / "tokenizer.json", MODELS / "encoder" / "embeddings.safetensors")
    assert static.wordpiece is not None, "the shipped tokenizer.json is plain BERT WordPiece"
    return static, Tokenizer.from_file(str(MODELS / "encoder" / "tokenizer.json"))


def rust_ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def test_every_character_of_the_checked_ranges_tokenizes_alike(encoders):
    static, rust = encoders
    texts = []
    for first, last in CHECKED_RANGES:
        for code in range(first, last + 1):
            c = chr(code)
            # Inside a word, alone, after a space, doubled, before an accented letter.
            texts.append(f"ab{c}cd {c} x {c}x {c}{c} {c}é")
    python = [static.wordpiece.encode(t) for t in texts]
    assert None not in python
    mismatches = [t for t, a, b in zip(texts, python, rust_ids(rust, texts), strict=True) if a != b]
    assert mismatches == []


def test_real_and_awkward_texts_tokenize_alike(encoders):
    static, rust = encoders
    texts = list(dataset.load().texts)
    texts += [
        "[UNK] and [PAD]x", "naïve café São Paulo Ærøskøbing", "数据库查询优化", "日本語のテキストを要約して",
        "tab\there\x0bvt\x0cff\x85nel", "İstanbul ΣΑΣ ὈΔΥΣΣΕΎΣ", "x" * 150, "a\u200bb\u00a0c\u3000d",
        "Straße ﬁ ﬂ ℌ ①", "don't ‘quote’ “dq” — dash – en …", "$100 + 5% = <x> ^ ` | ~", "\x00null\ufffdrep",
        "Überprüfe diesen Vertrag", "Résume ce compte rendu de réunion", "¿Qué opinas del mercado?", "",
    ]
    rng = random.Random(7)
    alphabet = [chr(c) for first, last in CHECKED_RANGES for c in range(first, min(last, first + 400))]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(2000)]
    python = [static.wordpiece.encode(t) for t in texts]
    # Greek Extended (Ὀ) and the ligatures (ﬁ) are outside the checked ranges: those texts go to Rust.
    assert sum(ids is None for ids in python) == 2
    mismatches = [t for t, a, b in zip(texts, python, rust_ids(rust, texts), strict=True) if a is not None and a != b]
    assert mismatches == []


def test_a_character_outside_the_checked_ranges_goes_to_the_rust_library(encoders):
    static, rust = encoders
    texts = ["a\u061db is new in Unicode 14", "ⴰⵣⵓⵍ Tifinagh", "plain ascii 🙂"]
    assert static.wordpiece.encode(texts[0]) is None
    assert static.wordpiece.encode(texts[2]) is not None
    assert static.token_ids(texts) == rust_ids(rust, texts)


def test_a_batch_uses_the_rust_library_and_agrees(encoders):
    static, rust = encoders
    texts = [f"review contract number {i}, naïvely" for i in range(StaticEncoder.PYTHON_TEXTS + 1)]
    assert static.token_ids(texts) == rust_ids(rust, texts)


def test_a_tokenizer_that_is_not_plain_bert_is_left_to_the_rust_library():
    spec = {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}},
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": False, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": []}
    assert WordPiece.from_spec(spec) is None


def test_one_suggestion_never_loads_the_rust_tokenizer():
    code = ("import sys\nfrom recommender import classifier\n"
            "p = classifier.load(personal=False).predict(['review this contract'])[0]\n"
            "print(p.profile, 'tokenizers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["document-intelligence", "False"]
