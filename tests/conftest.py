"""Shared helpers of the tests. pytest puts the repository root on sys.path (pyproject.toml), so specae,
melbank and examples import as the scripts import them."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(script, *args, check=True):
    """Run a top-level script as a user would; returns the CompletedProcess (text output)."""
    result = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError("{} failed ({}):\n{}\n{}".format(script, result.returncode, result.stdout, result.stderr))
    return result


def cuda_device_count():
    """How many CUDA devices CuPy reaches here (0 without CuPy, a driver or a device)."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # each of those raises its own type; all mean "no GPU here"
        return 0


def deterministic_prefix_draws(draws):
    """The contract of the voice engines' draws (espeak's random voices, piper, Kokoro): a seed fixes them,
    fewer draws are a prefix of more, another seed differs, every name is unique. Returns 20 draws of seed 3."""
    many, few = draws(20, seed=3), draws(5, seed=3)
    assert many[:5] == few
    assert draws(20, seed=4) != many
    assert len({speaker.name for speaker in many}) == 20
    return many


def make_environment():
    """os.environ without what an outer ``make test VAR=...`` passes down, which must not leak into the
    make runs of the tests."""
    return {key: value for key, value in os.environ.items()
            if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """For ``pytest -n N --dist loadgroup --no-loadscope-reorder`` (make test): each module's tests are one
    unit of work, so that its module-scoped fixtures are made once, on one worker; the tests of the
    session's run of every goal (``xdist_group("goals")``, the longest chain of the suite) come first, so
    that the other workers take the other modules meanwhile. Without xdist only the order changes."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=lambda item: item.get_closest_marker("xdist_group").args[0] != "goals")  # a stable sort


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """80 espeak clips (4 speakers × 2 rates × 10 digits) → spectrograms → DataSet/."""
    root = tmp_path_factory.mktemp("tiny")
    run_script("make_wav.py", "--out", root / "wav", "--speakers", 4, "--rates", 2, "--rates-per-speaker", 0,
               "--jobs", 2)
    run_script("make_spectrogram.py", "--wav", root / "wav", "--out", root / "spectrogram", "--jobs", 2)
    run_script("make_dataset.py", "--spec", root / "spectrogram", "--out", root / "DataSet", "--test-ratio", 0.25)
    return root


@pytest.fixture(scope="session")
def goals(tmp_path_factory):
    """``(root, {goal: CompletedProcess})``: every goal the README names, made in turn on a tiny corpus with
    one epoch (tests/goals.py), once per session; test_goals.py checks each goal's outputs and
    test_report.py the page's section of each extension. Tests that use it are marked
    ``xdist_group("goals")``, so that under ``pytest -n`` one worker makes it."""
    from goals import run_goals
    root = tmp_path_factory.mktemp("goals")
    return root, run_goals(root)
