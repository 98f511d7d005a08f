#!/usr/bin/env python
"""The comparison the experiment is for: loss and accuracy per epoch, mean ± std over seeds, of
2-CNN vs 3-CNN and of 3-CNN vs pretrained 3-CNN, with a table of final accuracy and epochs to 90 %.
"""
import argparse
import os
import sys

import numpy as np

from specae import plots
from specae.files import atomic_path, load_json, save_json

MODELS = {"classifier_2cnn": "2-CNN", "classifier_3cnn": "3-CNN", "classifier_pretrained": "pretrained 3-CNN",
          "classifier_vae": "VAE-pretrained 3-CNN"}  # the last only after make morph trains it
FIGURES = {"loss-accuracy_comparison.png": ("classifier_2cnn", "classifier_3cnn"),
           "loss-accuracy_comparison_pre-train.png": ("classifier_3cnn", "classifier_pretrained")}
TARGET_ACCURACY = 0.9


def read_curves(directory, seeds):
    """Per-epoch validation loss and accuracy, one row per seed: arrays (seeds, epochs + 1)."""
    curves = {"loss": [], "accuracy": [], "train_loss": []}
    for seed in seeds:
        log = load_json(os.path.join(directory, "seed{}".format(seed), "log"))
        by_epoch = {entry["epoch"]: entry for entry in log}
        epochs = sorted(by_epoch)
        curves["loss"].append([by_epoch[e]["validation/main/loss"] for e in epochs])
        curves["accuracy"].append([by_epoch[e]["validation/main/accuracy"] for e in epochs])
        curves["train_loss"].append([by_epoch[e].get("main/loss", np.nan) for e in epochs])
    length = min(len(row) for row in curves["loss"])
    return {key: np.array([row[:length] for row in rows]) for key, rows in curves.items()}, epochs[:length]


def epochs_to_reach(accuracy, epochs, target):
    """First epoch whose validation accuracy reaches ``target``, per seed (None when never)."""
    reached = []
    for row in accuracy:
        hits = np.flatnonzero(row >= target)
        reached.append(int(epochs[hits[0]]) if hits.size else None)
    return reached


def summarise(curves, epochs):
    final = curves["accuracy"][:, -1]
    reached = epochs_to_reach(curves["accuracy"], epochs, TARGET_ACCURACY)
    known = [r for r in reached if r is not None]
    return {"final_accuracy_mean": float(final.mean()), "final_accuracy_std": float(final.std()),
            "final_loss_mean": float(curves["loss"][:, -1].mean()),
            "epoch1_accuracy_mean": float(curves["accuracy"][:, min(1, len(epochs) - 1)].mean()),
            "epochs_to_90_per_seed": reached,
            "epochs_to_90_mean": float(np.mean(known)) if len(known) == len(reached) else None,
            "seeds": len(final), "epochs": int(epochs[-1])}


def table(summary):
    lines = ["| model | final test accuracy (mean ± std) | final test loss | accuracy after epoch 1 "
             "| epoch reaching 90 % (per seed) |",
             "|---|---|---|---|---|"]
    for key, name in MODELS.items():
        if key not in summary:
            continue
        row = summary[key]
        reached = ", ".join("never" if r is None else str(r) for r in row["epochs_to_90_per_seed"])
        lines.append("| {} | {:.2f} ± {:.2f} % | {:.3f} | {:.2f} % | {} |".format(
            name, 100 * row["final_accuracy_mean"], 100 * row["final_accuracy_std"], row["final_loss_mean"],
            100 * row["epoch1_accuracy_mean"], reached))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--result", default="result", help="directory holding the classifier runs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args()

    curves, summary = {}, {}
    for key in MODELS:
        directory = os.path.join(args.result, key)
        try:
            curves[key], epochs = read_curves(directory, args.seeds)
        except FileNotFoundError as error:
            print("skipping {}: {}".format(MODELS[key], error), file=sys.stderr)
            continue
        curves[key]["epochs"] = np.array(epochs)
        summary[key] = summarise(curves[key], epochs)
    if not summary:
        print("error: no classifier logs under {}".format(args.result), file=sys.stderr)
        return 1
    for file_name, keys in FIGURES.items():
        if all(key in curves for key in keys):
            plots.comparison_figure({MODELS[key]: curves[key] for key in keys},
                                    os.path.join(args.result, file_name), len(args.seeds))
    save_json(os.path.join(args.result, "comparison.json"), summary)
    with atomic_path(os.path.join(args.result, "comparison.md")) as temporary:
        with open(temporary, "w") as stream:
            stream.write("Validation = speaker-disjoint test split; {} seeds per model.\n\n".format(len(args.seeds)))
            stream.write(table(summary))
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
