"""Bad input (issue 6): make_spectrogram.py, predict.py and evaluate.py over a folder that mixes good WAVs
with every kind of file a user's folder may hold.

Each unusable file is named with its reason on exactly one line of stderr, without a traceback; every usable
file is used, odd ones included (any rate, bit depth and channel count, silence, DC offset, clipping, a clip
shorter than one FFT frame, a minute-long clip); a summary counts processed and skipped files; the exit status
is 1 only when nothing was usable.
"""
import ctypes
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import soundfile

from conftest import ROOT, run_script
from specae import features
from specae.audio import resample
from specae.features import FeatureParams

NOT_AUDIO = r"not a readable audio file \(.+\)"
NO_LABEL = "no '{digit}_' label at the start of the file name"
# Unusable files, each with the reason every tool must give (a regular expression, matched in full).
REFUSED = {
    "1_empty_0.wav": "empty file",
    "1_header_0.wav": NOT_AUDIO,                  # a RIFF header cut off before its chunks
    "1_text_0.wav": NOT_AUDIO,                    # text with a .wav name
    "1_nosamples_0.wav": "no samples",            # a valid WAV header, no frames
    "1_nan_0.wav": "contains NaN or infinite samples",
    "1_inf_0.wav": "contains NaN or infinite samples",
    "1_folder_0.wav": "is a directory",
    "1_broken_0.wav": "broken symbolic link",
    "1_locked_0.wav": "permission denied",        # chmod 000
}
UNLABELLED = "hello.wav"  # usable audio: refused for training and evaluation, recognised by predict.py
ONLY_BAD = ("1_empty_0.wav", "1_header_0.wav", "1_text_0.wav", "1_nosamples_0.wav", "1_nan_0.wav",
            "1_folder_0.wav", "1_broken_0.wav")
SUBTYPES = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")  # WAV's 8-bit PCM is unsigned
RATES = (8000, 16000, 44100, 48000, 96000)


