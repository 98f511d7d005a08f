"""Faults (issue 6): a stage killed with SIGKILL and run again by the same make command ends with the outputs of
an uninterrupted run; the same seed gives the same DataSet/; a diverging run, a pickled array and a data set
made with other features are refused with one line and no model."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, make_environment, run_script

CLF_EPOCHS = 3
POLL_S = 0.005


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def temporaries(directory):
    """What an interrupted writer may leave: atomic_path's .tmp-* and chainer's mkdtemp folders."""
    found = []
    for root, dirs, names in os.walk(directory):
        found += [os.path.join(root, name) for name in names + dirs
                  if name.startswith((".tmp-", "tmpsnapshot_")) or (name.startswith("log") and name != "log")]
    return found


class Make:
    """The Makefile with every output folder (and every variable a stage depends on) set by the test."""

    def __init__(self, variables, env):
        self.variables, self.env = variables, env

    @classmethod
    def in_folder(cls, tiny_corpus, work):
        """Builds from the tiny corpus's WAVs into ``work``."""
        if shutil.which("make") is None:
            pytest.skip("make is not installed")
        installed = ROOT / ".venv" / ".installed"
        if not installed.exists() or installed.stat().st_mtime < (ROOT / "requirements.txt").stat().st_mtime:
            pytest.skip("the Makefile's venv is not up to date (.venv/.installed): run the tests with make test")
        variables = dict(CORPUS=work / "corpus", WAV_DIR=tiny_corpus / "wav", SPEC_DIR=work / "spectrogram",
                         DATA_DIR=work / "DataSet", RESULT=work / "result", STAMPS=work / "stamps",
                         SPEAKERS=4, RATES=2, SEED=0, SEEDS=1, JOBS=1, DEVICE=-1, BATCH=30, SPLIT="speaker", AUGMENT=1,
                         FEATURES="", EPOCHS=CLF_EPOCHS, AE_EPOCHS=CLF_EPOCHS, CLF_EPOCHS=CLF_EPOCHS)
        return cls(variables, make_environment())

    def but(self, **overrides):
        return Make(dict(self.variables, **overrides), self.env)

    def __getattr__(self, name):
        if name == "variables":
            raise AttributeError(name)
        return self.variables[name]

    def command(self, target):
        return ["make", "--no-print-directory"] + ["{}={}".format(k, v) for k, v in self.variables.items()] + [str(target)]

    def run(self, target):
        result = subprocess.run(self.command(target), cwd=ROOT, env=self.env, capture_output=True, text=True)
        assert result.returncode == 0, "make {} failed:\n{}\n{}".format(target, result.stdout[-3000:], result.stderr)
        assert "Traceback" not in result.stderr
        return result

    def kill_when(self, target, ready, timeout_s=120):
        """Start make for ``target``, SIGKILL its whole process group as soon as ``ready()`` holds."""
        process = subprocess.Popen(self.command(target), cwd=ROOT, env=self.env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        try:
            while not ready():
                assert process.poll() is None, "make {} ended (rc {}) before it could be killed".format(
                    target, process.returncode)
                assert time.monotonic() < deadline, "make {}: not ready after {} s".format(target, timeout_s)
                time.sleep(POLL_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def killed_spectrogram(tiny_corpus, tmp_path_factory):
    """The spectrogram stage, over the index.json of an earlier run, killed after its first images; a stale
    temporary planted; the same command again."""
    make = Make.in_folder(tiny_corpus, tmp_path_factory.mktemp("faults"))
    index = make.SPEC_DIR / "index.json"
    make.SPEC_DIR.mkdir()
    index.write_text('{"files": [], "params": {}, "skipped": []}\n')  # older than its inputs: make reruns
    os.utime(index, (0, 0))
    make.kill_when(index, lambda: any(name.endswith(".npy") and not name.startswith(".")
                                      for name in os.listdir(make.SPEC_DIR)))
    at_kill = {"index": index.exists(), "images": sorted(name for name in os.listdir(make.SPEC_DIR)
                                                        if name.endswith(".npy") and not name.startswith("."))}
    at_kill["shapes"] = {np.load(make.SPEC_DIR / name, allow_pickle=False).shape for name in at_kill["images"]}
    (make.SPEC_DIR / ".tmp-stale.npy").write_bytes(b"\x93NUMPY half-written")
    make.run(index)
    return make, at_kill


@pytest.fixture(scope="module")
def dataset(killed_spectrogram):
    make, _ = killed_spectrogram
    make.run(make.DATA_DIR / "manifest.json")
    return make


def test_killed_spectrogram_stage_reruns_to_the_uninterrupted_output(tiny_corpus, killed_spectrogram):
    make, at_kill = killed_spectrogram
    # Each image is renamed into place whole; the index, removed when the stage starts and written last,
    # is what says the set is complete.
    assert not at_kill["index"] and 0 < len(at_kill["images"]) < 80, "not killed mid-way: {}".format(at_kill)
    assert at_kill["shapes"] == {(1, 64, 64)}, "a visible image of the killed run is incomplete"
    straight = tiny_corpus / "spectrogram"  # the same stage run without interruption by the session fixture
    assert (make.SPEC_DIR / "index.json").read_bytes() == (straight / "index.json").read_bytes()
    names = sorted(name for name in os.listdir(straight) if name.endswith(".npy"))
    assert sorted(name for name in os.listdir(make.SPEC_DIR) if name.endswith(".npy")) == names
    for name in names:
        assert (make.SPEC_DIR / name).read_bytes() == (straight / name).read_bytes(), name
    assert temporaries(make.SPEC_DIR) == []


def test_same_seed_gives_a_byte_identical_dataset(dataset, tmp_path):
    again = dataset.but(DATA_DIR=tmp_path / "DataSet")
    again.run(again.DATA_DIR / "manifest.json")
    names = sorted(os.listdir(dataset.DATA_DIR))
    assert {"manifest.json", "test_data.npy", "test_label.npy", "train_data.npy", "train_label.npy"} <= set(names)
    assert sorted(os.listdir(again.DATA_DIR)) == names
    for name in names:
        assert (again.DATA_DIR / name).read_bytes() == (dataset.DATA_DIR / name).read_bytes(), name


def test_killed_training_stage_resumes_to_bit_identical_weights(dataset, tmp_path):
    target = "classifier_2cnn/seed1/model.npz"
    straight = dataset.but(RESULT=tmp_path / "straight")
    straight.run(straight.RESULT / target)

    interrupted = dataset.but(RESULT=tmp_path / "interrupted")
    out = interrupted.RESULT / "classifier_2cnn" / "seed1"
    interrupted.kill_when(interrupted.RESULT / target, lambda: (out / "snapshot_epoch_1").exists())
    assert not (out / "model.npz").exists(), "training finished before it could be killed"
    first_snapshot = (out / "snapshot_epoch_1").stat().st_mtime_ns
    # What a kill in the middle of writing leaves: planted here, since the moment cannot be hit on purpose.
    (out / ".tmp-abcdefgh.npz").write_bytes(b"PK half-written")
    (out / "tmpsnapshot_epoch_2abcdefgh").mkdir()
    (out / "logabcdefgh").mkdir()
    interrupted.run(interrupted.RESULT / target)

    assert (out / "snapshot_epoch_1").stat().st_mtime_ns == first_snapshot, "restarted instead of resumed"
    assert (out / "snapshot_epoch_{}".format(CLF_EPOCHS)).exists()
    expected = weights(straight.RESULT / target)
    resumed = weights(out / "model.npz")
    assert sorted(resumed) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    assert json.loads((out / "model.json").read_text()) == \
        json.loads((straight.RESULT / "classifier_2cnn" / "seed1" / "model.json").read_text())
    assert temporaries(interrupted.RESULT) == []


def test_a_json_file_killed_while_written_keeps_its_previous_version(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"old": true}\n')
    # save_json with a json.dump that writes half the text and hangs: SIGKILL it there.
    child = subprocess.Popen([sys.executable, "-c", """
import sys, time
from specae import files
def half_then_hang(obj, stream, **kwargs):
    stream.write('{"new": [1, 2,')
    stream.flush()
    print("writing", flush=True)
    time.sleep(60)
files.json.dump = half_then_hang
files.save_json(sys.argv[1], {"new": [1, 2, 3]})
""", str(manifest)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.kill()
        child.wait()
    assert json.loads(manifest.read_text()) == {"old": True}
    left = [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert len(left) == 1 and left[0].endswith(".json")
    from specae.files import remove_stale_temporaries
    assert remove_stale_temporaries(tmp_path) == left and sorted(os.listdir(tmp_path)) == ["manifest.json"]


def copy_dataset(tiny_corpus, destination):
    shutil.copytree(tiny_corpus / "DataSet", destination)
    return destination


def one_line_error(result):
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("script", ["cnn_classifier1.py", "cnn_autoencoder1.py"])
def test_a_diverging_run_stops_with_one_line_and_no_model(tiny_corpus, tmp_path, script):
    data = copy_dataset(tiny_corpus, tmp_path / "DataSet")
    images = np.load(data / "train_data.npy", allow_pickle=False)
    images[7, 0, 10, 10] = np.nan
    np.save(data / "train_data.npy", images)
    result = run_script(script, "--dataset", data, "--epoch", 2, "--batchsize", 20, "--out", tmp_path / "out",
                        check=False)
    line = one_line_error(result)
    assert line.startswith("error: training diverged: the loss is nan at iteration ")
    assert line.endswith("; no model was written")
    assert not (tmp_path / "out" / "model.npz").exists()


def test_pickled_arrays_are_refused(tiny_corpus, tmp_path):
    data = copy_dataset(tiny_corpus, tmp_path / "DataSet")
    labels = np.load(data / "train_label.npy", allow_pickle=False)
    np.save(data / "train_label.npy", np.array(labels.tolist(), dtype=object), allow_pickle=True)
    result = run_script("cnn_classifier1.py", "--dataset", data, "--epoch", 1, "--out", tmp_path / "out", check=False)
    assert one_line_error(result) == ("error: {}: not a plain numeric array (Object arrays cannot be loaded when "
                                      "allow_pickle=False)".format(data / "train_label.npy"))
    assert not (tmp_path / "out" / "model.npz").exists()

    # A snapshot that --autoload would resume from, with one entry turned into a pickled object array.
    args = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--layers", 2, "--out", tmp_path / "run", "--autoload")
    run_script("cnn_classifier1.py", *args)
    snapshot = tmp_path / "run" / "snapshot_epoch_1"
    stored = weights(snapshot)
    stored["updater/iteration"] = np.array([stored["updater/iteration"]], dtype=object)
    with open(snapshot, "wb") as stream:
        np.savez(stream, **stored)
    result = run_script("cnn_classifier1.py", *args, check=False)
    assert one_line_error(result) == ("error: cannot resume from {}: Object arrays cannot be loaded when "
                                      "allow_pickle=False".format(snapshot))


def test_pretrained_layer_refuses_a_dataset_with_other_features(tiny_corpus, tmp_path):
    run_script("cnn_autoencoder1.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 0, "--out", tmp_path / "ae1")
    # The data set as `make_spectrogram.py --fmax-hz 5000` would describe it: only its manifest is compared.
    data = copy_dataset(tiny_corpus, tmp_path / "DataSet5000")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["params"]["fmax_hz"] = 5000.0
    (data / "manifest.json").write_text(json.dumps(manifest))
    result = run_script("cnn_autoencoder2.py", "--dataset", data, "--epoch", 1,
                        "--init", tmp_path / "ae1" / "model.npz", "--out", tmp_path / "ae2", check=False)
    line = one_line_error(result)
    assert line.startswith("error: {} (trained on other features than the data set) was made with other feature "
                           "parameters: fmax_hz=4000.0 (expected 5000.0)".format(tmp_path / "ae1" / "model.npz"))
    assert not (tmp_path / "ae2" / "model.npz").exists()
