"""--unlabelled on the greedy autoencoders: recordings' front-end images join the training examples, with no
label read (names that carry no digit are accepted) and the data set's own front end."""
import json
import math
import shutil
import subprocess

from conftest import ROOT, make_environment, run_script
from specae import dataset

BATCH = 20


def iterations_of_first_epoch(out):
    log = json.loads((out / "log").read_text())
    return log[-1]["iteration"]


def test_unlabelled_recordings_enter_autoencoder_training(tiny_corpus, tmp_path):
    source = sorted((tiny_corpus / "wav").glob("*.wav"))[:7]
    folder = tmp_path / "recordings"
    (folder / "nested").mkdir(parents=True)
    # names with no digit and no speaker: nothing in them could be a label
    for number, path in enumerate(source):
        shutil.copy(path, folder / ("nested" if number % 2 else "") / "recording-{}.wav".format("abcdefg"[number]))
    (folder / "not-audio.wav").write_text("this is no audio")
    arrays, _ = dataset.load_dataset(str(tiny_corpus / "DataSet"))
    n_train = len(arrays["train_label"])
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", BATCH, "--jobs", 1)

    run_script("cnn_autoencoder1.py", *data[:-2], "--out", tmp_path / "plain")
    result = run_script("cnn_autoencoder1.py", *data, "--unlabelled", folder, "--out", tmp_path / "ae1")
    assert "training on {} examples".format(n_train + 7) in result.stdout
    assert "(7 of them unlabelled recordings)" in result.stdout
    assert "skipped {}".format(folder / "not-audio.wav") in result.stderr
    # one epoch is as many updates as the examples fill batches: the extra images are trained on
    assert iterations_of_first_epoch(tmp_path / "plain") == math.ceil(n_train / BATCH)
    assert iterations_of_first_epoch(tmp_path / "ae1") == math.ceil((n_train + 7) / BATCH)
    assert math.ceil((n_train + 7) / BATCH) != math.ceil(n_train / BATCH)
    info = json.loads((tmp_path / "ae1" / "model.json").read_text())
    assert info["unlabelled"] == {"sources": [str(folder)], "examples": 7}

    # layer 2 encodes the recordings through the frozen layer 1 with the rest (the cached path)
    result = run_script("cnn_autoencoder2.py", *data, "--init", tmp_path / "ae1" / "model.npz",
                        "--unlabelled", *source[:3], "--out", tmp_path / "ae2")
    assert "training on {} examples of shape (16, 30, 30) (3 of them".format(n_train + 3) in result.stdout
    assert iterations_of_first_epoch(tmp_path / "ae2") == math.ceil((n_train + 3) / BATCH)


def test_unlabelled_folder_without_audio_is_a_one_line_error(tiny_corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_script("cnn_autoencoder1.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
                        "--unlabelled", tmp_path / "empty", "--out", tmp_path / "ae1", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith("no usable WAV file in {}".format(tmp_path / "empty"))


def test_score_recordings_agrees_with_evaluate(tiny_corpus, tmp_path):
    """examples/curve/score_recordings.py makes the images once for several classifiers; each score and the
    seed ensemble's must be evaluate.py's, each image as it is (--no-tta)."""
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", BATCH)
    for seed in (1, 2):
        run_script("cnn_classifier1.py", *data, "--layers", 2, "--seed", seed, "--out", tmp_path / "seed{}".format(seed))
    recordings = tiny_corpus / "wav"
    result = run_script("examples/curve/score_recordings.py", "--recordings", recordings, "--jobs", 1,
                        tmp_path / "seed1", tmp_path / "seed2", "--ensemble", "both", tmp_path / "seed1",
                        tmp_path / "seed2", "--out", tmp_path / "scores.json")
    scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    for name, models in (("seed1", ["seed1"]), ("seed2", ["seed2"]), ("both", ["seed1", "seed2"])):
        flags = [flag for model in models for flag in ("--model", tmp_path / model)]
        run_script("evaluate.py", *flags, "--no-tta", "--jobs", 1, "--out", tmp_path / ("evaluation-" + name), recordings)
        reference = json.loads((tmp_path / ("evaluation-" + name) / "report.json").read_text())
        key = name if name == "both" else str(tmp_path / name)
        assert (scores[key]["correct"], scores[key]["total"]) == (reference["correct"], reference["total"])
        assert "{} {:.4f}".format(key, reference["accuracy"]) in result.stdout


def test_make_curve_adds_the_unlabelled_chain_only_when_asked(tmp_path):
    """CURVE_UNLABELLED empty (the default): make curve's commands name no unlabelled recording; set, a second
    greedy chain trains with them and the 3-CNN started from its third layer joins every n and seed."""
    def commands(*variables):
        return subprocess.run(["make", "-n", "curve", "RESULT=" + str(tmp_path / "result"),
                               "STAMPS=" + str(tmp_path / "stamps"), "CURVE_LABELS=1 all", "CURVE_SEEDS=1 2",
                               "CURVE_LARGE_SEEDS=1", *variables], cwd=ROOT, env=make_environment(),
                              capture_output=True, text=True, check=True).stdout
    assert "unlabelled" not in commands()
    lines = commands("CURVE_UNLABELLED=" + str(tmp_path / "voices")).replace("\\\n", " ").splitlines()
    chain = tmp_path / "result" / "curve" / "unlabelled_ae"
    for layer in (1, 2, 3):
        trained = [line for line in lines if "cnn_autoencoder{}.py".format(layer) in line
                   and "--out {}".format(chain / "autoencoder{}".format(layer)) in line]
        assert len(trained) == 1 and "--unlabelled {}".format(tmp_path / "voices") in trained[0]
    started = [line for line in lines if "--init {}".format(chain / "autoencoder3" / "model.npz") in line]
    assert sorted(line.split("--out ")[1].strip() for line in started) == [
        str(tmp_path / "result" / "curve" / "unlabelled" / run) for run in ("n1/seed1", "n1/seed2", "nall/seed1")]
    report = [line for line in lines if "curve_report.py" in line]
    assert str(tmp_path / "result" / "curve" / "unlabelled" / "n1" / "seed2") in report[0]


def test_curve_report_compares_the_unlabelled_chain_with_the_plain_one():
    from examples.curve import curve_report
    runs = dict.fromkeys(["2cnn", "3cnn", "pretrained", "unlabelled"], {})
    assert sorted(curve_report.comparisons(runs)) == [("pretrained", "2cnn"), ("pretrained", "3cnn"),
                                                      ("unlabelled", "3cnn"), ("unlabelled", "pretrained")]
    assert curve_report.comparisons(dict.fromkeys(["3cnn", "pretrained"], {})) == [("pretrained", "3cnn")]
