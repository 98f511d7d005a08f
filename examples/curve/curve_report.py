#!/usr/bin/env python
"""Accuracy against the number of labels: the runs of make curve (each a classifier trained for the same
number of updates on n labelled clips per digit) gathered into a table, a figure and paired differences.

Each run folder is MODEL/nN/seedS, as mk/curve.mk names them; its model.json says the labelled clips, the
subset seed and the updates, its log the test accuracy and loss at the end. A difference such as
pretrained − 3cnn is taken per seed (the two runs of a seed share the labelled subset), then averaged, with a
95 % t-interval over the seeds and the two-sided p-value of the paired t-test (scipy.stats).
Writes curve.json (every run and every summary), curve.md (the tables), curve.png, and report.json and
report.md (the same tables, the summaries and differences, for the report page) to --out.
"""
import argparse
import collections
import os
import shutil
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np
from scipy import stats

from specae import errors, tables
from specae.files import load_json, save_figure, save_json
from specae.plots import plt

MODEL_NAMES = {"2cnn": "2-CNN, scratch", "3cnn": "3-CNN, scratch", "pretrained": "3-CNN, greedy AE pretrained",
               "deep": "3-CNN, deep AE pretrained", "denoising": "3-CNN, denoising AE pretrained",
               "vae": "3-CNN, VAE pretrained",
               "unlabelled": "3-CNN, greedy AE pretrained + unlabelled recordings"}
SCRATCH = ("2cnn", "3cnn")
CONFIDENCE = 0.95


def read_run(directory):
    """One run: its model folder's name, the labels per class ("all" or a number) and what it measured."""
    try:
        info = load_json(os.path.join(directory, "model.json"))
        last = load_json(os.path.join(directory, "log"))[-1]
        batchsize = load_json(os.path.join(directory, "run.json"))["batchsize"]
        return (os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(directory)))),
                str(info.get("labels_per_class") or "all"),
                {"seed": info["seed"], "subset_seed": info.get("subset_seed"), "labelled_clips": info["labelled_clips"],
                 "labelled_rows": info["labelled_rows"], "iterations": last["iteration"], "batchsize": batchsize,
                 "epochs": info["epochs"],
                 "accuracy": last["validation/main/accuracy"], "loss": last["validation/main/loss"],
                 "seconds": last["elapsed_time"], "folder": directory})
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        errors.fail("{}: not a finished run of make curve ({})".format(directory, error))


def gather(directories):
    """{model: {n: {seed: run}}}, n in the order of increasing labelled clips."""
    runs = collections.defaultdict(dict)
    for directory in directories:
        model, n, run = read_run(directory)
        runs[model].setdefault(n, {})[run["seed"]] = run
    return {model: dict(sorted(by_n.items(), key=lambda item: clips_per_class(item[1])))
            for model, by_n in runs.items()}


def clips_per_class(by_seed):
    """Labelled clips per digit of the runs of one n (for "all", the whole training split's average)."""
    return float(np.mean([run["labelled_clips"] for run in by_seed.values()])) / 10


def summary(by_seed):
    accuracies = np.array([run["accuracy"] for run in by_seed.values()])
    return {"mean": float(accuracies.mean()), "std": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
            "seeds": len(accuracies), "clips_per_class": clips_per_class(by_seed),
            "mean_loss": float(np.mean([run["loss"] for run in by_seed.values()]))}


def paired_difference(first, second):
    """first − second over the seeds both have: the mean, its t-interval, the paired t-test's p-value, and
    on how many seeds first came out ahead. With one seed the interval is unknown (None)."""
    seeds = sorted(set(first) & set(second))
    differences = np.array([first[s]["accuracy"] - second[s]["accuracy"] for s in seeds])
    result = {"seeds": len(seeds), "mean": float(differences.mean()), "low": None, "high": None, "p": None,
              "ahead": int(np.sum(differences > 0)), "behind": int(np.sum(differences < 0))}
    if len(seeds) > 1:
        spread = stats.sem(differences)
        if spread > 0:
            low, high = stats.t.interval(CONFIDENCE, len(seeds) - 1, loc=differences.mean(), scale=spread)
            result.update(low=float(low), high=float(high), p=float(stats.ttest_rel(
                [first[s]["accuracy"] for s in seeds], [second[s]["accuracy"] for s in seeds]).pvalue))
        else:
            result.update(low=result["mean"], high=result["mean"])
    return result


def comparisons(runs):
    """The pairs to compare: every pretrained model against the 3-CNN from scratch (the same network),
    the greedy pretrained 3-CNN against the 2-CNN too (the best model from scratch in make classify), and
    the greedy chain with unlabelled recordings against the one without."""
    pairs = [(model, "3cnn") for model in runs if model not in SCRATCH and "3cnn" in runs]
    if "pretrained" in runs and "2cnn" in runs:
        pairs.append(("pretrained", "2cnn"))
    if "unlabelled" in runs and "pretrained" in runs:  # what the unlabelled recordings add to the same pretraining
        pairs.append(("unlabelled", "pretrained"))
    return pairs


def differences(runs):
    return {"{} - {}".format(first, second): {n: paired_difference(runs[first][n], runs[second][n])
                                              for n in runs[first] if n in runs[second]}
            for first, second in comparisons(runs)}


def points(value):
    return "{:+.1f}".format(100 * value)


def interval(row):
    if row["low"] is None:
        return "–"
    return "[{}, {}]".format(points(row["low"]), points(row["high"]))


