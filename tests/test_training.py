"""Greedy pretraining, the classifiers and the comparison, on the tiny corpus with 1–2 epochs."""
import json
import os

import numpy as np
import pytest

from conftest import cuda_device_count, run_script


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


@pytest.fixture(scope="module")
def pretrained(tiny_corpus):
    """AE1 → AE2 → AE3, two epochs each."""
    out = tiny_corpus / "result"
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 2, "--batchsize", 20)
    run_script("cnn_autoencoder1.py", *data, "--out", out / "autoencoder1")
    for layer in (2, 3):
        run_script("cnn_autoencoder{}.py".format(layer), *data, "--out", out / "autoencoder{}".format(layer),
                   "--init", out / "autoencoder{}".format(layer - 1) / "model.npz")
    return out


def test_autoencoders_write_their_outputs(pretrained):
    for layer in (1, 2, 3):
        directory = pretrained / "autoencoder{}".format(layer)
        for name in ("log", "loss.png", "model.npz", "model.json", "snapshot_epoch_2",
                     "inout-comparison_autoencoder{}.png".format(layer)):
            assert (directory / name).exists(), name
        log = json.loads((directory / "log").read_text())
        assert [entry["epoch"] for entry in log] == [0, 1, 2]
        assert log[-1]["validation/main/loss"] < log[0]["validation/main/loss"]
        info = json.loads((directory / "model.json").read_text())
        assert info["n_layers"] == layer and info["feature_params"]["n_mels"] == 64


def test_frozen_layers_are_bit_identical_after_training(pretrained):
    ae1, ae2, ae3 = (weights(pretrained / "autoencoder{}".format(k) / "model.npz") for k in (1, 2, 3))
    assert sorted(ae2) == sorted(list(ae1) + ["1/encoder/W", "1/encoder/b", "1/decoder/W", "1/decoder/b"])
    for name, value in ae1.items():
        np.testing.assert_array_equal(ae2[name], value)
    for name, value in ae2.items():
        np.testing.assert_array_equal(ae3[name], value)
    assert ae3["2/encoder/W"].shape == (32, 32, 6, 6)
    # frozen for the optimizer too: Adam keeps state (and spends a step) for the trained layer's weights only
    with np.load(pretrained / "autoencoder3" / "snapshot_epoch_2") as snapshot:
        moments = sorted(name.split(":main/")[1] for name in snapshot.files if "optimizer" in name and name.endswith("/m"))
    assert moments == ["2/decoder/W/m", "2/decoder/b/m", "2/encoder/W/m", "2/encoder/b/m"]


def test_cached_features_train_like_the_uncached_original(tiny_corpus, pretrained, tmp_path):
    common = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20,
              "--init", pretrained / "autoencoder1" / "model.npz")
    run_script("cnn_autoencoder2.py", *common, "--out", tmp_path / "cached")
    run_script("cnn_autoencoder2.py", *common, "--out", tmp_path / "uncached", "--no-cache")
    cached, uncached = weights(tmp_path / "cached" / "model.npz"), weights(tmp_path / "uncached" / "model.npz")
    for name in cached:
        np.testing.assert_allclose(cached[name], uncached[name], rtol=1e-4, atol=1e-6)


