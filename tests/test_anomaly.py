"""Anomaly detection: the AUC against known answers, the other sounds, the report and predict.py --reject."""
import json
import shutil

import numpy as np
import pytest

from conftest import run_script
from specae import anomaly, checkpoints


def test_roc_auc_on_hand_computed_cases():
    assert anomaly.roc_auc([3, 4], [1, 2]) == 1.0
    assert anomaly.roc_auc([1, 2], [3, 4]) == 0.0
    assert anomaly.roc_auc([5, 5], [5, 5, 5]) == 0.5
    # 12 pairs: 0.2 beats 0.1 (1); 0.6 beats 0.1 and 0.4 and ties 0.6 (2.5); 0.9 beats all four (4)
    assert anomaly.roc_auc([0.2, 0.6, 0.9], [0.1, 0.4, 0.6, 0.8]) == pytest.approx(7.5 / 12)
    with pytest.raises(ValueError):
        anomaly.roc_auc([], [1.0])


def test_roc_auc_is_the_area_under_the_curve_and_the_pair_count():
    rng = np.random.default_rng(0)
    anomalies = np.round(rng.normal(1.0, 1.0, 70), 1)  # rounded: many ties
    normal = np.round(rng.normal(0.0, 1.0, 90), 1)
    pairs = (anomalies[:, None] > normal[None, :]).mean() + 0.5 * (anomalies[:, None] == normal[None, :]).mean()
    fpr, tpr = anomaly.roc_curve(anomalies, normal)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids: ties are diagonal steps
    assert anomaly.roc_auc(anomalies, normal) == pytest.approx(pairs) == pytest.approx(area)


def test_other_sounds_are_repeatable_and_of_every_kind():
    sounds = anomaly.non_digit_sounds(2, seed=3)
    again = anomaly.non_digit_sounds(2, seed=3)
    assert [kind for kind, _, _ in sounds] == [kind for kind in anomaly.SOUND_KINDS for _ in range(2)]
    for (kind, name, samples), (_, name2, samples2) in zip(sounds, again):
        assert name == name2 and np.array_equal(samples, samples2)
        assert samples.dtype == np.float32 and 0.1 * 22050 <= len(samples) <= 1.3 * 22050  # words may be short
        peak_db = 20 * np.log10(np.abs(samples).max())
        assert -30.01 <= peak_db <= -5.99, (kind, name)
    words = [name for kind, name, _ in sounds if kind == "word"]
    assert all(name.split("'")[1] in anomaly.OTHER_WORDS for name in words)
    tone = next(samples for kind, _, samples in sounds if kind == "tone")
    frequency = float(next(name for kind, name, _ in sounds if kind == "tone").split()[0])
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / 22050)[spectrum.argmax()] == pytest.approx(frequency, abs=3)


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("anomaly")
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20)
    run_script("cnn_autoencoder1.py", *data, "--out", out / "autoencoder1")
    run_script("cnn_classifier1.py", *data, "--out", out / "classifier")
    return out


def test_report_writes_a_detector_and_predict_rejects_with_it(tiny_corpus, trained, tmp_path):
    out = tmp_path / "anomaly"
    result = run_script("examples/anomaly/anomaly_report.py", trained / "autoencoder1", "--dataset", tiny_corpus / "DataSet",
                        "--classifier", trained / "classifier", "--per-kind", 2, "--out", out)
    report = json.loads((out / "report.json").read_text())
    detector = json.loads((out / "detector.json").read_text())
    row = report["rows"][str(trained / "autoencoder1")]
    train = np.load(tiny_corpus / "DataSet" / "train_data.npy")
    assert detector["depth"] == 1 and detector["threshold"] == row["threshold"]
    assert 0.0 <= row["auc"] <= 1.0 and set(row["auc_per_kind"]) == set(anomaly.SOUND_KINDS)
    assert report["other_sounds"] == 2 * len(anomaly.SOUND_KINDS) and "(chosen)" in result.stdout
    model, _ = checkpoints.load_autoencoder(str(trained / "autoencoder1"))
    assert detector["threshold"] == pytest.approx(np.quantile(anomaly.reconstruction_error(model, train, 1), 0.99))
    sounds = sorted((out / "sounds").glob("*.wav"))
    assert len(sounds) == 2 * len(anomaly.SOUND_KINDS) and (out / "roc.png").exists()

    # predict.py --reject: the detector moves with its folder; a threshold below every score rejects all
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    digits = sorted((tiny_corpus / "wav").glob("*.wav"))[:3]
    for threshold, rejected in ((-1.0, True), (1e9, False)):
        detector["threshold"] = threshold
        (moved / "detector.json").write_text(json.dumps(detector))
        lines = run_script("predict.py", "--model", trained / "classifier", "--reject", "--detector", moved,
                           *digits, sounds[0]).stdout.splitlines()
        assert len(lines) == 4
        for line in lines:
            path, answer, value = line.split("\t")
            assert (answer == "-") == rejected and (rejected or answer.isdigit())
            assert float(value) >= 0.0
    missing = run_script("predict.py", "--model", trained / "classifier", "--reject", "--detector", tmp_path / "none",
                         *digits,
                         check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: {}: no such detector (make anomaly writes it)".format(tmp_path / "none")
