"""listen.py: WAVs of test spectrograms and their reconstructions, at the clip's own length and level."""
import json
import shutil

import numpy as np
import pytest
import soundfile

from conftest import run_script
from specae.features import FeatureParams, log_mel


@pytest.fixture(scope="module")
def autoencoders(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("listen_ae")
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20)
    run_script("cnn_autoencoder1.py", *data, "--out", out / "autoencoder1")
    return out


def test_listen_writes_audible_wavs_of_inputs_and_reconstructions(tiny_corpus, autoencoders, tmp_path):
    out = tmp_path / "listen"
    run_script("examples/listen/listen.py", autoencoders / "autoencoder1", "--dataset", tiny_corpus / "DataSet", "--out", out,
               "--count", 2, "--iterations", 40)
    report = json.loads((out / "listen.json").read_text())
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    entries = {entry["wav"]: entry for entry in manifest["test"]["files"]}
    params = FeatureParams()
    assert len(report["clips"]) == 2 and len({clip["digit"] for clip in report["clips"]}) == 2
    for clip in report["clips"]:
        assert set(clip["versions"]) == {"input", "autoencoder1"}
        entry = entries[clip["wav"]]
        original = soundfile.read(clip["wav"], dtype="float32")[0]
        for name, version in clip["versions"].items():
            audio, rate = soundfile.read(version["wav"], dtype="float32")
            assert rate == 22050
            assert len(audio) == (entry["total_frames"] - 1) * params.hop_length + params.n_fft
            assert np.abs(audio).max() > 1e-3
        # The input's WAV sounds like the clip: close log-mel, same level (within 2 dB) unless turned down.
        assert clip["versions"]["input"]["mel_spectral_convergence"] < 0.15
        version = clip["versions"]["input"]
        rebuilt = soundfile.read(version["wav"], dtype="float32")[0] / version["gain"]
        assert log_mel(rebuilt, params).max() == pytest.approx(log_mel(original, params).max(), abs=2.0)
        assert clip["versions"]["autoencoder1"]["image_mse"] > 0.0
    assert (out / "listen.png").read_bytes()[:4] == b"\x89PNG"


def test_listen_refuses_a_manifest_without_levels(tiny_corpus, autoencoders, tmp_path):
    dataset = tmp_path / "DataSet"
    shutil.copytree(tiny_corpus / "DataSet", dataset)
    manifest = json.loads((dataset / "manifest.json").read_text())
    for entry in manifest["test"]["files"]:
        del entry["reference_db"]
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    result = run_script("examples/listen/listen.py", autoencoders / "autoencoder1", "--dataset", dataset, "--out", tmp_path / "out",
                        check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and str(dataset / "manifest.json") in result.stderr
    assert "reference_db" in result.stderr and not (tmp_path / "out").exists()
