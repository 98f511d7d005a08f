"""Denoising: noisy pairs made once, --denoise through the greedy stack, the metrics and the report."""
import json

import numpy as np
import pytest

from conftest import run_script
from specae import augment, denoise, features
from specae.audio import load_audio
from specae.features import FeatureParams

PARAMS = FeatureParams()


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def test_metrics_on_hand_computed_cases():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.2, 0.9, size=(3, 1, 64, 64))
    assert np.all(denoise.log_spectral_distance(clean, clean, PARAMS) == 0.0)
    # every pixel 0.05 higher: 0.05 × 80 dB = 4 dB in every band of every frame
    np.testing.assert_allclose(denoise.log_spectral_distance(clean + 0.05, clean, PARAMS), 4.0)
    # 4 dB louder everywhere: the error is (10^(4/20) - 1) × clean, so SNR = -20·log10(10^0.2 - 1)
    np.testing.assert_allclose(denoise.spectrogram_snr(clean + 0.05, clean, PARAMS),
                               -20 * np.log10(10 ** 0.2 - 1), rtol=1e-9)


@pytest.fixture(scope="module")
def noisy(tiny_corpus):
    out = tiny_corpus / "noisy"
    run_script("examples/denoise/make_noisy.py", "--dataset", tiny_corpus / "DataSet", "--out", out, "--snr-db", 0, 20, "--jobs", 2)
    return out


def test_noisy_rows_pair_with_the_clean_rows(tiny_corpus, noisy):
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    index = json.loads((noisy / "noisy.json").read_text())
    arrays, _ = denoise.load_noisy(str(noisy), manifest)
    for side in ("train", "test"):
        clean = np.load(tiny_corpus / "DataSet" / "{}_data.npy".format(side))
        rows = arrays[side + "_noisy"]
        assert rows.shape == clean.shape and rows.dtype == np.float32
        assert set(index[side]["kind"]) <= set(augment.NOISE_KINDS)
        assert all(0.0 <= snr <= 20.0 for snr in index[side]["snr_db"])
        # the louder the noise, the further the noisy image is from the clean one
        distance = denoise.log_spectral_distance(rows, clean, PARAMS)
        assert np.corrcoef(index[side]["snr_db"], distance)[0, 1] < -0.3
    # A white-noise row rebuilt independently: the clip, noise at the recorded SNR, the whole front end
    # (on a clip the front end did not trim, where the clean clip's span is the whole clip).
    rows = [i for i, (kind, entry) in enumerate(zip(index["test"]["kind"], manifest["test"]["files"]))
            if kind == "white" and entry["span_frames"] == [0, entry["total_frames"]]]
    assert rows
    row, entry = rows[0], manifest["test"]["files"][rows[0]]
    rng = np.random.default_rng([0, 1, row])  # seed 0, side 1 (test), row
    rng.integers(3), rng.uniform()  # the draws of the kind and the SNR
    samples = load_audio(entry["wav"], 22050)
    noise = augment.coloured_noise(len(samples), "white", rng)
    mixed = samples + noise * np.sqrt(augment.power(samples) / 10 ** (index["test"]["snr_db"][row] / 10))
    image, _ = features.image_from_samples(mixed.astype(np.float32), FeatureParams(trim_db=0))
    np.testing.assert_allclose(arrays["test_noisy"][row, 0], image, atol=2e-3)


def test_load_noisy_refuses_another_data_set(tiny_corpus, noisy):
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    count = len(manifest["test"]["files"])
    manifest["test"]["files"] = manifest["test"]["files"][:-1]
    with pytest.raises(denoise.NoisyError, match="test_noisy.npy: {} noisy rows for the data set's {} test files".format(
            count, count - 1)):
        denoise.load_noisy(str(noisy), manifest)


def test_denoising_stack_trains_on_pairs_and_reports(tiny_corpus, noisy, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--denoise", noisy)
    run_script("cnn_autoencoder1.py", *data, "--epoch", 2, "--out", tmp_path / "dae1")
    info = json.loads((tmp_path / "dae1" / "model.json").read_text())
    assert info["denoise"]["snr_db"] == [0.0, 20.0]
    log = json.loads((tmp_path / "dae1" / "log").read_text())
    assert log[-1]["validation/main/loss"] < log[0]["validation/main/loss"]
    # Layer 2 maps layer 1's features of the noisy image to those of the clean one, cached or not.
    for cache in ((), ("--no-cache",)):
        run_script("cnn_autoencoder2.py", *data, "--epoch", 1, "--init", tmp_path / "dae1" / "model.npz",
                   "--out", tmp_path / ("dae2" + "".join(cache)), *cache)
    cached, uncached = weights(tmp_path / "dae2" / "model.npz"), weights(tmp_path / "dae2--no-cache" / "model.npz")
    for name in cached:
        np.testing.assert_allclose(cached[name], uncached[name], rtol=1e-4, atol=1e-6)

    run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20,
               "--out", tmp_path / "classifiers" / "scratch" / "seed1")
    result = run_script("examples/denoise/denoise_report.py", "--dataset", tiny_corpus / "DataSet", "--noisy", noisy,
                        "--autoencoders", tmp_path / "dae1", tmp_path / "dae2", "--classifiers",
                        tmp_path / "classifiers" / "scratch" / "seed1", "--out", tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    clean = np.load(tiny_corpus / "DataSet" / "test_data.npy")
    noisy_test = np.load(noisy / "test_noisy.npy")
    assert report["reconstruction"]["noisy input"]["all"]["lsd_db"] == pytest.approx(
        denoise.log_spectral_distance(noisy_test, clean, PARAMS).mean())
    assert set(report["reconstruction"]) == {"noisy input", str(tmp_path / "dae1"), str(tmp_path / "dae2")}
    log = json.loads((tmp_path / "classifiers" / "scratch" / "seed1" / "log").read_text())
    scratch = report["classifiers"][str(tmp_path / "classifiers" / "scratch")]
    assert scratch["clean"]["runs"] == [pytest.approx(log[-1]["validation/main/accuracy"])]
    assert "| noisy input |" in result.stdout
    assert (tmp_path / "report" / "denoise.png").read_bytes()[:4] == b"\x89PNG"
