"""Training on a few labels (make curve): the class-balanced subset and the fixed number of updates."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import run_script
from specae.dataset import labelled_subset


@st.composite
def training_splits(draw):
    """Labels of a training split: clips of 2–5 classes (each at least 3), then 0–2 degraded copies of
    every clip appended in the same order, as make_dataset.py writes them."""
    classes = draw(st.integers(2, 5))
    clips = draw(st.lists(st.integers(0, classes - 1), min_size=3 * classes, max_size=60))
    clips = np.array(clips + [c for c in range(classes) for _ in range(3)])
    return clips, draw(st.integers(0, 2))


@settings(max_examples=60, deadline=None)
@given(training_splits(), st.integers(1, 3), st.integers(0, 2 ** 31))
def test_subset_is_balanced_nested_and_brings_the_copies(split, per_class, seed):
    clip_labels, copies = split
    labels = np.tile(clip_labels, copies + 1)
    rows = labelled_subset(labels, per_class, seed, len(clip_labels))
    chosen = rows[rows < len(clip_labels)]
    assert np.bincount(clip_labels[chosen]).tolist() == [per_class] * (clip_labels.max() + 1)
    assert len(set(chosen.tolist())) == len(chosen)
    assert sorted(rows.tolist()) == sorted((chosen[:, None] + len(clip_labels) * np.arange(copies + 1)).ravel().tolist())
    assert np.array_equal(labels[rows], np.tile(clip_labels[chosen], copies + 1))
    if per_class > 1:  # the clips drawn for fewer labels are among those drawn for more
        smaller = labelled_subset(labels, per_class - 1, seed, len(clip_labels))
        assert set(smaller.tolist()) <= set(rows.tolist())
    assert np.array_equal(rows, labelled_subset(labels, per_class, seed, len(clip_labels)))


def test_subset_refuses_too_few_clips_and_copies_out_of_order():
    labels = np.array([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="class 0 has 2 training clips, fewer than the 3"):
        labelled_subset(labels, 3, 0)
    with pytest.raises(ValueError, match="do not follow its clips"):
        labelled_subset(np.array([0, 1, 1, 0]), 1, 0, 2)
    with pytest.raises(ValueError, match="not whole copies"):
        labelled_subset(labels, 1, 0, 2)


def test_a_few_labels_train_for_the_given_updates(tiny_corpus, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 4, "--iterations", 3, "--seed", 7)
    run_script("cnn_classifier1.py", *data, "--labels-per-class", 1, "--subset-seed", 2, "--out", tmp_path / "one")
    info = json.loads((tmp_path / "one" / "model.json").read_text())
    assert (info["labels_per_class"], info["subset_seed"], info["labelled_clips"], info["labelled_rows"]) == (1, 2, 10, 10)
    assert info["iterations"] == 3 and info["epochs"] == pytest.approx(3 * 4 / 10)
    log = json.loads((tmp_path / "one" / "log").read_text())
    assert len(log) == 1 and log[0]["iteration"] == 3 and 0.0 <= log[0]["validation/main/accuracy"] <= 1.0
    assert not list((tmp_path / "one").glob("snapshot_*")) and not list((tmp_path / "one").glob("*.png"))


def test_more_labels_than_clips_is_a_one_line_error(tiny_corpus, tmp_path):
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--iterations", 1,
                        "--labels-per-class", 1000, "--out", tmp_path / "out", check=False)
    assert result.returncode != 0
    assert "--labels-per-class 1000" in result.stderr and "fewer than the 1000 asked for" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--labels-per-class", "0",
                     "--out", tmp_path / "out", check=False)
    assert bad.returncode == 2 and "expected a whole number of at least 1 or 'all'" in bad.stderr
