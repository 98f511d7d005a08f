#!/usr/bin/env python
"""Accuracy of classifiers on the held-out espeak voices, clean and degraded: the table that stands in
for real recordings. Rows are model directories, columns the clean test split of each model's DataSet
and each condition folder written by make_degraded.py. Each clip is scored as it is; with --recogniser, a
last row scores those models averaged in the test-time views, as predict.py and evaluate.py answer.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from specae import inference
from specae.dataset import load_manifest
from specae.files import list_audio_files, parse_name, save_json

CONDITIONS = ("telephone", "noise", "reverb", "voice", "mixed")


def accuracy(cnns, params, paths, test_time_variations=False):
    results, skipped = inference.classify_files(paths, cnns, params, jobs=os.cpu_count(),
                                                 test_time_variations=test_time_variations)
    truth = np.array([parse_name(path)[0] for path, _ in results])
    guesses = np.array([int(probability.argmax()) for _, probability in results])
    return float((truth == guesses).mean())


def score(models, columns, test_time_variations=False):
    """Accuracy per column of one model, or of several averaged (an ensemble), and the degraded mean."""
    cnns, params = inference.load_classifiers(models)
    row = {name: accuracy(cnns, params, paths, test_time_variations) for name, paths in columns.items()}
    row["mean_degraded"] = float(np.mean([row[c] for c in CONDITIONS]))
    return row


def percentages(row, columns):
    return " | ".join("{:.1f} %".format(100 * row[c]) for c in list(columns) + ["mean_degraded"])


def print_header(names, columns):
    """A markdown table's header: the ``names`` columns, one per condition, and the degraded mean."""
    print("| " + " | ".join(list(names) + list(columns)) + " | mean degraded |")
    print("|---" * (len(names) + len(columns) + 1) + "|")


def folder_of(model):
    return os.path.dirname(os.path.normpath(model))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+", help="classifier run directories")
    parser.add_argument("--dataset", default="DataSet", help="DataSet whose test split is the clean column")
    parser.add_argument("--degraded", default="degraded", help="output folder of make_degraded.py")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--ensemble", action="store_true",
                        help="also score, for each folder of several runs, their average (predict.py --model "
                             "given once per run)")
    parser.add_argument("--recogniser", action="append", metavar="DIR",
                        help="a member of the recogniser (give it once per member, as predict.py's --model): "
                             "a last row scores them averaged, in the test-time views as predict.py answers")
    args = parser.parse_args()
    clean = [entry["wav"] for entry in load_manifest(args.dataset)["test"]["files"]]
    columns = {"clean": clean}
    for condition in CONDITIONS:
        columns[condition] = list_audio_files([os.path.join(args.degraded, condition)])
    rows, groups = {}, {}
    print_header(["model"], columns)
    try:
        for model in args.models:
            rows[model] = score([model], columns)
            groups.setdefault(folder_of(model), []).append(model)
            print("| {} | {} |".format(model, percentages(rows[model], columns)))
        if any(len(members) > 1 for members in groups.values()):
            print("\nMean ± std over the runs in each folder:\n")
            print_header(["models", "runs"], columns)
            for group, members in groups.items():
                cells = []
                for column in list(columns) + ["mean_degraded"]:
                    values = 100 * np.array([rows[member][column] for member in members])
                    cells.append("{:.1f} ± {:.1f} %".format(values.mean(), values.std()))
                print("| {} | {} | ".format(group, len(members)) + " | ".join(cells) + " |")
        if args.ensemble:
            print("\nEnsembles: the probabilities of the runs in each folder averaged:\n")
            print_header(["models", "runs"], columns)
            for group, members in groups.items():
                if len(members) > 1:
                    rows[" + ".join(members)] = row = score(members, columns)
                    print("| {} | {} | {} |".format(group, len(members), percentages(row, columns)))
        if args.recogniser:
            print("\nThe recogniser: {} models averaged, in the test-time views:\n".format(len(args.recogniser)))
            print_header(["models"], columns)
            rows["recogniser"] = row = dict(score(args.recogniser, columns, test_time_variations=True),
                                              models=args.recogniser)
            print("| the recogniser ({} models) | {} |".format(len(args.recogniser), percentages(row, columns)))
    except inference.ModelError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    if args.out:
        save_json(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