def _without_read_override():
    """In the child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so that
    a process running as root (as in CI containers) is refused a chmod-000 file like any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _unreadable(path):
    """Make ``path`` unreadable to the scripts; returns ``(preexec_fn, None)`` or ``(None, why not)``."""
    os.chmod(path, 0)
    if not os.access(path, os.R_OK):
        return None, None
    probe = [sys.executable, "-c", "open({!r}, 'rb')".format(str(path))]
    try:
        result = subprocess.run(probe, preexec_fn=_without_read_override, capture_output=True, text=True)
    except (subprocess.SubprocessError, OSError) as error:
        return None, "running as root without CAP_SETPCAP: cannot drop CAP_DAC_OVERRIDE ({})".format(error)
    if "PermissionError" not in result.stderr:
        return None, "a chmod-000 file stays readable here even without CAP_DAC_OVERRIDE"
    return _without_read_override, None


class Folder:
    def __init__(self, path, refused, used, labelled, preexec_fn, unreadable_skip, speech, reference):
        self.path, self.refused, self.used, self.labelled = path, refused, used, labelled
        self.preexec_fn, self.unreadable_skip = preexec_fn, unreadable_skip
        self.speech, self.reference = speech, reference

    def run(self, script, *args):
        return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, preexec_fn=self.preexec_fn)


def make_folder(path, tiny_corpus):
    """Good files (links to the tiny corpus), odd but usable files made from one of its clips, and REFUSED."""
    path.mkdir()
    corpus = tiny_corpus / "wav"
    names = sorted(name for name in os.listdir(corpus) if name.endswith(".wav"))
    for name in names[::20]:
        os.symlink(corpus / name, path / name)
    source = names[13]
    digit = int(source[0])
    speech, rate = soundfile.read(corpus / source, dtype="float32")
    used = [name for name in names[::20]]

    def write(kind, samples, sample_rate_hz=rate, subtype="PCM_16"):
        name = "{}_{}_0.wav".format(digit, kind)
        soundfile.write(path / name, samples, sample_rate_hz, subtype=subtype, format="WAV")
        used.append(name)
        return name

    for subtype in SUBTYPES:
        write(subtype.lower().replace("_", ""), speech, subtype=subtype)
    for sample_rate_hz in RATES:
        write("rate{}".format(sample_rate_hz), resample(speech, rate, sample_rate_hz), sample_rate_hz)
    write("stereo", np.stack([speech, 0.5 * speech], axis=1))
    write("sixchannels", np.stack([speech] * 6, axis=1))
    write("silence", np.zeros(rate // 2, np.float32))
    write("dc", 0.5 * speech + 0.4)
    write("clipped", np.clip(20 * speech, -1.0, 1.0))
    loudest = int(np.clip(np.abs(speech).argmax() - 250, 0, len(speech) - 500))
    write("short", speech[loudest:loudest + 500])  # shorter than one FFT frame (1024 samples)
    minute = np.random.default_rng(0).normal(0.0, 1e-5, 60 * rate).astype(np.float32)
    minute[30 * rate:30 * rate + len(speech)] += speech
    write("minute", minute)
    whole = (path / "{}_pcm16_0.wav".format(digit)).read_bytes()
    (path / "{}_cut_0.wav".format(digit)).write_bytes(whole[:44 + len(whole) // 3])  # data shorter than declared
    used.append("{}_cut_0.wav".format(digit))
    soundfile.write(path / UNLABELLED, speech, rate, subtype="PCM_16")

    (path / "1_empty_0.wav").write_bytes(b"")
    (path / "1_header_0.wav").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfm")
    (path / "1_text_0.wav").write_text("Not audio: a note that someone saved with the wrong name.\n")
    soundfile.write(path / "1_nosamples_0.wav", np.zeros(0, np.float32), rate, subtype="PCM_16")
    poisoned = speech.copy()
    poisoned[100] = np.nan
    soundfile.write(path / "1_nan_0.wav", poisoned, rate, subtype="FLOAT")
    poisoned[100] = np.inf
    soundfile.write(path / "1_inf_0.wav", poisoned, rate, subtype="DOUBLE")
    (path / "1_folder_0.wav").mkdir()
    os.symlink(path / "nowhere.wav", path / "1_broken_0.wav")
    soundfile.write(path / "1_locked_0.wav", speech, rate, subtype="PCM_16")
    preexec_fn, unreadable_skip = _unreadable(path / "1_locked_0.wav")
    refused = dict(REFUSED)
    if unreadable_skip:
        os.unlink(path / "1_locked_0.wav")
        del refused["1_locked_0.wav"]
    reference = features.image_from_samples(speech, FeatureParams())[0]
    return Folder(path, refused, used, used + [UNLABELLED], preexec_fn, unreadable_skip, speech, reference)


@pytest.fixture(scope="module")
def folder(tiny_corpus, tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("bad_input") / "in", tiny_corpus)


@pytest.fixture(scope="module")
def model(tiny_corpus, tmp_path_factory):
    """A classifier with its initial weights (zero epochs): these tests are about files, not accuracy."""
    out = tmp_path_factory.mktemp("bad_input_model")
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 0, "--out", out)
    return out


@pytest.fixture(scope="module")
def runs(folder, model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bad_input_out")
    return {
        "make_spectrogram.py": (folder.run("make_spectrogram.py", "--wav", folder.path, "--out", out / "spec",
                                           "--jobs", 2), out / "spec"),
        "predict.py": (folder.run("predict.py", "--model", model, "--jobs", 2, folder.path), None),
        "evaluate.py": (folder.run("evaluate.py", "--model", model, "--out", out / "eval", "--jobs", 2,
                                   folder.path), out / "eval"),
    }


def skip_lines(result, folder, refused):
    """Check the ``skipped PATH: REASON`` lines against ``refused`` (name → reason pattern); return the others."""
    assert "Traceback" not in result.stderr + result.stdout
    reasons, others = {}, []
    for line in result.stderr.splitlines():
        match = re.fullmatch(r"skipped (.+?\.wav): (.+)", line)
        if match is None:
            others.append(line)
            continue
        name = os.path.relpath(match[1], folder.path)
        assert name not in reasons, "{} named twice".format(name)
        reasons[name] = match[2]
    assert sorted(reasons) == sorted(refused)
    for name, pattern in refused.items():
        assert re.fullmatch(pattern, reasons[name]), (name, reasons[name])
    return others


def test_make_spectrogram_uses_every_usable_file_and_names_every_other(folder, runs):
    result, out = runs["make_spectrogram.py"]
    refused = dict(folder.refused, **{UNLABELLED: re.escape(NO_LABEL)})
    assert result.returncode == 0, result.stderr
    assert skip_lines(result, folder, refused) == []  # nothing else on stderr: no warnings, no progress bars
    assert re.fullmatch(r"processed {} files, skipped {} \(\d+\.\d s\) → .+".format(len(folder.used), len(refused)),
                        result.stdout.strip())
    index = json.loads((out / "index.json").read_text())
    assert sorted(os.path.basename(entry["wav"]) for entry in index["files"]) == sorted(folder.used)
    assert sorted(os.path.basename(entry["path"]) for entry in index["skipped"]) == sorted(refused)
    images = {os.path.basename(entry["wav"]): np.load(out / entry["npy"], allow_pickle=False)[0]
              for entry in index["files"]}
    for name, image in images.items():
        assert image.shape == (64, 64) and image.dtype == np.float32, name
        assert np.isfinite(image).all() and 0.0 <= image.min() and image.max() <= 1.0, name
    digit = os.path.basename(folder.used[-1])[0]
    # The same clip in any bit depth, rate or channel layout, or with a DC offset, gives the same picture.
    for kind in ["pcm16", "pcm24", "pcm32", "float", "double", "stereo", "sixchannels", "dc"] + \
            ["rate{}".format(rate) for rate in RATES]:
        difference = np.abs(images["{}_{}_0.wav".format(digit, kind)] - folder.reference).mean()
        assert difference < 0.01, (kind, difference)
    assert np.abs(images["{}_pcmu8_0.wav".format(digit)] - folder.reference).mean() < 0.1  # 8-bit noise floor
    assert np.abs(images["{}_minute_0.wav".format(digit)] - folder.reference).mean() < 0.05  # word found in 60 s
    assert images["{}_silence_0.wav".format(digit)].max() == 0.0


def test_predict_recognises_every_usable_file(folder, runs):
    result, _ = runs["predict.py"]
    assert result.returncode == 0, result.stderr
    others = skip_lines(result, folder, folder.refused)
    assert others == ["processed {} files, skipped {}".format(len(folder.labelled), len(folder.refused))]
    lines = result.stdout.strip().splitlines()
    assert sorted(os.path.basename(line.split("\t")[0]) for line in lines) == sorted(folder.labelled)
    for line in lines:
        path, digit, confidence = line.split("\t")
        assert digit in "0123456789" and 0.0 < float(confidence) <= 1.0


def test_evaluate_scores_every_usable_labelled_file(folder, runs):
    result, out = runs["evaluate.py"]
    refused = dict(folder.refused, **{UNLABELLED: re.escape(NO_LABEL)})
    assert result.returncode == 0, result.stderr
    assert skip_lines(result, folder, refused) == []
    assert "processed {} files, skipped {}".format(len(folder.used), len(refused)) in result.stdout.splitlines()
    report = json.loads((out / "report.json").read_text())
    assert sorted(os.path.basename(entry["path"]) for entry in report["files"]) == sorted(folder.used)
    assert sorted(os.path.basename(entry["path"]) for entry in report["skipped"]) == sorted(refused)
    assert report["total"] == len(folder.used) and np.array(report["confusion"]).sum() == len(folder.used)


def test_unreadable_file_is_refused(folder, runs):
    if folder.unreadable_skip:
        pytest.skip("cannot make a file unreadable here: " + folder.unreadable_skip)
    for script, (result, _) in runs.items():
        assert re.search(r"^skipped .+/1_locked_0\.wav: permission denied$", result.stderr, re.MULTILINE), script


def test_nothing_usable_exits_1_and_still_names_every_file(folder, model, tmp_path):
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    for name in ONLY_BAD:  # links to the files above; a link to the broken link is broken too
        if name == "1_folder_0.wav":
            (only_bad / name).mkdir()
        else:
            os.symlink(folder.path / name, only_bad / name)
    expected = {name: REFUSED[name] for name in ONLY_BAD}
    view = Folder(only_bad, expected, [], [], folder.preexec_fn, None, None, None)
    summary = "processed 0 files, skipped {}".format(len(ONLY_BAD))
    for script, args in (("make_spectrogram.py", ("--wav", only_bad, "--out", tmp_path / "spec")),
                         ("predict.py", ("--model", model, only_bad)),
                         ("evaluate.py", ("--model", model, "--out", tmp_path / "eval", only_bad))):
        result = view.run(script, *args)
        assert result.returncode == 1, (script, result.stderr)
        others = skip_lines(result, view, expected)
        assert re.fullmatch(r"error: no usable (labelled )?WAV file in {}".format(re.escape(str(only_bad))), others[-1])
        assert summary in result.stdout.splitlines() + others, script
        assert not (tmp_path / "spec" / "index.json").exists() and not (tmp_path / "eval" / "report.json").exists()


def test_a_minute_long_clip_costs_little_memory_and_time(folder):
    path = next(folder.path.glob("*_minute_0.wav"))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        image, info = features.image_from_file(path, FeatureParams())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 10.0
    assert peak < 150e6, "{:.0f} MB for a minute of audio".format(peak / 1e6)  # about 55 MB when written
    assert image.shape == (64, 64) and info["total_frames"] > 5000
    start, stop = info["span_frames"]
    assert 2500 < start < stop < 2700  # the word at 30 s, around frame 30·22050/256 ≈ 2584
