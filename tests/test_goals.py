"""Every goal the README names, run through make itself on a tiny corpus with one epoch.

One pipeline run (the session's ``goals`` fixture, shared with test_report.py) serves all the goals:
make builds what each needs once, and each test then checks that the outputs its documentation promises
exist and make sense. Everything lands in a temporary folder (the output-folder variables), nothing in
the repository. A goal is added in GOALS (tests/goals.py).
"""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from goals import DRY_RUN_GOALS, GOALS, SEEDS, make, make_variables, stamps
from specae import tables

sys.path.insert(0, str(ROOT / "bench"))
import bench_pipeline  # noqa: E402  (the benchmark's replay of the Makefile's schedule)

# The session's run of the goals is made on one xdist worker, the tests that read it with it.
pytestmark = pytest.mark.xdist_group("goals")


@pytest.fixture
def run(goals):
    """``(root, {goal: CompletedProcess})``: the session's one run of every goal (conftest.py)."""
    return goals


def made(run, goal):
    root, results = run
    result = results[goal]
    assert result.returncode == 0, "make {} failed:\n{}\n{}".format(goal, result.stdout[-3000:], result.stderr[-3000:])
    return root / "result"


def load(path):
    return json.loads(Path(path).read_text())


def tables_as_written(folder):
    """An extension's report.md is its report.json's tables (what the report page shows) as Markdown."""
    report = load(folder / "report.json")
    assert report["tables"] and all(len(row) == len(table["header"]) for table in report["tables"]
                                    for row in table["rows"])
    assert tables.markdown(report["tables"], report.get("notes", [])) == (folder / "report.md").read_text()
    return report


def is_png(path):
    return Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def is_wav(path):
    return Path(path).read_bytes()[:4] == b"RIFF"


def test_pretrain_writes_three_autoencoders(run):
    result = made(run, "pretrain")
    for layer in (1, 2, 3):
        out = result / "autoencoder{}".format(layer)
        info = load(out / "model.json")
        assert info["kind"] == "greedy_stack" and info["n_layers"] == layer
        log = load(out / "log")
        assert log[-1]["epoch"] == 1 and np.isfinite(log[-1]["main/loss"])
        assert is_png(out / "inout-comparison_autoencoder{}.png".format(layer))


def test_classify_trains_every_model_and_seed_and_compares(run):
    result = made(run, "classify")
    for model in ("classifier_2cnn", "classifier_3cnn", "classifier_pretrained", "classifier_3cnn_freqpool"):
        for seed in SEEDS:
            out = result / model / "seed{}".format(seed)
            assert (out / "model.npz").exists() and is_png(out / "accuracy.png")
            assert 0.0 <= load(out / "log")[-1]["validation/main/accuracy"] <= 1.0
            assert load(out / "model.json")["dropout"] == 0.5  # the Makefile's DROPOUT
            assert load(out / "model.json")["label_smoothing"] == 0.2  # and LABEL_SMOOTHING
            assert load(out / "model.json")["frequency_pool"] == (2 if model.endswith("freqpool") else 1)
    comparison = load(result / "comparison.json")
    # The comparison keeps the original's three architectures; the fourth member is the recogniser's alone.
    models_compared = set(json.dumps(comparison).split('"'))
    assert {"classifier_2cnn", "classifier_3cnn", "classifier_pretrained"} <= models_compared
    assert "classifier_3cnn_freqpool" not in models_compared
    assert "pretrained" in (result / "comparison.md").read_text()
    assert is_png(result / "loss-accuracy_comparison.png") and is_png(result / "loss-accuracy_comparison_pre-train.png")
    assert "<html" in (result / "index.html").read_text().lower()