def test_pretrained_classifier_starts_from_the_encoders_and_compares(tiny_corpus, pretrained):
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 2, "--batchsize", 20)
    for seed in (1, 2):
        run_script("cnn_classifier1.py", "--layers", 2, *data, "--seed", seed,
                   "--out", pretrained / "classifier_2cnn" / "seed{}".format(seed))
        run_script("cnn_classifier1.py", "--layers", 3, *data, "--seed", seed,
                   "--out", pretrained / "classifier_3cnn" / "seed{}".format(seed))
        run_script("cnn_classifier2.py", *data, "--seed", seed, "--init", pretrained / "autoencoder3" / "model.npz",
                   "--epoch", 0, "--out", pretrained / "initial" / "seed{}".format(seed))
        run_script("cnn_classifier2.py", *data, "--seed", seed, "--init", pretrained / "autoencoder3" / "model.npz",
                   "--out", pretrained / "classifier_pretrained" / "seed{}".format(seed))
    encoders = weights(pretrained / "autoencoder3" / "model.npz")
    initial = weights(pretrained / "initial" / "seed1" / "model.npz")
    for layer in range(3):
        np.testing.assert_array_equal(initial["convs/{}/W".format(layer)], encoders["{}/encoder/W".format(layer)])
    trained = weights(pretrained / "classifier_pretrained" / "seed1" / "model.npz")
    assert not np.array_equal(trained["convs/0/W"], encoders["0/encoder/W"])
    for model in ("classifier_2cnn", "classifier_3cnn", "classifier_pretrained"):
        for name in ("accuracy.png", "loss.png", "log", "model.json"):
            assert (pretrained / model / "seed1" / name).exists()

    result = run_script("plot_comparison.py", "--result", pretrained, "--seeds", 1, 2)
    summary = json.loads((pretrained / "comparison.json").read_text())
    assert set(summary) == {"classifier_2cnn", "classifier_3cnn", "classifier_pretrained"}
    logs = [json.loads((pretrained / "classifier_3cnn" / "seed{}".format(s) / "log").read_text()) for s in (1, 2)]
    finals = [log[-1]["validation/main/accuracy"] for log in logs]
    assert summary["classifier_3cnn"]["final_accuracy_mean"] == pytest.approx(np.mean(finals))
    assert summary["classifier_3cnn"]["final_accuracy_std"] == pytest.approx(np.std(finals))
    assert "| 3-CNN |" in (pretrained / "comparison.md").read_text() and "| 3-CNN |" in result.stdout
    for figure in ("loss-accuracy_comparison.png", "loss-accuracy_comparison_pre-train.png"):
        assert (pretrained / figure).read_bytes()[:4] == b"\x89PNG"


def test_frozen_encoders_stay_the_autoencoders_for_their_epochs_then_train(tiny_corpus, pretrained, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--seed", 1,
            "--init", pretrained / "autoencoder3" / "model.npz")
    run_script("cnn_classifier2.py", *data, "--epoch", 0, "--out", tmp_path / "initial")
    # one epoch frozen is the default from autoencoder weights (a fresh fully connected layer learns to read them first)
    run_script("cnn_classifier2.py", *data, "--epoch", 1, "--out", tmp_path / "frozen")
    run_script("cnn_classifier2.py", *data, "--epoch", 2, "--freeze-epochs", 1, "--out", tmp_path / "released")
    run_script("cnn_classifier2.py", *data, "--epoch", 1, "--freeze-epochs", 0, "--out", tmp_path / "unfrozen")
    run_script("cnn_classifier2.py", *data, "--epoch", 1, "--iterations", 2, "--out", tmp_path / "counted")
    encoders, initial = weights(pretrained / "autoencoder3" / "model.npz"), weights(tmp_path / "initial" / "model.npz")
    frozen, released = weights(tmp_path / "frozen" / "model.npz"), weights(tmp_path / "released" / "model.npz")
    for layer in range(3):
        np.testing.assert_array_equal(frozen["convs/{}/W".format(layer)], encoders["{}/encoder/W".format(layer)])
        np.testing.assert_array_equal(frozen["convs/{}/b".format(layer)], encoders["{}/encoder/b".format(layer)])
        assert not np.array_equal(released["convs/{}/W".format(layer)], encoders["{}/encoder/W".format(layer)])
    assert not np.array_equal(frozen["fc/W"], initial["fc/W"])  # the fully connected layer trained meanwhile
    # --freeze-epochs 0, and --iterations (whose updates may all fall in one epoch), train every layer at once
    for name in ("unfrozen", "counted"):
        moved = weights(tmp_path / name / "model.npz")
        assert not np.array_equal(moved["convs/0/W"], encoders["0/encoder/W"]), name
        assert "freeze_epochs" not in json.loads((tmp_path / name / "model.json").read_text())
    assert json.loads((tmp_path / "frozen" / "model.json").read_text())["freeze_epochs"] == 1
    assert json.loads((tmp_path / "released" / "model.json").read_text())["freeze_epochs"] == 1
    # resumed from the end of the frozen epoch, the run releases the convolutions and ends where it did
    run_script("cnn_classifier2.py", *data, "--epoch", 2, "--freeze-epochs", 1, "--out", tmp_path / "resumed",
               "--resume", tmp_path / "released" / "snapshot_epoch_1")
    for name, value in weights(tmp_path / "resumed" / "model.npz").items():
        np.testing.assert_array_equal(value, released[name])


