"""From WAV files to DataSet/: the front end, the spectrogram and dataset stages."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_script
from specae import features
from specae.dataset import check_params, DataSetError, load_dataset, split_indices
from specae.features import FeatureParams

RATE = 22050


def tone(freq_hz, seconds, rate=RATE, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_dataset_shapes_labels_and_speaker_disjoint_split(tiny_corpus):
    arrays, manifest = load_dataset(tiny_corpus / "DataSet")
    assert arrays["train_data"].shape == (60, 1, 64, 64) and arrays["train_data"].dtype == np.float32
    assert arrays["test_data"].shape == (20, 1, 64, 64)
    assert arrays["train_label"].dtype == np.int32
    assert sorted(np.bincount(arrays["test_label"], minlength=10)) == [2] * 10
    assert 0.0 <= arrays["train_data"].min() and arrays["train_data"].max() <= 1.0
    train_speakers, test_speakers = set(manifest["train"]["speakers"]), set(manifest["test"]["speakers"])
    assert len(train_speakers) == 3 and len(test_speakers) == 1 and not train_speakers & test_speakers
    for side in ("train", "test"):
        labels = arrays[side + "_label"]
        files = manifest[side]["files"]
        assert [entry["digit"] for entry in files] == labels.tolist()
        assert {entry["speaker"] for entry in files} == set(manifest[side]["speakers"])
        assert all(os.path.basename(entry["wav"]).startswith("{}_".format(entry["digit"])) for entry in files)
    assert manifest["params"] == FeatureParams().to_dict()
    assert manifest["split"] == "speaker" and manifest["seed"] == 0


def test_dataset_rows_are_the_spectrogram_files(tiny_corpus):
    arrays, manifest = load_dataset(tiny_corpus / "DataSet")
    entry = manifest["test"]["files"][3]
    stored = np.load(tiny_corpus / "spectrogram" / entry["npy"])
    np.testing.assert_array_equal(arrays["test_data"][3], stored)
    image, _ = features.image_from_file(entry["wav"], FeatureParams())
    # make_spectrogram.py's workers run BLAS single-threaded, this process may not: the mel matrix
    # product then sums in another order (6e-8 apart measured on 2 busy cores), far below a pixel's meaning.
    np.testing.assert_allclose(stored[0], image, rtol=0, atol=1e-6)


def test_previews_written_per_digit(tiny_corpus):
    previews = sorted(os.listdir(tiny_corpus / "spectrogram" / "preview"))
    assert previews == ["digit_{}.png".format(d) for d in range(10)]
    assert (tiny_corpus / "spectrogram" / "preview" / "digit_0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_random_split_reproduces_the_original(tiny_corpus, tmp_path):
    run_script("make_dataset.py", "--spec", tiny_corpus / "spectrogram", "--out", tmp_path, "--split", "random",
               "--test-ratio", 0.1)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["test"]["count"] == 8 and manifest["train"]["count"] == 72
    assert set(manifest["train"]["speakers"]) & set(manifest["test"]["speakers"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), min_size=2, max_size=60), st.floats(0.05, 0.9), st.integers(0, 99))
def test_speaker_split_is_disjoint_and_complete(speakers, ratio, seed):
    if len(set(speakers)) < 2:
        with pytest.raises(ValueError, match="at least 2 speakers"):
            split_indices(speakers, "speaker", ratio, seed)
        return
    train, test = split_indices(speakers, "speaker", ratio, seed)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(speakers)))
    assert len(test) > 0 and len(train) > 0
    assert not {speakers[i] for i in train} & {speakers[i] for i in test}
    again = split_indices(speakers, "speaker", ratio, seed)
    assert np.array_equal(again[1], test)


def test_clip_relative_level_ignores_gain():
    clip = np.concatenate([tone(300, 0.3), tone(1200, 0.3)])
    loud, _ = features.image_from_samples(clip, FeatureParams())
    quiet, info = features.image_from_samples(clip * 0.01, FeatureParams())
    np.testing.assert_allclose(loud, quiet, atol=1e-4)
    fixed = FeatureParams(level="fixed")
    assert not np.allclose(features.image_from_samples(clip, fixed)[0],
                           features.image_from_samples(clip * 0.01, fixed)[0], atol=0.05)


def test_silence_is_black_not_stretched():
    image, info = features.image_from_samples(np.zeros(RATE // 2, np.float32), FeatureParams())
    assert image.shape == (64, 64) and image.max() == 0.0


def test_silence_around_a_word_is_trimmed():
    word = tone(1000, 0.4) * np.hanning(int(0.4 * RATE)).astype(np.float32)
    padded = np.concatenate([np.zeros(RATE // 2, np.float32), word, np.zeros(RATE, np.float32)])
    alone, _ = features.image_from_samples(word, FeatureParams())
    trimmed, info = features.image_from_samples(padded, FeatureParams())
    start, stop = info["span_frames"]
    assert 30 <= start <= 45 and info["total_frames"] - stop >= 75
    assert np.abs(alone - trimmed).mean() < 0.05


def test_noise_subtraction_takes_a_steady_floor_and_keeps_the_word():
    rng = np.random.default_rng(3)
    word = tone(1000, 0.4) * np.hanning(int(0.4 * RATE)).astype(np.float32)
    clean = np.concatenate([np.zeros(RATE // 2, np.float32), word, np.zeros(RATE // 2, np.float32)])
    hiss = (0.5 * 10 ** (-50 / 20) * rng.standard_normal(clean.size)).astype(np.float32)   # 50 dB below the tone
    params = FeatureParams()
    noisy_db = features.log_mel(clean + hiss, params)
    cleaned_db = features.subtract_noise_floor(noisy_db, 1.0)
    frames = noisy_db.shape[1]
    pause = np.r_[0:frames // 4, frames - frames // 4:frames]           # frames of hiss alone
    band = int(noisy_db[:, frames // 2].argmax())                      # the tone's band at the word's middle
    # The hiss falls by more than 10 dB on average where it is alone; the tone's peak stays within 0.1 dB.
    assert (noisy_db[:, pause] - cleaned_db[:, pause]).mean() > 10
    assert abs(noisy_db[band].max() - cleaned_db[band].max()) < 0.1
    # The front end takes it where its parameters say so (training, inference and the denoising data alike).
    np.testing.assert_array_equal(features.log_mel(clean + hiss, FeatureParams(noise_subtraction=1.0)), cleaned_db)
    # A clip in digital silence has no floor to take: its spectrogram stays as it was.
    silent_db = features.log_mel(clean, params)
    loud = silent_db > silent_db.max() - 60
    np.testing.assert_allclose(features.subtract_noise_floor(silent_db, 1.0)[loud], silent_db[loud], atol=0.01)


def test_fit_frames_resize_and_pad():
    ramp = np.tile(np.arange(10, dtype=np.float32), (3, 1))
    resized = features.fit_frames(ramp, 19, "resize")
    np.testing.assert_allclose(resized[0], np.arange(19) / 2.0, atol=1e-6)
    padded = features.fit_frames(ramp, 14, "pad")
    assert padded.shape == (3, 14) and padded[0, :2].tolist() == [0, 0] and padded[0, 2:12].tolist() == list(range(10))
    cropped = features.fit_frames(ramp, 4, "pad")
    assert cropped[0].tolist() == [3, 4, 5, 6]


def test_any_rate_and_channel_count_gives_the_same_picture(tmp_path):
    clip = np.concatenate([tone(440, 0.3), tone(880, 0.3)])
    soundfile.write(tmp_path / "ref.wav", clip, RATE, subtype="PCM_16")
    reference, _ = features.image_from_file(tmp_path / "ref.wav", FeatureParams())
    t = np.arange(int(0.6 * 44100)) / 44100
    hi = np.where(t < 0.3, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 880 * t)) * 0.5
    soundfile.write(tmp_path / "stereo44k.wav", np.stack([hi, hi], axis=1), 44100, subtype="PCM_24")
    other, _ = features.image_from_file(tmp_path / "stereo44k.wav", FeatureParams())
    assert np.abs(reference - other).mean() < 0.02


def test_make_spectrogram_filters_and_reports(tiny_corpus, tmp_path):
    wav = tiny_corpus / "wav"
    names = sorted(os.listdir(wav))
    speaker = names[0].split("_")[1]
    rates = sorted({int(name.split("_")[2][:-4]) for name in names})
    (tmp_path / "in").mkdir()
    for name in names[:30]:
        os.symlink(wav / name, tmp_path / "in" / name)
    soundfile.write(tmp_path / "in" / "hello.wav", tone(300, 0.2), RATE)
    result = run_script("make_spectrogram.py", "--wav", tmp_path / "in", "--out", tmp_path / "out", "--jobs", 1,
                        "--exclude", speaker, "--min-rate", rates[-1], "--no-preview")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["files"] and all(entry["speaker"] != speaker and entry["rate"] == rates[-1]
                                  for entry in index["files"])
    assert "hello.wav: no '{digit}_' label" in result.stderr
    assert "skipped 1" in result.stdout
    assert not (tmp_path / "out" / "preview").exists()


def test_nothing_usable_is_an_error(tmp_path):
    soundfile.write(tmp_path / "hello.wav", tone(300, 0.2), RATE)
    result = run_script("make_spectrogram.py", "--wav", tmp_path, "--out", tmp_path / "out", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: no usable labelled WAV")


def test_dataset_refuses_other_feature_parameters(tiny_corpus):
    with pytest.raises(DataSetError, match="fmax_hz=4000.0 \\(expected 5000.0\\)"):
        load_dataset(tiny_corpus / "DataSet", expected_params=FeatureParams(fmax_hz=5000.0))
    with pytest.raises(DataSetError, match="no manifest.json"):
        load_dataset(tiny_corpus / "wav")


# What each script that imports chainer itself finds in CHAINER_CUDNN when chainer is first imported:
# specae/__init__.py sets it to 0 (Chainer's cuDNN path off; without it every process on a CuPy machine
# without cuDNN prints Chainer's advice to install it), so specae has to come first.
CUDNN_PROBE = """
import os, runpy, sys
seen = []
class FirstImportOfChainer:
    def find_spec(self, name, path=None, target=None):
        if name == "chainer" and not seen:
            seen.append(os.environ.get("CHAINER_CUDNN"))
sys.meta_path.insert(0, FirstImportOfChainer())
sys.argv = [sys.argv[1], "--help"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print(seen)
"""
SCRIPTS_IMPORTING_CHAINER = sorted(
    str(path.relative_to(ROOT)) for path in list(ROOT.glob("*.py")) + list(ROOT.glob("examples/*/*.py"))
    if re.search(r"^(import|from) chainer\b", path.read_text(), re.M) and "__main__" in path.read_text())


@pytest.mark.parametrize("script", SCRIPTS_IMPORTING_CHAINER)
def test_scripts_import_chainer_with_its_cudnn_path_off(script):
    environment = {key: value for key, value in os.environ.items() if key != "CHAINER_CUDNN"}
    result = subprocess.run([sys.executable, "-c", CUDNN_PROBE, str(ROOT / script)], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "['0']", result.stdout + result.stderr


def test_scripts_have_help():
    for script in ("make_wav.py", "make_spectrogram.py", "make_dataset.py", "cnn_autoencoder1.py",
                   "cnn_autoencoder2.py", "cnn_autoencoder3.py", "cnn_classifier1.py", "cnn_classifier2.py",
                   "plot_comparison.py"):
        result = run_script(script, "--help")
        assert "usage:" in result.stdout
