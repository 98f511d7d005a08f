"""predict.py and evaluate.py: the contracts other tools rely on."""
import json
import os
import re

import numpy as np
import pytest
import soundfile

from conftest import run_script
from specae.audio import resample


@pytest.fixture(scope="module")
def model(tiny_corpus):
    out = tiny_corpus / "inference_model"
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 2,
               "--batchsize", 20, "--out", out)
    return out


def test_predict_prints_one_line_per_file(tiny_corpus, model):
    wav = tiny_corpus / "wav"
    result = run_script("predict.py", "--model", model, wav)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(os.listdir(wav)) == 80
    for line in lines:
        path, digit, confidence = line.split("\t")
        assert os.path.exists(path) and digit in "0123456789" and 0.1 <= float(confidence) <= 1.0
    single = run_script("predict.py", "--model", model, wav / os.listdir(wav)[0]).stdout.strip().split("\t")
    assert single[0] == str(wav / os.listdir(wav)[0])


def test_odd_formats_are_accepted_and_agree(tiny_corpus, model, tmp_path):
    name = sorted(os.listdir(tiny_corpus / "wav"))[5]
    samples, rate = soundfile.read(tiny_corpus / "wav" / name, dtype="float32")
    phone = resample(samples, rate, 8000)
    soundfile.write(tmp_path / ("a" + name), np.stack([phone, phone], axis=1), 8000, subtype="PCM_16")
    soundfile.write(tmp_path / ("b" + name), samples, rate, subtype="FLOAT")
    soundfile.write(tmp_path / ("c" + name), samples, rate, subtype="PCM_16")
    lines = run_script("predict.py", "--model", model, tmp_path).stdout.strip().splitlines()
    assert [os.path.basename(line.split("\t")[0])[0] for line in lines] == ["a", "b", "c"]
    float_line, pcm_line = lines[1].split("\t"), lines[2].split("\t")
    assert float_line[1] == pcm_line[1] and abs(float(float_line[2]) - float(pcm_line[2])) < 1e-3


def test_evaluate_matches_the_trainers_test_accuracy(tiny_corpus, model, tmp_path):
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    for entry in manifest["test"]["files"]:
        os.symlink(entry["wav"], test_dir / os.path.basename(entry["wav"]))
    (test_dir / "notes.wav").write_bytes(b"not audio")
    result = run_script("evaluate.py", "--model", model, "--out", tmp_path / "report", test_dir)
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"accuracy (\d\.\d{4}) \((\d+)/(\d+)\)", last)
    assert match and int(match[3]) == 20
    log = json.loads((model / "log").read_text())
    assert float(match[1]) == pytest.approx(log[-1]["validation/main/accuracy"], abs=1e-4)
    assert "notes.wav: no '{digit}_' label" in result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 20 and np.trace(confusion) == int(match[2])
    predicted = {os.path.basename(f["path"]): f["predicted"] for f in report["files"]}
    for line in run_script("predict.py", "--model", model, test_dir).stdout.strip().splitlines():
        path, digit, _ = line.split("\t")
        assert predicted[os.path.basename(path)] == int(digit)
    assert (tmp_path / "report" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    per_digit = [line for line in result.stdout.splitlines() if line.startswith("digit ")]
    assert len(per_digit) == 10


def test_missing_model_is_a_clear_error(tiny_corpus, tmp_path):
    result = run_script("predict.py", "--model", tmp_path, tiny_corpus / "wav", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: {}: no model.json (train a model there first) " \
                                    "(make classify trains the default model)".format(tmp_path)
