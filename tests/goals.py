"""The README's goals run through make on a tiny corpus with one epoch (tests/test_goals.py checks each
goal's outputs, tests/test_report.py the report page's section of each extension): the variables, the
venv stamps and the one run that the session shares (the ``goals`` fixture of conftest.py)."""
import subprocess
import sys

from conftest import ROOT, make_environment

# The goals the README names, in the order a user would run them: the one place where a goal is added
# (e.g. "human", "curve"), with a test of its outputs below; the shared run then makes it too.
GOALS = ["pretrain", "classify", "robustness", "evaluate", "listen", "denoise", "anomaly", "deep", "morph",
         "separate", "curve", "report", "human", "adapt", "human-folds",
         "human-unseen"]
# Goals that download packages or run for a long time: only their commands are checked (make -n).
DRY_RUN_GOALS = ["bench", "bench-scale", "mpi", "human-peer"]
SEEDS = (1, 2)  # two seeds, so that every goal that takes the classifier gets an ensemble


def make_variables(root, installed):
    """The smallest corpus and runs that still exercise every stage, all outputs under ``root``. The
    interpreter running the tests stands in for the venv, and the venv stamp is a file of our own, so
    that make never installs anything."""
    return ["PY=" + sys.executable, "INSTALLED=" + str(installed / "venv"), "MPI_INSTALLED=" + str(installed / "mpi"),
            "JOBS=2", "SPEAKERS=4", "RANDOM_VOICES=0", "RATES=2", "RATES_PER_SPEAKER=1", "NEURAL_SPEAKERS=0", "NEURAL_ACCENT_SPEAKERS=0",
            "KOKORO_SPEAKERS=0", "AUGMENT=0", "EPOCHS=1",
            "SPLIT=random",  # the test side then holds several voices, which separate needs to mix
            "SEEDS=" + " ".join(map(str, SEEDS)), "BATCH=10", "LISTEN_ITERATIONS=2", "SEPARATE_MIXTURES=20",
            "SEPARATE_TEST_MIXTURES=12", "CURVE_LABELS=1 all", "CURVE_SEEDS=1 2", "CURVE_LARGE_SEEDS=1",
            "CURVE_ITERATIONS=3", "CURVE_BATCH=10",
            "CORPUS=" + str(root / "wav"), "SPEC_DIR=" + str(root / "spectrogram"),
            "DATA_DIR=" + str(root / "DataSet"), "RESULT=" + str(root / "result"), "STAMPS=" + str(root / "stamps"),
            "NOISY=" + str(root / "noisy"), "DEGRADED=" + str(root / "degraded"), "WAVS=" + str(root / "wav"),
            "HUMAN_DIR=" + str(root / "human")]


def human_recordings(root):
    """HUMAN_DIR for the human-speech goals: two speakers of the tiny corpus, so that leave-one-speaker-out
    has two folds."""
    folder = root / "human"
    if not folder.exists():
        folder.mkdir()
        wavs = sorted((root / "wav").glob("*.wav"))
        two = sorted({path.name.split("_")[1] for path in wavs})[:2]
        for path in wavs:
            if path.name.split("_")[1] in two:
                (folder / path.name).symlink_to(path)
    return folder


# What a goal needs that make does not build: made just before the goal runs.
BEFORE = {"human": human_recordings}


def stamps(root):
    """A folder of fresh venv stamps, newer than the requirements files: make installs nothing."""
    folder = root / "installed"
    folder.mkdir()
    for name in ("venv", "mpi"):
        (folder / name).touch()
    return folder


def make(variables, *goals, dry_run=False):
    return subprocess.run(["make", "--no-print-directory"] + (["-n"] if dry_run else []) + list(goals) + variables,
                          cwd=ROOT, capture_output=True, text=True, env=make_environment())


def run_goals(root):
    """``{goal: CompletedProcess}``: each goal of GOALS made in turn, in one set of output folders under ``root``."""
    variables = make_variables(root, stamps(root))
    results = {}
    for goal in GOALS:
        if goal in BEFORE:
            BEFORE[goal](root)
        results[goal] = make(variables, goal)
    return results