def test_robustness_scores_every_condition(run):
    result = made(run, "robustness")
    table = (result / "robustness.md").read_text()
    for condition in ("clean", "telephone", "noise", "reverb", "voice", "mixed"):
        assert condition in table
    rows = load(result / "robustness.json")
    accuracies = [value for value in json.dumps(rows).replace(",", " ").split() if value[:1].isdigit()]
    assert rows and accuracies
    # last, the recogniser that MODEL names, as predict.py answers: every member, each column a fraction
    assert recogniser(rows["recogniser"]["models"]) == RECOGNISER
    assert all(0.0 <= rows["recogniser"][column] <= 1.0 for column in ("clean", "telephone", "mixed", "mean_degraded"))
    assert "| the recogniser ({} models) |".format(len(RECOGNISER)) in table


# The recogniser that MODEL names by default: every seed of every model (specae/inference.DEFAULT_ENSEMBLE)
RECOGNISER = ["{}/seed{}".format(model, seed) for model in ("classifier_3cnn", "classifier_pretrained", "classifier_2cnn",
                                                           "classifier_3cnn_freqpool")
              for seed in SEEDS]


def recogniser(models):
    """A report's model folders as MODEL's folder/seed names."""
    return ["{}/{}".format(Path(model).parent.name, Path(model).name) for model in models]


def test_evaluate_reports_accuracy_of_the_ensemble(run):
    result = made(run, "evaluate")
    report = load(result / "evaluation" / "wav" / "report.json")
    assert recogniser(report["models"]) == RECOGNISER and 0.0 <= report["accuracy"] <= 1.0
    assert report["total"] == 40 and report["correct"] == sum(np.diag(report["confusion"]))
    assert is_png(result / "evaluation" / "wav" / "confusion.png")


def test_listen_writes_wavs_of_reconstructions(run):
    result = made(run, "listen")
    listing = load(result / "listen" / "listen.json")
    wavs = sorted((result / "listen").rglob("*.wav"))
    assert listing and wavs and all(is_wav(path) for path in wavs)
    assert is_png(result / "listen" / "listen.png")


def test_denoise_reports_distances(run):
    result = made(run, "denoise")
    report = tables_as_written(result / "denoise")
    assert "noisy input" in report["reconstruction"] and "dB" in (result / "denoise" / "report.md").read_text()
    assert is_png(result / "denoise" / "denoise.png")


def test_anomaly_writes_the_detector_with_the_classifier_ensemble(run):
    result = made(run, "anomaly")
    detector = load(result / "anomaly" / "detector.json")
    assert np.isfinite(detector["threshold"])
    report = tables_as_written(result / "anomaly")
    for row in report["rows"].values():
        assert 0.0 <= row["auc"] <= 1.0
    assert any(row["kind"] == "classifier" for row in report["rows"].values())
    assert is_png(result / "anomaly" / "roc.png")


def test_deep_compares_with_the_greedy_stack(run):
    result = made(run, "deep")
    assert load(result / "deep" / "model.json")["kind"] == "deep_autoencoder"
    report = tables_as_written(result / "deep")
    assert all(0.0 <= row["test_mse"] for row in report["reconstruction"].values())


def test_morph_trains_the_vae_and_draws_morphs(run):
    result = made(run, "morph")
    report = tables_as_written(result / "vae")
    assert load(result / "vae" / "model.json")["kind"] == "vae"
    rows = report["models"]
    assert len(rows) == 4 and all(0.0 <= row["mse"] and -1.0 <= row["cosine"] <= 1.0 for row in rows.values())
    assert is_png(result / "vae" / "latent_map.png")
    for name in report["morphs"]:  # a tiny test side may hold no pair to morph
        assert is_png(result / "vae" / "morph_{}.png".format(name))


def test_separate_scores_the_unet_against_the_ideal_mask(run):
    result = made(run, "separate")
    for version in ("unet", "noskip"):
        evaluation = load(result / "separate" / version / "evaluation.json")
        accuracies = [row["accuracy"] for rows in evaluation["summary"].values() for row in rows.values()
                      if isinstance(row, dict) and "accuracy" in row]
        assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)
    assert "ideal ratio mask" in (result / "separate" / "report.md").read_text()
    tables_as_written(result / "separate")