def result_tables(runs, summaries, diffs):
    columns = list(dict.fromkeys(n for by_n in runs.values() for n in by_n))
    per_class = {n: summaries[model][n]["clips_per_class"] for model in runs for n in runs[model]}
    accuracy = tables.table(["model"] + ["n = {}".format(n) if n != "all" else "all ({:.0f})".format(per_class[n])
                                         for n in columns], [
        [MODEL_NAMES.get(model, model)] + ["{:.1f} ± {:.1f} ({})".format(100 * summaries[model][n]["mean"],
                                                                         100 * summaries[model][n]["std"],
                                                                         summaries[model][n]["seeds"])
                                           if n in summaries[model] else "–" for n in columns]
        for model in runs])
    rows = []
    for name, by_n in diffs.items():
        for n, row in by_n.items():
            rows.append([name.replace(" - ", " − "), n, points(row["mean"]), interval(row),
                         "–" if row["p"] is None else "{:.3f}".format(row["p"]),
                         "{} / {} / {}".format(row["ahead"], row["seeds"] - row["ahead"] - row["behind"],
                                               row["behind"])])
    paired = tables.table(["difference", "n", "mean (points)", "95 % t-interval", "paired t-test p",
                           "seeds ahead / tied / behind"], rows)
    return [accuracy, paired]


def notes(runs):
    settings = settings_of(runs)
    return ["Test accuracy (%) on the held-out voices, mean ± std over seeds (number of seeds in brackets), "
            "against n labelled clips per digit (with their degraded copies; all: the whole training split, its "
            "mean clips per digit in brackets); every run made {} updates of "
            "batch {}. A seed draws the labelled subset and initialises the model; the models of one seed see "
            "the same subset, so the differences below are paired by seed.".format(
                settings["iterations"], settings["batchsize"]),
            "Differences in percentage points, first model minus second, per seed, then the mean over the seeds "
            "with its {:.0f} % t-interval and the paired t-test.".format(100 * CONFIDENCE)]


def settings_of(runs):
    every = [run for by_n in runs.values() for by_seed in by_n.values() for run in by_seed.values()]
    iterations = sorted({run["iterations"] for run in every})
    batches = sorted({run["batchsize"] for run in every})
    return {"iterations": iterations[0] if len(iterations) == 1 else iterations,
            "batchsize": batches[0] if len(batches) == 1 else batches,
            "runs": len(every), "training_seconds": float(sum(run["seconds"] for run in every))}


def draw(runs, summaries, diffs, path):
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    for model in runs:
        rows = [summaries[model][n] for n in runs[model]]
        x = [row["clips_per_class"] for row in rows]
        mean = np.array([row["mean"] for row in rows]) * 100
        std = np.array([row["std"] for row in rows]) * 100
        line, = left.plot(x, mean, marker="o", label=MODEL_NAMES.get(model, model))
        left.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    left.set(xscale="log", xlabel="labelled clips per digit", ylabel="test accuracy (%), mean ± std",
             title="held-out voices")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    for offset, (name, by_n) in zip(np.linspace(-0.04, 0.04, max(1, len(diffs))), diffs.items()):
        first, second = name.split(" - ")
        x = np.array([summaries[first][n]["clips_per_class"] for n in by_n]) * 10 ** offset
        mean = np.array([row["mean"] for row in by_n.values()]) * 100
        low = np.array([row["mean"] if row["low"] is None else row["low"] for row in by_n.values()]) * 100
        high = np.array([row["mean"] if row["high"] is None else row["high"] for row in by_n.values()]) * 100
        right.errorbar(x, mean, yerr=[mean - low, high - mean], marker="o", capsize=3,
                       label="{} − {}".format(MODEL_NAMES.get(first, first), MODEL_NAMES.get(second, second)))
    right.axhline(0, color="black", linewidth=0.8)
    right.set(xscale="log", xlabel="labelled clips per digit",
              ylabel="difference (points), {:.0f} % t-interval".format(100 * CONFIDENCE),
              title="pretrained minus scratch, paired by seed")
    right.grid(True, which="both", alpha=0.3)
    if diffs:
        right.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for curve.json, curve.md, curve.png, report.json")
    parser.add_argument("runs", nargs="+", help="run folders MODEL/nN/seedS written by cnn_classifier1/2.py")
    args = parser.parse_args()
    runs = gather(args.runs)
    summaries = {model: {n: summary(by_seed) for n, by_seed in by_n.items()} for model, by_n in runs.items()}
    diffs = differences(runs)
    os.makedirs(args.out, exist_ok=True)
    report_tables, report_notes = result_tables(runs, summaries, diffs), notes(runs)
    figure_path = os.path.join(args.out, "curve.png")
    draw(runs, summaries, diffs, figure_path)
    figure = tables.figure(figure_path, "Test accuracy against labelled clips per digit (mean ± std over seeds), "
                           "and pretrained minus scratch paired by seed with its 95 % t-interval", args.out)
    tables.save_report(args.out, report_tables, report_notes, [figure], summary=summaries, differences=diffs,
                       models=MODEL_NAMES, confidence=CONFIDENCE, settings=settings_of(runs))
    shutil.copyfile(os.path.join(args.out, "report.md"), os.path.join(args.out, "curve.md"))  # the name make curve promises
    save_json(os.path.join(args.out, "curve.json"), {
        "settings": settings_of(runs), "confidence": CONFIDENCE, "models": MODEL_NAMES,
        "summary": summaries, "differences": diffs, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
