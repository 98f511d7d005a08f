#!/usr/bin/env python
"""The deep autoencoder against the greedy stack: reconstruction error on the held-out voices, and the
classifiers they initialise (mean ± std over the runs in each folder, from their training logs).

Reconstruction error is the mean squared error between each test image and its reconstruction
through all of the autoencoder's layers (clipped to [0, 1], the range of an image). Writes
report.json (with the figures the report page shows and this command) and report.md to --out.
"""
import argparse
import collections
import glob
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import specae  # noqa: E402,F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer
import numpy as np

from specae import checkpoints, errors, tables
from specae.dataset import DataSetError, load_dataset
from specae.files import load_json
from specae.models import reconstruct_all


def bottleneck_shape(model, image):
    """Shape of the code of one image, through all layers (inference mode: batch statistics stay)."""
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        return list(model.encode(image).shape[1:])


def autoencoder_figures(models, out):
    """For report.json: each autoencoder's test inputs and reconstructions as its training script drew them,
    and the training curve of those that are not greedy layers (the report page shows those with the stack)."""
    figures = []
    for name, _, info in models:
        for path in sorted(glob.glob(os.path.join(glob.escape(name), "inout-comparison_*.png"))):
            figures.append(tables.figure(path, "{} ({}): test inputs (top) and their reconstruction".format(
                name, info["kind"]), out))
    for name, _, info in models:
        curve = os.path.join(name, "loss.png")
        if info["kind"] != "greedy_stack" and os.path.exists(curve):
            figures.append(tables.figure(curve, "{}: training and test loss per epoch".format(name), out))
    return figures


def classifier_summary(directories):
    """{folder: {"runs", "accuracy_epoch1", "final_accuracy", "final_loss"}: lists over the runs}."""
    groups = collections.OrderedDict()
    for directory in directories:
        path = os.path.join(directory, "log")
        try:
            log = load_json(path)
            first = next(entry for entry in log if entry["epoch"] == 1)
            last = log[-1]
            values = {"accuracy_epoch1": first["validation/main/accuracy"],
                      "final_accuracy": last["validation/main/accuracy"],
                      "final_loss": last["validation/main/loss"]}
        except (OSError, ValueError, KeyError, StopIteration) as error:
            errors.fail("{}: not a classifier training log ({})".format(path, " ".join(str(error).split())))
        group = groups.setdefault(os.path.dirname(os.path.normpath(directory)), collections.defaultdict(list))
        for key, value in values.items():
            group[key].append(float(value))
    return groups


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="DataSet")
    parser.add_argument("--autoencoders", nargs="+", default=["result/autoencoder3", "result/deep"], metavar="AE_DIR")
    parser.add_argument("--classifiers", nargs="*", default=[], metavar="CLASSIFIER_DIR",
                        help="classifier run directories, grouped by their parent folder")
    parser.add_argument("--out", default="result/deep")
    args = parser.parse_args()
    try:
        arrays, manifest = load_dataset(args.dataset)
        models = [(os.path.normpath(d),) + checkpoints.load_autoencoder(d, manifest) for d in args.autoencoders]
    except (DataSetError, FileNotFoundError, ValueError) as error:
        errors.fail(error)
    test = np.asarray(arrays["test_data"])
    reconstruction = {}
    for name, model, info in models:
        rebuilt = np.clip(reconstruct_all(model, test, info.get("n_layers")), 0.0, 1.0)
        per_image = np.square(rebuilt - test).reshape(len(test), -1).mean(axis=1)
        reconstruction[name] = {"kind": info["kind"], "test_mse": float(per_image.mean()),
                                "parameters": int(sum(param.size for param in model.params())),
                                "bottleneck": bottleneck_shape(model, test[:1])}
    classifiers = classifier_summary(args.classifiers)

    made = [tables.table(["autoencoder", "kind", "parameters", "bottleneck", "test reconstruction MSE"],
                         [[name, row["kind"], row["parameters"], "×".join(map(str, row["bottleneck"])),
                           "{:.5f}".format(row["test_mse"])] for name, row in reconstruction.items()])]
    if classifiers:
        made.append(tables.table(
            ["classifier", "runs", "accuracy after epoch 1", "final accuracy", "final loss"],
            [[group, len(values["final_accuracy"])] +
             ["{:.1f} ± {:.1f} %".format(100 * np.mean(values[key]), 100 * np.std(values[key]))
              for key in ("accuracy_epoch1", "final_accuracy")] +
             ["{:.3f} ± {:.3f}".format(np.mean(values["final_loss"]), np.std(values["final_loss"]))]
             for group, values in classifiers.items()]))
    tables.save_report(args.out, made, figures=autoencoder_figures(models, args.out), test_clips=len(test),
                       reconstruction=reconstruction,
                       classifiers={group: dict(values) for group, values in classifiers.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