def test_curve_pairs_pretrained_and_scratch_runs_on_the_same_labels(run):
    result = made(run, "curve")
    curve = load(result / "curve" / "curve.json")
    assert sorted(curve["runs"]) == ["2cnn", "3cnn", "pretrained"]
    for model, by_n in curve["runs"].items():
        assert sorted(by_n["1"]) == ["1", "2"] and sorted(by_n["all"]) == ["1"]
        for seed, entry in by_n["1"].items():
            info = load(result / "curve" / model / "n1" / "seed{}".format(seed) / "model.json")
            assert info["subset_seed"] == int(seed) and info["labelled_clips"] == 10 and info["iterations"] == 3
            assert entry["accuracy"] == load(Path(entry["folder"]) / "log")[-1]["validation/main/accuracy"]
    per_seed = [curve["runs"]["pretrained"]["1"][s]["accuracy"] - curve["runs"]["3cnn"]["1"][s]["accuracy"]
                for s in ("1", "2")]
    difference = curve["differences"]["pretrained - 3cnn"]["1"]
    assert difference["mean"] == pytest.approx(np.mean(per_seed))
    if per_seed[0] != per_seed[1]:  # mean ± t(0.975, 1 degree of freedom) × standard error
        half = 12.706204736 * abs(per_seed[0] - per_seed[1]) / 2
        assert (difference["low"], difference["high"]) == pytest.approx((np.mean(per_seed) - half,
                                                                         np.mean(per_seed) + half))
    report = tables_as_written(result / "curve")
    assert (result / "curve" / "curve.md").read_text() == (result / "curve" / "report.md").read_text()
    assert report["differences"] == curve["differences"]
    assert is_png(result / "curve" / "curve.png")


def test_report_page_has_a_section_per_extension(run):
    result = made(run, "report")
    page = (result / "index.html").read_text()
    for section in ("comparison", "robustness", "denoise", "anomaly", "deep", "separat", "listen",
                    "pretraining against labels"):
        assert section in page.lower(), section


def test_human_scores_the_ensemble_per_speaker(run):
    result = made(run, "human")
    report = load(result / "human" / "report.json")
    assert recogniser(report["models"]) == RECOGNISER and report["total"] == 20
    assert sorted(report["speakers"]) == sorted({path.name.split("_")[1] for path in (run[0] / "human").iterdir()})
    assert sum(s["correct"] for s in report["speakers"].values()) == report["correct"]
    assert is_png(result / "human" / "confusion.png")


def test_human_without_recordings_is_a_one_line_error(tmp_path):
    result = make(make_variables(tmp_path, stamps(tmp_path)) + ["HUMAN_DIR=" + str(tmp_path / "absent")], "human")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("make human: no folder of human recordings: set HUMAN_DIR")
    assert "Free Spoken Digit Dataset" in result.stderr


def test_adapt_self_trains_on_the_recordings_and_scores_them(run):
    result = made(run, "adapt")
    report = load(result / "adapted" / "adaptation.json")
    for member in report["members"]:  # every seed of MODEL adapted
        info = load(result / "adapted" / member / "model.json")
        assert info["kind"] == "cnn" and info["init"] == "adapted"
    assert report["recordings"] == 20 and len(report["rounds"]) == 5
    assert 0.0 <= load(result / "human_adapted" / "report.json")["accuracy"] <= 1.0


def test_human_folds_compare_scratch_fine_tuned_and_adapted_per_held_out_speaker(run):
    result = made(run, "human-folds")
    folds = load(result / "human_folds" / "folds.json")
    assert len(folds["folds"]) == 2
    for fold in folds["folds"]:
        assert all(0.0 <= fold[name] <= 1.0 for name in ("scratch", "fine-tuned", "fine-tuned, adapted"))
        fold_dir = result / "human_folds" / fold["speaker"]
        held_out = load(fold_dir / "DataSet" / "manifest.json")["test"]
        assert held_out["speakers"] == [fold["speaker"]]
        # the adaptation hears the held-out speaker's audio, all of it and nothing else, and starts from
        # the fold's fine-tuned model; the score is its last round's on the held-out test split
        adaptation = load(fold_dir / "fine-tuned-adapted" / "adaptation.json")
        assert sorted(adaptation["files"]) == sorted(entry["wav"] for entry in held_out["files"])
        assert adaptation["started_from"] == [str(fold_dir / "fine-tuned")]
        last_log = load(fold_dir / "fine-tuned-adapted" / "round{}".format(len(adaptation["rounds"])) / "log")
        assert fold["fine-tuned, adapted"] == last_log[-1]["validation/main/accuracy"]
    assert "mean ± std over 2 folds" in (result / "human_folds" / "folds.md").read_text()


