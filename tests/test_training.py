"""training/: the data meets the bar, and the shipped models/ is exactly what training/ produces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender import paths
from recommender.classifier import Classifier
from recommender.encoder import TEACHER_SHA256, sha256_file, teacher_path
from training import dataset, train

MODELS = paths.bundled_dir("models")
PROBES = [
    "review this contract",
    "write a SQL query for monthly revenue by region",
    "tell me a joke",
    "design a rate limiter for a public API",
    "brainstorm names for a coffee shop",
]


def test_each_class_has_enough_hand_written_examples():
    counts = dataset.load().counts()
    for label in dataset.TASK_LABELS:
        assert counts[label] >= 150, (label, counts[label])
    assert counts[dataset.GENERAL] >= 120


def test_examples_are_two_to_sixty_words():
    data = dataset.load()
    lengths = [len(t.split()) for t in data.texts]
    assert max(lengths) <= 60
    # Keyboard mash and single words belong to `general` only.
    assert all(n >= 2 for n, label in zip(lengths, data.labels, strict=True) if label != dataset.GENERAL)


def test_duplicate_across_labels_is_refused(tmp_path):
    for label in dataset.LABELS:
        (tmp_path / f"{label}.txt").write_text(f"a line for {label}\n")
    (tmp_path / "writing.txt").write_text("A line for programming\n")
    with pytest.raises(SystemExit, match="duplicate"):
        dataset.load(tmp_path)


def test_the_held_out_set_is_never_trained_on():
    heldout = paths.bundled_dir("models").parent / "benchmarks" / "heldout"
    lines = {" ".join(line.lower().split()) for f in heldout.glob("*.txt") for line in f.read_text().splitlines() if line.strip()}
    assert len(lines) >= 400
    trained = {" ".join(t.lower().split()) for t in dataset.load().texts}
    assert lines & trained == set()


@pytest.mark.slow  # the teacher's weights come with the train extra
def test_teacher_weights_are_pinned():
    assert sha256_file(teacher_path() / "model.safetensors") == TEACHER_SHA256


def test_shipped_artifact_was_trained_on_this_data():
    manifest = json.loads((MODELS / "manifest.json").read_text())
    assert manifest["training_data"]["sha256"] == dataset.load().sha256, "models/ is stale: run python -m training.train"
    assert manifest["labels"] == list(dataset.LABELS)
    static = manifest["encoders"]["static"]
    for key in ("tokenizer", "embeddings"):
        assert sha256_file(MODELS / static[key]) == static["sha256"][key]


def test_artifact_has_no_pickles():
    suffixes = {p.suffix for p in MODELS.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".npz", ".safetensors"}, suffixes
    for npz in MODELS.glob("*.npz"):
        with np.load(npz, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)


# Where CI lays shared/ beside the clone; the public benchmark is never trained on.
PUBLIC_TASKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "public_tasks.jsonl"
# What a retrain with other valid library versions must keep. Bytes change with the versions (the
# distillation's floating point), the decisions must not.
SAME_PROFILE = 0.99
CV_TOLERANCE = 0.005
THRESHOLD_TOLERANCE = 0.02


def artifact_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("retrained") / "models"
    train.main(["--out", str(out)])
    return out


def same_profile_share(a: Classifier, b: Classifier, texts: list[str]) -> float:
    pa, pb = a.predict(texts, similar=0), b.predict(texts, similar=0)
    return float(np.mean([x.profile == y.profile for x, y in zip(pa, pb, strict=True)]))


@pytest.mark.slow
def test_retraining_keeps_the_figures_of_the_shipped_artifact(retrained):
    shipped = json.loads((MODELS / "manifest.json").read_text())
    fresh = json.loads((retrained / "manifest.json").read_text())
    assert fresh["training_data"] == shipped["training_data"]
    for name in ("static", "full"):
        ours, theirs = fresh["heads"][name], shipped["heads"][name]
        assert abs(ours["cv"]["top1"] - theirs["cv"]["top1"]) <= CV_TOLERANCE, (name, ours["cv"], theirs["cv"])
        assert abs(ours["threshold"] - theirs["threshold"]) <= THRESHOLD_TOLERANCE, (name, ours["threshold"], theirs["threshold"])
    ours, theirs = fresh["heads"]["static"]["personal_baseline"], shipped["heads"]["static"]["personal_baseline"]
    assert abs(ours["cv_top1"] - theirs["cv_top1"]) <= CV_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["static", "full"])
def test_retraining_predicts_the_same_profiles_on_the_training_texts(retrained, name):
    share = same_profile_share(Classifier(MODELS, name), Classifier(retrained, name), [*dataset.load().texts, *PROBES])
    assert share >= SAME_PROFILE, share


@pytest.mark.slow
def test_retraining_predicts_the_same_profiles_on_the_public_benchmark(retrained):
    if not PUBLIC_TASKS.is_file():
        pytest.skip(f"the public benchmark is not at {PUBLIC_TASKS} (CI lays shared/ beside the clone)")
    texts = [json.loads(line)["text"] for line in PUBLIC_TASKS.read_text().splitlines() if line.strip()]
    assert len(texts) > 500
    for name in ("static", "full"):
        share = same_profile_share(Classifier(MODELS, name), Classifier(retrained, name), texts)
        assert share >= SAME_PROFILE, (name, share)


@pytest.mark.slow
def test_retraining_with_the_manifests_versions_reproduces_the_artifact_exactly(retrained):
    """Same libraries and CPU, same bytes. The shipped manifest names no CPU (its static encoder was
    distilled on one that was not recorded), so on any machine this skips saying so."""
    shipped = json.loads((MODELS / "manifest.json").read_text())
    fresh = json.loads((retrained / "manifest.json").read_text())
    assert fresh["versions"] == train.library_versions()
    if fresh["versions"] != shipped["versions"]:
        differ = {k: (shipped["versions"].get(k), v) for k, v in fresh["versions"].items() if shipped["versions"].get(k) != v}
        pytest.skip(f"library versions differ from the manifest's (manifest, installed): {differ}")
    assert artifact_hashes(retrained) == artifact_hashes(MODELS)


@pytest.mark.slow  # model2vec comes with the train extra
def test_static_encoder_matches_model2vec():
    """Our numpy inference is model2vec's: same tokens, same mean, same normalisation."""
    from model2vec import StaticModel
    from safetensors.numpy import save_file

    from recommender.encoder import StaticEncoder

    encoder = StaticEncoder(MODELS / "encoder" / "tokenizer.json", MODELS / "encoder" / "embeddings.safetensors")
    tmp = Path(paths.data_dir()) / "m2v"
    tmp.mkdir(parents=True)
    save_file({"embeddings": np.asarray(encoder.table, dtype=np.float32)}, str(tmp / "model.safetensors"))
    (tmp / "tokenizer.json").write_bytes((MODELS / "encoder" / "tokenizer.json").read_bytes())
    (tmp / "config.json").write_text(json.dumps({"model_type": "model2vec", "normalize": True, "hidden_dim": encoder.dim}))
    reference = StaticModel.from_pretrained(tmp)
    texts = [*PROBES, "Ünïcödé and emoji 🎉 in a sentence", "x"]
    np.testing.assert_allclose(encoder.encode(texts).vectors, reference.encode(texts), atol=1e-3)


