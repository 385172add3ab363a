"""Map a task description to a profile: load the trained artifact, embed, predict, explain.

The artifact (models/, made by `python -m training.train`) is arrays in .npz/safetensors plus
manifest.json; nothing here imports torch, sentence-transformers or scikit-learn. The `full`
encoder (the original sentence-transformer) is the accuracy reference and needs the `train` extra.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from recommender import paths
from recommender.errors import ArtifactError, InputError

ARTIFACT_FORMAT = 2
GENERAL = "general"
FALLBACK_PROFILE = "balanced"
ENCODERS = ("static", "full")
# History may only decide between profiles this close, and only when the winner is this unsure.
TIE_MARGIN = 0.10
TIE_MAX_CONFIDENCE = 0.60


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


@dataclass(frozen=True)
class Suggestion:
    """A prediction turned into advice: the profile to use, its models, the tier for this machine."""

    text: str
    profile: str
    confidence: float
    alternatives: tuple[Scored, ...]
    abstained: bool
    fallback_profile: str | None
    recommended_tier: str
    tier_reason: str
    tier_hint: str | None
    similar: tuple[Similar, ...]
    truncated: bool
    encoder: str
    personal: bool
    history_decided: str | None  # the profile history chose over the classifier's narrow winner

    @property
    def chosen_profile(self) -> str:
        """The profile to act on: the fallback when abstaining."""
        return self.fallback_profile or self.profile


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
        head_manifest = self.manifest if head_dir is None else _read_json(head_dir / "manifest.json")
        self.labels: list[str] = list(head_manifest["labels"])
        self.task_labels = [label for label in self.labels if label != GENERAL]
        head = head_manifest["heads"][encoder]
        self.threshold = float(head["threshold"])
        arrays = _load_npz(self.head_dir / head["file"])
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
    def encoder(self):
        spec = self.manifest["encoders"][self.encoder_name]
        if self.encoder_name == "static":
            from recommender.encoder import StaticEncoder

            enc = StaticEncoder(self.model_dir / spec["tokenizer"], self.model_dir / spec["embeddings"])
        else:
            enc = _full_encoder(spec)
        if enc.dim != self.coef.shape[1]:
            raise ArtifactError(f"encoder gives {enc.dim} dimensions, the classifier expects {self.coef.shape[1]}")
        return enc

    def predict(self, texts: list[str], *, similar: int = 3) -> list[Prediction]:
        encoded = self.encoder.encode(texts)
        probs = softmax(self.logits(encoded))
        task_idx = np.array([self.labels.index(label) for label in self.task_labels])
        general_idx = self.labels.index(GENERAL) if GENERAL in self.labels else None
        sims = encoded.vectors @ self.examples.T.astype(np.float32) if similar else None
        results = []
        for i, text in enumerate(texts):
            p = probs[i]
            order = task_idx[np.argsort(-p[task_idx], kind="stable")]
            best = int(order[0])
            abstained = (general_idx is not None and int(np.argmax(p)) == general_idx) or p[best] < self.threshold
            results.append(
                Prediction(
                    text=text,
                    probabilities={label: float(p[j]) for j, label in enumerate(self.labels)},
                    profile=self.labels[best],
                    confidence=float(p[best]),
                    alternatives=tuple(Scored(self.labels[j], float(p[j])) for j in order[1:4]),
                    abstained=bool(abstained),
                    truncated=bool(encoded.truncated[i]),
                    similar=self._similar(sims[i], best, similar) if sims is not None else (),
                )
            )
        return results

    def logits(self, encoded) -> np.ndarray:
        logits = encoded.vectors @ self.coef.T + self.intercept
        bags = encoded.bags
        if self.token_coef is not None and bags is not None and bags.ids.size:
            if self.token_idf is not None:
                bags = bags.reweighted(self.token_idf)
            contrib = self.token_coef[:, bags.ids].astype(np.float32) * bags.weights  # (classes, nnz)
            logits += bags.row_sums(contrib).T
        return logits

    def _similar(self, sims: np.ndarray, label_index: int, count: int) -> tuple[Similar, ...]:
        """The training examples of the predicted profile closest to the text: the reason shown."""
        mask = self.example_labels == label_index
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return ()
        top = candidates[np.argsort(-sims[candidates], kind="stable")[:count]]
        return tuple(Similar(self.example_texts[j], self.labels[label_index], float(sims[j])) for j in top)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load(encoder: str = "static", *, model_dir: Path | None = None, personal: bool = True) -> Classifier:
    """The classifier taskprof uses: the personal head when the user trained one, else the shipped one."""
    model_dir = model_dir or paths.bundled_dir("models")
    if not (model_dir / "manifest.json").is_file():
        raise ArtifactError(f"no trained classifier at {model_dir}: run `python -m training.train`")
    shipped = Classifier(model_dir, encoder)
    personal_dir = paths.personal_model_dir()
    if personal and encoder == "static" and (personal_dir / "manifest.json").is_file():
        base = _read_json(personal_dir / "manifest.json").get("base_training_data")
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


def to_suggestion(
    prediction: Prediction,
    *,
    classifier: Classifier,
    tier: tuple[str, str, str | None],
    history_choice: str | None = None,
) -> Suggestion:
    profile, confidence, alternatives = prediction.profile, prediction.confidence, prediction.alternatives
    abstained = prediction.abstained and not history_choice
    if history_choice and history_choice != profile:
        chosen = next(s for s in alternatives if s.profile == history_choice)
        alternatives = tuple(
            [Scored(profile, confidence)] + [s for s in alternatives if s.profile != history_choice]
        )
        profile, confidence = chosen.profile, chosen.confidence
    recommended, reason, hint = tier
    return Suggestion(
        text=prediction.text,
        profile=profile,
        confidence=confidence,
        alternatives=alternatives,
        abstained=abstained,
        fallback_profile=FALLBACK_PROFILE if abstained else None,
        recommended_tier=recommended,
        tier_reason=reason,
        tier_hint=hint,
        similar=prediction.similar,
        truncated=prediction.truncated,
        encoder=classifier.encoder_name,
        personal=classifier.personal,
        history_decided=history_choice,
    )


def classify(text: str, *, encoder: str = "static", memory: str | None = None) -> Suggestion:
    """Everything `taskprof suggest` decides for one text, without the usage history."""
    from recommender import hardware
    from recommender.profiles import load_catalogue

    text = clean_text(text)
    clf = load(encoder)
    prediction = clf.predict([text])[0]
    catalogue = load_catalogue()
    chosen = FALLBACK_PROFILE if prediction.abstained else prediction.profile
    choice = hardware.recommend_tier(catalogue.get_profile(chosen), hardware.detect(memory))
    return to_suggestion(prediction, classifier=clf, tier=(choice.tier, choice.reason, choice.hint))


def clean_text(text: str) -> str:
    """Collapse whitespace; empty text is a usage error."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InputError("the task description is empty: say what you want to do, e.g. taskprof suggest \"review this contract\"")
    return cleaned


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: the classifier artifact is incomplete") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: the classifier artifact is incomplete") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from None


def _full_encoder(spec: dict[str, Any]):
    """The original sentence-transformer, for `--encoder full` (needs the `train` extra)."""
    from recommender.encoder import FullEncoder

    return FullEncoder(expected_sha256=spec["sha256"])
