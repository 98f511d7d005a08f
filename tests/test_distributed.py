"""Data-parallel training with ChainerMN (--communicator naive) in 2 MPI processes on the tiny corpus.

With the whole training split as one batch, the gradient that 2 processes average (each over its half)
is the one-process gradient over the same examples, so the runs must agree to float rounding: same
weights (rtol 1e-3 after a few Adam steps, which amplify rounding where a gradient is near 0), the
same test accuracy, losses within 1e-4. With mini-batches the 2-process run is the one-process
run with another partition of the examples into batches, i.e. another shuffle; that is left to the
seed-to-seed spread of the comparison, not tested here.

Needs MPI: `make mpi` installs mpich and mpi4py from PyPI into .venv (make test does it first).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_script

MPIEXEC = Path(sys.executable).parent / "mpiexec"
try:
    import mpi4py  # noqa: F401
    MISSING = None if MPIEXEC.exists() or shutil.which("mpiexec") else "no mpiexec beside {}".format(sys.executable)
except ImportError:
    MISSING = "mpi4py is not installed"
pytestmark = pytest.mark.skipif(MISSING is not None,
                                reason="MPI is not available ({}): `make mpi` installs it into .venv".format(MISSING))


def mpirun(n, script, *args):
    mpiexec = str(MPIEXEC) if MPIEXEC.exists() else shutil.which("mpiexec")
    result = subprocess.run([mpiexec, "-n", str(n), sys.executable, str(ROOT / script), *map(str, args)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError("{} in {} processes failed ({}):\n{}\n{}".format(
            script, n, result.returncode, result.stdout, result.stderr))
    return result


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def log(directory):
    return json.loads((directory / "log").read_text())


def full_batch(tiny_corpus):
    return len(np.load(tiny_corpus / "DataSet" / "train_label.npy"))


def test_two_processes_train_the_classifier_like_one(tiny_corpus, tmp_path):
    # Without dropout: its masks fall on the batch's rows by position, and each process holds other rows.
    common = ("--dataset", tiny_corpus / "DataSet", "--epoch", 4, "--batchsize", full_batch(tiny_corpus),
              "--layers", 2, "--seed", 3, "--dropout", 0)
    run_script("cnn_classifier1.py", *common, "--out", tmp_path / "one")
    result = mpirun(2, "cnn_classifier1.py", *common, "--out", tmp_path / "two", "--communicator", "naive")
    assert result.stdout.count("saved ") == 1  # only rank 0 prints and writes
    one, two = log(tmp_path / "one"), log(tmp_path / "two")
    assert [entry["epoch"] for entry in two] == [0, 1, 2, 3, 4]
    for a, b in zip(one, two):
        assert b["validation/main/accuracy"] == pytest.approx(a["validation/main/accuracy"], abs=1e-6)
        assert b["validation/main/loss"] == pytest.approx(a["validation/main/loss"], abs=1e-4)
    reference = weights(tmp_path / "one" / "model.npz")
    for name, value in weights(tmp_path / "two" / "model.npz").items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-3, atol=1e-5, err_msg=name)
    for name in ("model.json", "accuracy.png", "loss.png", "snapshot_epoch_4"):
        assert (tmp_path / "two" / name).exists()


def test_two_processes_pretrain_on_cached_features_like_one(tiny_corpus, tmp_path):
    common = ("--dataset", tiny_corpus / "DataSet", "--epoch", 3, "--batchsize", full_batch(tiny_corpus))
    for n, out in ((1, tmp_path / "one"), (2, tmp_path / "two")):
        extra = ("--communicator", "naive") if n > 1 else ()
        run = (lambda *a: mpirun(2, *a)) if n > 1 else run_script
        run("cnn_autoencoder1.py", *common, "--out", out / "ae1", *extra)
        run("cnn_autoencoder2.py", *common, "--out", out / "ae2", "--init", out / "ae1" / "model.npz", *extra)
    for layer in ("ae1", "ae2"):
        reference = weights(tmp_path / "one" / layer / "model.npz")
        for name, value in weights(tmp_path / "two" / layer / "model.npz").items():
            np.testing.assert_allclose(value, reference[name], rtol=1e-3, atol=1e-5, err_msg=layer + " " + name)
        one, two = log(tmp_path / "one" / layer), log(tmp_path / "two" / layer)
        assert two[-1]["validation/main/loss"] == pytest.approx(one[-1]["validation/main/loss"], rel=1e-3)
    assert (tmp_path / "two" / "ae2" / "inout-comparison_autoencoder2.png").exists()


def test_an_error_in_one_process_ends_all_with_one_line(tiny_corpus, tmp_path):
    mpiexec = str(MPIEXEC) if MPIEXEC.exists() else shutil.which("mpiexec")
    args = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 21, "--out", tmp_path / "out",
            "--communicator", "naive")
    result = subprocess.run([mpiexec, "-n", "2", sys.executable, str(ROOT / "cnn_classifier1.py"), *map(str, args)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "error: --batchsize 21 cannot be split evenly over 2 processes" in result.stderr
    assert not (tmp_path / "out" / "model.npz").exists()


def test_communicator_in_one_process_trains_like_a_plain_run(tiny_corpus, tmp_path):
    """Without mpiexec a process is a world of one: with the whole training split as one batch (so that
    the order ChainerMN's scatter gives the examples does not matter) the run is the plain run. Without
    dropout, whose masks fall on the batch's rows by position, where that order would matter."""
    common = ("--dataset", tiny_corpus / "DataSet", "--epoch", 2, "--layers", 2, "--seed", 3,
              "--batchsize", full_batch(tiny_corpus), "--dropout", 0)
    run_script("cnn_classifier1.py", *common, "--out", tmp_path / "plain")
    result = run_script("cnn_classifier1.py", *common, "--out", tmp_path / "solo", "--communicator", "naive")
    assert result.stdout.count("saved ") == 1
    plain, solo = log(tmp_path / "plain"), log(tmp_path / "solo")
    assert [entry["epoch"] for entry in solo] == [entry["epoch"] for entry in plain] == [0, 1, 2]
    for a, b in zip(plain, solo):
        assert set(a) == set(b)
        for key in ("main/loss", "validation/main/loss"):
            if key in a:  # the entry before training has no training loss
                assert b[key] == pytest.approx(a[key], rel=1e-5), key
        assert b["validation/main/accuracy"] == pytest.approx(a["validation/main/accuracy"], abs=1e-6)
    reference = weights(tmp_path / "plain" / "model.npz")
    for name, value in weights(tmp_path / "solo" / "model.npz").items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-4, atol=1e-6, err_msg=name)