def test_classifier2_refuses_missing_or_mismatched_weights(tiny_corpus, pretrained, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--out", tmp_path / "out")
    missing = run_script("cnn_classifier2.py", *data, "--init", tmp_path / "none.npz", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("error: cannot initialise from pretrained weights: {}: no such weights file "
                                      "(run make pretrain)".format(tmp_path / "none.npz"))
    too_shallow = run_script("cnn_classifier2.py", *data, "--init", pretrained / "autoencoder2" / "model.npz",
                             check=False)
    assert too_shallow.returncode == 1 and "has no weights for 2/decoder/W" in too_shallow.stderr
    stored = weights(pretrained / "autoencoder3" / "model.npz")
    stored["1/encoder/W"] = stored["1/encoder/W"][:16]
    np.savez(tmp_path / "wrong.npz", **stored)
    wrong = run_script("cnn_classifier2.py", *data, "--init", tmp_path / "wrong.npz", check=False)
    assert wrong.returncode == 1
    assert "1/encoder/W has shape (16, 16, 6, 6), expected (32, 16, 6, 6)" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not (tmp_path / "out" / "model.npz").exists()


@pytest.mark.parametrize("device", ["-1", pytest.param("@cupy:0", marks=pytest.mark.skipif(
    not cuda_device_count(), reason="no CUDA device reachable through CuPy"))])
def test_resume_continues_bit_identically_and_seed_repeats(tiny_corpus, tmp_path, device):
    """On the CPU and, where there is one, on the GPU (a snapshot written there resumes there)."""
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--layers", 2, "--seed", 5, "--device", device)
    straight_run = run_script("cnn_classifier1.py", *data, "--epoch", 3, "--out", tmp_path / "straight")
    # Output to a log (not a terminal): the printed table, one line per epoch, without screen codes.
    assert "\033" not in straight_run.stdout and "\r" not in straight_run.stdout
    assert sum(line.split()[:1] == [str(epoch)] for line in straight_run.stdout.splitlines() for epoch in (1, 2, 3)) == 3
    run_script("cnn_classifier1.py", *data, "--epoch", 3, "--out", tmp_path / "again")
    run_script("cnn_classifier1.py", *data, "--epoch", 1, "--out", tmp_path / "first")
    run_script("cnn_classifier1.py", *data, "--epoch", 3, "--out", tmp_path / "resumed",
               "--resume", tmp_path / "first" / "snapshot_epoch_1")
    straight = weights(tmp_path / "straight" / "model.npz")
    for other in ("again", "resumed"):
        for name, value in weights(tmp_path / other / "model.npz").items():
            np.testing.assert_array_equal(value, straight[name], err_msg=other + " " + name)
    resumed_log = json.loads((tmp_path / "resumed" / "log").read_text())
    assert [entry["epoch"] for entry in resumed_log][-2:] == [2, 3]


def test_dropout_masks_resume_identically(tiny_corpus, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--layers", 2, "--seed", 5, "--no-vary-images")
    run_script("cnn_classifier1.py", *data, "--dropout", 0.5, "--epoch", 2, "--out", tmp_path / "straight")
    run_script("cnn_classifier1.py", *data, "--dropout", 0.5, "--epoch", 1, "--out", tmp_path / "first")
    run_script("cnn_classifier1.py", *data, "--dropout", 0.5, "--epoch", 2, "--out", tmp_path / "resumed",
               "--resume", tmp_path / "first" / "snapshot_epoch_1")
    run_script("cnn_classifier1.py", *data, "--dropout", 0, "--epoch", 2, "--out", tmp_path / "plain")
    straight, plain = weights(tmp_path / "straight" / "model.npz"), weights(tmp_path / "plain" / "model.npz")
    for name, value in weights(tmp_path / "resumed" / "model.npz").items():
        np.testing.assert_array_equal(value, straight[name], err_msg=name)  # the masks of epoch 2 drawn again
    assert not np.array_equal(straight["fc/W"], plain["fc/W"])  # and they did drop something


def test_the_updaters_batches_hold_the_images_varied_one_by_one():
    """classifier_training.varied_batches: the dataset hands out unvaried images with their (sweep, index),
    the converter varies the batch; the same arrays as get_example's one-by-one path, bit for bit."""
    from specae import classifier_training, onednn
    rng = np.random.default_rng(3)
    data = np.zeros((12, 1, 64, 64), np.float32)
    for k in range(12):
        data[k, 0, :, 10 + k:40 + k] = rng.random((64, 30))
    labels = np.arange(12, dtype=np.int32) % 10
    one_by_one = classifier_training.VariedImages(data, labels, seed=4)
    batched = classifier_training.VariedImages(data, labels, seed=4)
    for sweep in (0, 2):
        one_by_one.sweep = batched.sweep = lambda: sweep
        expected = onednn.concat_examples([one_by_one[i] for i in range(12)])
        convert = classifier_training.varied_batches(batched)
        got = convert([batched[i] for i in range(12)])
        assert batched.deferred and len(got) == len(expected) == 2
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    mixing = classifier_training.VariedImages(data, labels, seed=4, mixup_alpha=0.2)
    assert classifier_training.varied_batches(mixing) is onednn.concat_examples and not mixing.deferred


def test_varied_images_change_each_sweep_and_resume_identically(tiny_corpus, tmp_path):
    from specae.classifier_training import VariedImages
    data = np.random.default_rng(0).random((4, 1, 64, 64)).astype(np.float32)
    varied = VariedImages(data, np.arange(4, dtype=np.int32), seed=1)
    first, label = varied[2]
    assert label == 2 and first.shape == (1, 64, 64) and not np.allclose(first, data[2])
    np.testing.assert_array_equal(varied[2][0], first)  # the same sweep draws the same
    varied.sweep = lambda: 1
    assert not np.allclose(varied[2][0], first)

    args = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--layers", 2, "--seed", 5)  # varied by default
    run_script("cnn_classifier1.py", *args, "--epoch", 2, "--out", tmp_path / "straight")
    run_script("cnn_classifier1.py", *args, "--epoch", 1, "--out", tmp_path / "first")
    run_script("cnn_classifier1.py", *args, "--epoch", 2, "--out", tmp_path / "resumed",
               "--resume", tmp_path / "first" / "snapshot_epoch_1")
    run_script("cnn_classifier1.py", *args, "--no-vary-images", "--epoch", 2, "--out", tmp_path / "fixed")
    straight, fixed = weights(tmp_path / "straight" / "model.npz"), weights(tmp_path / "fixed" / "model.npz")
    for name, value in weights(tmp_path / "resumed" / "model.npz").items():
        np.testing.assert_array_equal(value, straight[name], err_msg=name)
    assert any(not np.array_equal(straight[name], fixed[name]) for name in straight)
    assert json.loads((tmp_path / "straight" / "model.json").read_text())["vary_images"] is True
    assert json.loads((tmp_path / "fixed" / "model.json").read_text())["vary_images"] is False


@pytest.mark.skipif(cuda_device_count() > 0, reason="a CUDA device is reachable here (tests/test_gpu.py)")
def test_gpu_request_without_cuda_fails_clearly(tiny_corpus, tmp_path):
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--out", tmp_path,
                        "--device", "@cupy:0", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device @cupy:0 cannot be used:")
    assert "--device -1" in lines[0]


def test_training_reads_the_data_set_memory_mapped(tiny_corpus):
    """A data set larger than memory must train: the training scripts map the arrays instead of reading
    them, and the rows they index are the file's."""
    import argparse
    import mmap

    from specae import command_line
    args = argparse.Namespace(dataset=str(tiny_corpus / "DataSet"), device="-1", communicator=None)
    _, arrays, _ = command_line.device_and_data(args)
    data = arrays["train_data"]
    base = data
    while getattr(base, "base", None) is not None and not isinstance(base, mmap.mmap):
        base = base.base
    assert isinstance(base, mmap.mmap) and not data.flags.writeable
    assert type(data) is np.ndarray  # not np.memmap, whose row indexing is slower
    np.testing.assert_array_equal(data[[3, 1]], np.load(tiny_corpus / "DataSet" / "train_data.npy")[[3, 1]])