def test_human_unseen_scores_each_speaker_with_models_adapted_to_the_others(run):
    result = made(run, "human-unseen")
    unseen = load(result / "human_unseen" / "unseen.json")
    speakers = sorted({path.name.split("_")[1] for path in (run[0] / "human").iterdir()})
    assert sorted(s for group in unseen["groups"] for s in group) == speakers and len(unseen["groups"]) == 2
    correct = total = 0
    for number, group in enumerate(unseen["groups"], start=1):
        group_dir = result / "human_unseen" / "group{}".format(number)
        adaptation = load(group_dir / "adaptation.json")
        # the adaptation heard every recording of the other groups and none of this group's
        heard = sorted(Path(path).name for path in adaptation["files"])
        assert heard == sorted(path.name for path in (run[0] / "human").iterdir()
                               if path.name.split("_")[1] not in group)
        assert recogniser(adaptation["started_from"]) == RECOGNISER
        assert "round 5:" in (group_dir / "adapt.log").read_text()  # JOBS=2: the groups side by side, logged
        scored = load(group_dir / "scored" / "report.json")
        assert sorted(scored["speakers"]) == sorted(group) and scored["model"].startswith(str(group_dir))
        correct, total = correct + scored["correct"], total + scored["total"]
    assert total == 20 and unseen["overall"]["after"] == correct / total
    before = load(result / "human_unseen" / "before" / "report.json")
    assert unseen["overall"]["before"] == before["accuracy"]
    assert "all 2 speakers" in (result / "human_unseen" / "unseen.md").read_text()


