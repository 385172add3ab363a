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


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_artifact(tmp_path):
    out = tmp_path / "models"
    train.main(["--out", str(out)])
    shipped = json.loads((MODELS / "manifest.json").read_text())
    fresh = json.loads((out / "manifest.json").read_text())
    assert fresh["encoders"]["static"]["sha256"] == shipped["encoders"]["static"]["sha256"]
    for name in ("static", "full"):
        assert fresh["heads"][name]["C"] == shipped["heads"][name]["C"]
        assert fresh["heads"][name]["threshold"] == shipped["heads"][name]["threshold"]
        a, b = Classifier(MODELS, name), Classifier(out, name)
        np.testing.assert_allclose(a.coef, b.coef, atol=1e-4)
        texts = dataset.load().texts[::7] + PROBES
        pa = a.predict(texts, similar=0)
        pb = b.predict(texts, similar=0)
        assert [p.profile for p in pa] == [p.profile for p in pb]
        assert [p.abstained for p in pa] == [p.abstained for p in pb]
        np.testing.assert_allclose([p.confidence for p in pa], [p.confidence for p in pb], atol=1e-4)


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
