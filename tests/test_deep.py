"""The deep autoencoder: batch normalisation folded into the classifier's convolutions, training with
RMSprop through the Trainer, initialising cnn_classifier2.py, and the comparison report."""
import json

import chainer
import chainer.functions as F
import numpy as np
import pytest

from conftest import run_script
from specae import checkpoints
from specae.models import CNN, DeepAutoencoder, GreedyStack, leaky_relu, reconstruct_all


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def test_folded_batch_normalisation_equals_convolution_then_normalisation():
    np.random.seed(0)
    model = DeepAutoencoder()
    rng = np.random.default_rng(1)
    for norm in model.encoder_norms:  # statistics and affine terms far from their initial 0 and 1
        size = norm.avg_mean.shape[0]
        norm.avg_mean[...] = rng.normal(size=size)
        norm.avg_var[...] = rng.uniform(0.1, 3.0, size=size)
        norm.gamma.array[...] = rng.uniform(0.5, 2.0, size=size)
        norm.beta.array[...] = rng.normal(size=size)
    x = rng.uniform(size=(4, 1, 64, 64)).astype(np.float32)
    cnn = CNN(3)
    cnn.load_encoders(model)
    with chainer.using_config("train", False):
        h = x
        for conv, norm, folded in zip(model.encoders, model.encoder_norms, cnn.convs):
            expected = norm(conv(h)).array
            np.testing.assert_allclose(folded(h).array, expected, rtol=1e-4, atol=1e-4)
            h = expected


def test_shapes():
    model = DeepAutoencoder()
    x = np.random.default_rng(0).uniform(size=(3, 1, 64, 64)).astype(np.float32)
    with chainer.using_config("train", False):
        code = model.encode(x).array
        rebuilt = reconstruct_all(model, x)
    assert code.shape == (3, 32, 4, 4)
    assert rebuilt.shape == x.shape
    assert GreedyStack(3).reconstruct(x).shape == x.shape


@pytest.fixture(scope="module")
def deep(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("deep")
    run_script("examples/deep/cnn_autoencoder_deep.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 3, "--batchsize", 20,
               "--out", out / "deep")
    return out


def test_deep_autoencoder_trains_with_rmsprop(deep):
    directory = deep / "deep"
    for name in ("log", "loss.png", "model.npz", "model.json", "inout-comparison_autoencoder_deep.png"):
        assert (directory / name).exists(), name
    log = json.loads((directory / "log").read_text())
    assert log[-1]["validation/main/loss"] < log[0]["validation/main/loss"]
    snapshot = weights(directory / "snapshot_epoch_3")
    assert any(key.startswith("updater/optimizer:main/") and key.endswith("/ms") for key in snapshot), \
        "RMSprop keeps a running mean square per parameter"
    info = json.loads((directory / "model.json").read_text())
    assert info["kind"] == "deep_autoencoder" and info["feature_params"]["n_mels"] == 64


def test_classifier_starts_from_the_folded_deep_encoder_and_report(tiny_corpus, deep):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20)
    run_script("cnn_classifier2.py", *data, "--epoch", 0, "--init", deep / "deep" / "model.npz",
               "--out", deep / "initial")
    model, _ = checkpoints.load_autoencoder(str(deep / "deep"))
    initial = weights(deep / "initial" / "model.npz")
    for layer, (w, b) in enumerate(model.encoder_weights()):
        np.testing.assert_allclose(initial["convs/{}/W".format(layer)], w, rtol=1e-6)
        np.testing.assert_allclose(initial["convs/{}/b".format(layer)], b, rtol=1e-6, atol=1e-7)
    assert json.loads((deep / "initial" / "model.json").read_text())["init"] == "pretrained_deep"

    run_script("cnn_classifier2.py", *data, "--epoch", 1, "--init", deep / "deep" / "model.npz",
               "--out", deep / "classifiers" / "deep" / "seed1")
    result = run_script("examples/deep/deep_report.py", "--dataset", tiny_corpus / "DataSet", "--autoencoders", deep / "deep",
                        "--classifiers", deep / "classifiers" / "deep" / "seed1", "--out", deep / "report")
    report = json.loads((deep / "report" / "report.json").read_text())
    row = report["reconstruction"][str(deep / "deep")]
    test = np.load(tiny_corpus / "DataSet" / "test_data.npy")
    expected = np.mean((np.clip(reconstruct_all(model, test), 0, 1) - test) ** 2)
    assert row["test_mse"] == pytest.approx(expected, rel=1e-5) and row["bottleneck"] == [32, 4, 4]
    log = json.loads((deep / "classifiers" / "deep" / "seed1" / "log").read_text())
    group = report["classifiers"][str(deep / "classifiers" / "deep")]
    assert group["final_accuracy"] == [pytest.approx(log[-1]["validation/main/accuracy"])]
    assert "| deep_autoencoder |" in result.stdout


def test_leaky_relu_matches_chainers():
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(leaky_relu(x, 0.2).array, F.leaky_relu(x, 0.2).array, atol=1e-6)
