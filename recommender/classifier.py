"""Map a task description to a profile: load the trained artifact, embed, predict, explain.

The artifact (models/, made by `python -m training.train`) is arrays in safetensors files plus
manifest.json; nothing here imports torch, sentence-transformers or scikit-learn. The `full`
encoder (the original sentence-transformer) is the accuracy reference and needs the `train` extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender import paths, reading
from recommender.errors import ArtifactError, InputError

if TYPE_CHECKING:  # annotations only: the encoder and the speller are imported where first used
    import numpy.typing as npt

    from recommender.encoder import Encoded, FullEncoder, StaticEncoder
    from recommender.spelling import Speller

ARTIFACT_FORMAT = 3
GENERAL = "general"
FALLBACK_PROFILE = "balanced"
ENCODERS = ("static", "full")
# History may only decide between profiles this close, and only when the winner is this unsure.
TIE_MARGIN = 0.10
TIE_MAX_CONFIDENCE = 0.60
# What the kind of pasted material says, as a logit bonus beside the instruction's own logits. Hand-set
# (not fitted: no training text has a paste): mild, so that the instruction decides when it says
# anything, and the paste decides "thoughts?" under a CSV. Doubled when no instruction was found.
PAYLOAD_PRIOR: dict[str, dict[str, float]] = {
    "code": {"programming": 1.0, "data-work": 0.3},
    "legal": {"document-intelligence": 1.0},
    "table": {"data-work": 1.0},
    "email": {"writing": 0.6, "document-intelligence": 0.4},
    "transcript": {"document-intelligence": 1.0},
    "prose": {"writing": 0.5, "document-intelligence": 0.5},
}
PAYLOAD_ALONE = 2.0
# A request with two asks ("summarize this contract and draft an email to the client"): the first
# ask's probabilities count twice as much as the second's.
FIRST_ASK_WEIGHT = 2 / 3


@dataclass(frozen=True)
class Scored:
    profile: str
    confidence: float


@dataclass(frozen=True)
class Similar:
    text: str
    profile: str
    similarity: float


@dataclass(frozen=True)
class Prediction:
    """What the classifier alone says about one text."""

    text: str
    probabilities: dict[str, float]  # every label, general included
    profile: str  # the best task profile, even when abstaining
    confidence: float
    alternatives: tuple[Scored, ...]  # the runner-up task profiles, best first
    abstained: bool
    truncated: bool
    similar: tuple[Similar, ...]
    focus: str | None = None  # the span that decided (the instruction in a paste, X in "which model for X"); None: the whole text
    payload_kind: str | None = None  # what was pasted around the instruction: code, legal, table, email, transcript, prose
    language: str = "en"  # ISO 639-1 of the text, "und" when undetermined
    language_supported: bool = True  # False: the head does not read this language, and the prediction abstained


class Classifier:
    """A trained head over one encoder, loaded from an artifact folder."""

    def __init__(self, model_dir: Path, encoder: str = "static", head_dir: Path | None = None):
        if encoder not in ENCODERS:
            raise InputError(f"unknown encoder '{encoder}': choose {' or '.join(ENCODERS)}")
        self.model_dir = model_dir
        self.encoder_name = encoder
        # A personal head (taskprof train --personal) replaces the shipped head, not the encoder.
        self.head_dir = head_dir or model_dir
        self.personal = head_dir is not None
        self.manifest = _read_json(model_dir / "manifest.json")
        if self.manifest.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(
                f"{model_dir / 'manifest.json'}: artifact format {self.manifest.get('format')!r}, "
                f"this taskprof reads {ARTIFACT_FORMAT}; retrain with `python -m training.train`"
            )
        head_manifest = self.manifest if head_dir is None else _read_json(head_dir / "manifest.json", dict)
        self.labels: list[str] = list(head_manifest["labels"])
        self.task_labels = [label for label in self.labels if label != GENERAL]
        head = head_manifest["heads"][encoder]
        self.threshold = float(head["threshold"])
        arrays = _load_arrays(self.head_dir / head["file"])
        self.coef = arrays["coef"].astype(np.float32)
        self.intercept = arrays["intercept"].astype(np.float32)
        # Per-token class weights over the encoder's vocabulary (static encoder only): a linear
        # model on the token bag, learned beside the one on the mean embedding.
        self.token_coef = arrays.get("token_coef")
        # The bag's tokens are weighted by their inverse document frequency in the training data.
        self.token_idf = arrays.get("token_idf")
        self.examples = arrays["examples"]
        self.example_labels = arrays["example_labels"]
        self.example_texts: list[str] = _read_json(self.head_dir / head_manifest["examples_file"])
        if self.coef.shape[0] != len(self.labels) or len(self.example_texts) != len(self.example_labels):
            raise ArtifactError(f"{self.head_dir}: the arrays do not match the manifest's labels")

    @cached_property
    def _examples_by_column(self) -> np.ndarray:
        """The training examples' vectors as float32 columns, made once (a served process asks often)."""
        return np.ascontiguousarray(self.examples.T, dtype=np.float32)

    @cached_property
    def encoder(self) -> StaticEncoder | FullEncoder:
        spec = self.manifest["encoders"][self.encoder_name]
        enc: StaticEncoder | FullEncoder
        if self.encoder_name == "static":
            from recommender.encoder import StaticEncoder

            enc = StaticEncoder(self.model_dir / spec["tokenizer"], self.model_dir / spec["embeddings"])
        else:
            enc = _full_encoder(spec)
        if enc.dim != self.coef.shape[1]:
            raise ArtifactError(f"encoder gives {enc.dim} dimensions, the classifier expects {self.coef.shape[1]}")
        return enc

    @cached_property
    def char_head(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(coef as (buckets, classes), intercept, weight) of the character n-gram model, if the artifact has one.

        It is the shipped one even under a personal head: a personal refit changes the word-level head only.
        """
        spec = self.manifest["heads"].get(self.encoder_name, {}).get("char")
        if not spec:
            return None
        from recommender.encoder import CHAR_BUCKETS, CHAR_NGRAMS, read_safetensors

        if spec.get("buckets") != CHAR_BUCKETS or tuple(spec.get("ngrams", ())) != CHAR_NGRAMS:
            raise ArtifactError(f"{self.model_dir}: the character n-gram head was made with other hashing settings; retrain")
        tensors = read_safetensors(self.model_dir / spec["file"])
        coef, intercept = tensors.get("coef"), tensors.get("intercept")
        if coef is None or intercept is None or coef.shape != (CHAR_BUCKETS, intercept.shape[0]):
            raise ArtifactError(f"{self.model_dir / spec['file']}: not a character n-gram head")
        return coef, np.asarray(intercept, dtype=np.float32), float(spec["weight"])

    @cached_property
    def speller(self) -> Speller | None:
        """Mends misspelt words (static encoder only: it needs the vocabulary and the training words)."""
        spec = self.manifest.get("speller")
        if not spec or self.encoder_name != "static":
            return None
        from recommender.encoder import StaticEncoder
        from recommender.spelling import Speller

        encoder = self.encoder
        assert isinstance(encoder, StaticEncoder)  # encoder_name is "static"
        return Speller(lambda: _read_json(self.model_dir / spec["file"]), encoder.vocab.__contains__)

    def predict(self, texts: list[str], *, similar: int = 3) -> list[Prediction]:
        """Classify raw texts (newlines and all): each is read first (language, instruction vs payload,
        questions about models, negations), then the head sees the part that asks."""
        readings = [reading.read(t) for t in texts]
        model_texts = [r.model_text for r in readings]
        if self.speller is not None:
            model_texts = [self.speller.correct(t) if r.language in (reading.ENGLISH, reading.UNDETERMINED) else t
                           for t, r in zip(model_texts, readings, strict=True)]
        encoded = self.encoder.encode(model_texts)
        probs = softmax(self.logits(encoded, model_texts) + self._payload_bias(readings))
        second = [i for i, r in enumerate(readings) if r.second_ask]
        if second:
            # "X and then Y": X decides, Y weighs half as much (its profile is the runner-up when X is clear).
            asks = [ask for i in second if (ask := readings[i].second_ask)]  # every one: `second` has an ask
            if self.speller is not None:
                asks = [self.speller.correct(t) for t in asks]
            then = softmax(self.logits(self.encoder.encode(asks), asks))
            probs[second] = FIRST_ASK_WEIGHT * probs[second] + (1 - FIRST_ASK_WEIGHT) * then
        task_idx = np.array([self.labels.index(label) for label in self.task_labels])
        general_idx = self.labels.index(GENERAL) if GENERAL in self.labels else None
        sims = encoded.vectors @ self._examples_by_column if similar else None
        results = []
        for i, r in enumerate(readings):
            p = probs[i]
            order = task_idx[np.argsort(-p[task_idx], kind="stable")]
            best = int(order[0])
            abstained = ((general_idx is not None and int(np.argmax(p)) == general_idx) or p[best] < self.threshold
                         or not r.language_supported)
            results.append(
                Prediction(
                    text=r.text,
                    probabilities={label: float(p[j]) for j, label in enumerate(self.labels)},
                    profile=self.labels[best],
                    confidence=float(p[best]),
                    alternatives=tuple(Scored(self.labels[j], float(p[j])) for j in order[1:4]),
                    abstained=bool(abstained),
                    truncated=bool(encoded.truncated[i]),
                    similar=self._similar(sims[i], best, similar) if sims is not None else (),
                    focus=r.focus,
                    payload_kind=r.payload_kind,
                    language=r.language,
                    language_supported=r.language_supported,
                )
            )
        return results

    def logits(self, encoded: Encoded, texts: list[str] | None = None) -> npt.NDArray[np.float32]:
        """The head's logits: the word-level model (mean embedding + token bag) plus, given the
        texts, the character n-gram model's logits times its weight."""
        logits: npt.NDArray[np.float32] = encoded.vectors @ self.coef.T + self.intercept
        bags = encoded.bags
        if self.token_coef is not None and bags is not None and bags.ids.size:
            if self.token_idf is not None:
                bags = bags.reweighted(self.token_idf)
            contrib = self.token_coef[:, bags.ids].astype(np.float32) * bags.weights  # (classes, nnz)
            logits += bags.row_sums(contrib).T
        if texts is not None and (char := self.char_head) is not None:
            from recommender.encoder import char_ngram_bags

            coef, intercept, weight = char
            grams = char_ngram_bags(texts)
            contrib = np.asarray(coef[grams.ids], dtype=np.float32).T * grams.weights  # (classes, nnz)
            char_logits = grams.row_sums(contrib).T + intercept
            shipped = char_logits.shape[1]
            # A personal head may have labels of the user's own, which the character model never saw:
            # they get its best logit, so that it never argues against them (a row mean let the
            # shipped `writing` outvote a user's 'legal-drafting' profile learned from corrections).
            logits[:, :shipped] += weight * char_logits
            if logits.shape[1] > shipped:
                logits[:, shipped:] += weight * char_logits.max(axis=1, keepdims=True)
        return logits

    def _payload_bias(self, readings: list[reading.Reading]) -> np.ndarray:
        """Logit bonus from the kind of pasted material: the second signal after the instruction."""
        bias = np.zeros((len(readings), len(self.labels)), dtype=np.float32)
        for i, r in enumerate(readings):
            if r.payload_kind is None:
                continue
            scale = 1.0 if r.focus is not None else PAYLOAD_ALONE
            for label, value in PAYLOAD_PRIOR.get(r.payload_kind, {}).items():
                if label in self.labels:
                    bias[i, self.labels.index(label)] += scale * value
        return bias

    def _similar(self, sims: np.ndarray, label_index: int, count: int) -> tuple[Similar, ...]:
        """The training examples of the predicted profile closest to the text: the reason shown."""
        mask = self.example_labels == label_index
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return ()
        top = candidates[np.argsort(-sims[candidates], kind="stable")[:count]]
        return tuple(Similar(self.example_texts[j], self.labels[label_index], float(sims[j])) for j in top)


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    probs: npt.NDArray[np.float32] = e / e.sum(axis=1, keepdims=True)
    return probs


def load(encoder: str = "static", *, model_dir: Path | None = None, personal: bool = True) -> Classifier:
    """The classifier taskprof uses: the personal head when the user trained one, else the shipped one."""
    model_dir = model_dir or paths.bundled_dir("models")
    if not (model_dir / "manifest.json").is_file():
        raise ArtifactError(f"no trained classifier at {model_dir}: run `python -m training.train`")
    shipped = Classifier(model_dir, encoder)
    personal_dir = paths.personal_model_dir()
    if personal and encoder == "static" and (personal_dir / "manifest.json").is_file():
        base = _read_json(personal_dir / "manifest.json", dict).get("base_training_data")
        # A personal head refitted on older shipped data is stale after an upgrade: ignore it.
        if base == shipped.manifest["training_data"]["sha256"]:
            return Classifier(model_dir, encoder, head_dir=personal_dir)
    return shipped


def is_torn(prediction: Prediction) -> bool:
    """Could history decide this one? Cheap: callers test it before opening the usage log.

    Torn: the best task profile has less than TIE_MAX_CONFIDENCE and another is within TIE_MARGIN
    of it, and the `general` class did not win (chit-chat stays chit-chat whatever the history).
    A close call may also have been an abstention for low confidence; history can settle it.
    """
    general = prediction.probabilities.get(GENERAL, 0.0)
    return (
        general < prediction.confidence
        and prediction.confidence < TIE_MAX_CONFIDENCE
        and any(prediction.confidence - s.confidence <= TIE_MARGIN for s in prediction.alternatives)
    )


def break_tie(prediction: Prediction, history: dict[str, int] | None) -> str | None:
    """The profile the user's history picks when the classifier is torn, else None.

    Among the task profiles within TIE_MARGIN of the best one (the best included), the one used
    most often wins if it was used more often than the classifier's choice. When the close call
    had made the classifier abstain, history used at least once for its choice settles it too.
    A confident classification, or one where `general` wins, is never overridden.
    """
    if not history or not is_torn(prediction):
        return None
    close = [prediction.profile] + [
        s.profile for s in prediction.alternatives if prediction.confidence - s.confidence <= TIE_MARGIN
    ]
    favourite = max(close, key=lambda name: (history.get(name, 0), name == prediction.profile))
    if history.get(favourite, 0) > history.get(prediction.profile, 0):
        return favourite
    if prediction.abstained and history.get(prediction.profile, 0) > 0:
        return prediction.profile
    return None


def _read_json(path: Path, expect: type | None = None) -> Any:
    from recommender import files  # the one guarded read: size cap, regular file, depth-limited JSON

    try:
        value = files.read_json(path, max_bytes=64_000_000, expect=expect)
    except files.DamagedFile as exc:
        raise ArtifactError(str(exc)) from None
    if value is None:
        raise ArtifactError(f"{path} is missing: the classifier artifact is incomplete")
    return value


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """A head's arrays: the shipped heads are safetensors (mapped, ~0.3 ms); a personal head is .npz
    (written by `train --personal` with numpy alone; np.load's zip reading costs ~7 ms)."""
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: the classifier artifact is incomplete")
        from recommender.encoder import read_safetensors

        return read_safetensors(path)
    from recommender import files

    try:
        return files.read_npz(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: the classifier artifact is incomplete") from None
    except files.DamagedFile as exc:
        raise ArtifactError(str(exc)) from None


def _full_encoder(spec: dict[str, Any]) -> FullEncoder:
    """The original sentence-transformer, for `--encoder full` (needs the `train` extra)."""
    from recommender.encoder import FullEncoder

    return FullEncoder(expected_sha256=spec["sha256"])