WRITTEN_CONVERSATIONS = Path(__file__).resolve().parents[1] / "training" / "conversations" / "written_train.jsonl"


def test_written_conversations_cover_every_profile_and_are_consistent():
    conversations = [json.loads(line) for line in WRITTEN_CONVERSATIONS.read_text().splitlines() if line.strip()]
    assert len(conversations) >= 60
    assert {label for c in conversations for label in c["labels"]} == set(dataset.LABELS)
    for c in conversations:
        users = [m for m in c["messages"] if m["role"] == "user"]
        assert len(users) == len(c["labels"]) == len(c["kinds"]), c["id"]
        assert c["kinds"][0] == "new" and "new" not in c["kinds"][1:], c["id"]
        for before, label, kind in zip(c["labels"], c["labels"][1:], c["kinds"][1:], strict=False):
            assert (kind == "follow") == (label == before), c["id"]
    kinds = [k for c in conversations for k in c["kinds"]]
    assert kinds.count("switch") >= 20


def test_only_hand_written_examples_are_shipped():
    """Real prompts train the heads, but their text never leaves the training run."""
    examples = json.loads((MODELS / "examples.json").read_text())
    assert examples == dataset.load().texts


def test_the_router_head_is_shipped_with_what_it_was_fitted_on():
    router = json.loads((MODELS / "router.json").read_text())
    assert router["trained_on"]["written"] >= 60
    manifest = json.loads((MODELS / "manifest.json").read_text())
    if "router" in manifest:  # written by a full retrain
        assert router["trained_on"] == manifest["router"]["trained_on"]