def test_dropout_reaches_every_classifier_and_no_autoencoder(tmp_path):
    """DROPOUT=0 trains the classifiers as the original did; the autoencoders take no such option."""
    result = make(make_variables(tmp_path, stamps(tmp_path)) + ["DROPOUT=0"], "pretrain", "classify", dry_run=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    classifiers = [line for line in lines if "cnn_classifier" in line]
    assert len(classifiers) == 4 * len(SEEDS)
    assert all(re.search(r"--dropout 0(\s|$)", line) for line in classifiers)
    autoencoders = [line for line in lines if "cnn_autoencoder" in line]
    assert len(autoencoders) == 3 and not any("--dropout" in line for line in autoencoders)


def training_waits(folder, jobs, seeds):
    """``{run: the training runs it waits for}`` of ``make pretrain classify``, read from make's database:
    its normal prerequisites (the autoencoder before) and its order-only ones."""
    folder.mkdir(exist_ok=True)
    variables = [v for v in make_variables(folder, stamps(folder)) if not v.startswith(("JOBS=", "SEEDS="))]
    result = make(variables + ["JOBS={}".format(jobs), "SEEDS=" + " ".join(map(str, seeds)), "-p"],
                  "pretrain", "classify", dry_run=True)
    assert result.returncode == 0, result.stderr
    return bench_pipeline.training_waits(result.stdout, str(folder / "result"))  # what the benchmark replays


@pytest.mark.parametrize("seeds", [(1, 2), (1, 2, 3), (1, 2, 3, 4, 5)])
def test_two_slots_run_the_trainings_in_two_lanes_of_equal_work(tmp_path, seeds):
    """With two slots (JOBS=2) the training runs form two lanes, each run waiting for the one before it in
    its lane, so that make runs one of each side by side: the autoencoder chain, the pretrained seeds and
    the frequency-pooled seeds after the second; beside it the other classifiers from scratch, which wait
    for nothing of the first. Counting the autoencoder chain as four classifier runs (its 2.7 minutes),
    the two lanes hold the same work. With three slots only the pretrained runs and the autoencoders wait."""
    names = {model: ["classifier_{}/seed{}".format(model, seed) for seed in seeds]
             for model in ("2cnn", "3cnn", "pretrained", "3cnn_freqpool")}
    chain = ["autoencoder1", "autoencoder2", "autoencoder3"] + names["pretrained"] + names["3cnn_freqpool"][2:]
    scratch = names["2cnn"] + names["3cnn"] + names["3cnn_freqpool"][:2]
    assert len(chain) + 1 == len(scratch)
    waits = training_waits(tmp_path / "two", 2, seeds)
    assert sorted(waits) == sorted(chain + scratch)
    for lane, other in ((chain, scratch), (scratch, chain)):
        assert all(before in waits[after] for before, after in zip(lane, lane[1:]))
        assert not any(waits[name] & set(other) for name in lane)
    three = training_waits(tmp_path / "three", 3, seeds)
    assert {name: before for name, before in three.items() if before} == {
        "autoencoder2": {"autoencoder1"}, "autoencoder3": {"autoencoder2"},
        **{name: {"autoencoder3"} for name in names["pretrained"]}}
    # bench/bench_pipeline.py's replay of these waits: with every classifier run one unit and the autoencoder
    # chain four, two slots end together after half the work, neither idle; three slots after the longest
    # path (the chain, then a pretrained run) or a third of the work, whichever is longer
    units = {"autoencoder1": 1, "autoencoder2": 2, "autoencoder3": 1}
    jobs = [(None, 0.0)] + [(name, float(units.get(name, 1))) for name in ["autoencoder1", "autoencoder2", "autoencoder3"]
                            + names["2cnn"] + names["3cnn"] + names["pretrained"] + names["3cnn_freqpool"]]
    work = sum(seconds for _, seconds in jobs)
    assert bench_pipeline.make_schedule(jobs, 2, waits) == work / 2
    assert bench_pipeline.make_schedule(jobs, 3, three) >= max(work / 3, 5)
    assert bench_pipeline.make_schedule(jobs, 1, {}) == work


@pytest.mark.parametrize("goal", DRY_RUN_GOALS)
def test_long_goals_have_commands(goal, tmp_path):
    result = make(make_variables(tmp_path, stamps(tmp_path)), goal, dry_run=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def readme_goals():
    """Every goal the README tells a user to make: the words after ``make`` in its inline code and its code
    blocks, without variables, options and the rest of a line's comment."""
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"`make ([^`]*)`", text) + re.findall(r"^\s*make ([^#\n]*)", "\n".join(
        re.findall(r"```\n(.*?)```", text, re.S)), re.M)
    return {word for command in commands for word in command.split() if re.fullmatch(r"[a-z][a-z-]*", word)}


def test_every_goal_the_readme_names_is_run_or_checked_here():
    goals = readme_goals()
    assert {"pretrain", "classify", "test", "human", "human-peer"} <= goals
    assert sorted(goals - set(GOALS + DRY_RUN_GOALS + ["test", "help"])) == []


def test_help_names_every_goal_and_variable(tmp_path):
    """make help prints the header of the Makefile and of each mk/*.mk: every variable a user may set
    (?=) and every goal above is named there."""
    result = make(make_variables(tmp_path, stamps(tmp_path)), "help")
    assert result.returncode == 0, result.stderr
    sources = [ROOT / "Makefile"] + sorted((ROOT / "mk").glob("*.mk"))
    variables = {name for path in sources for name in re.findall(r"^([A-Z_]+) \?=", path.read_text(), re.M)}
    assert len(variables) > 30
    assert sorted(name for name in variables if not re.search(r"\b{}\b".format(name), result.stdout)) == []
    assert sorted(goal for goal in GOALS + DRY_RUN_GOALS + ["test"]
                  if not re.search(r"make [^\n]*\b{}\b".format(goal), result.stdout)) == []
