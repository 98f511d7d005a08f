#!/usr/bin/env python
"""How much cleaner the autoencoders make noisy held-out voices, and whether denoising-pretrained layers
help the classifier on noisy audio.

Reconstruction: each autoencoder (through all its layers) gets the noisy test images of make_noisy.py;
its output is compared with the clean images by log-spectral distance (dB, lower is better) and
spectrogram SNR (dB, higher is better), against the noisy input itself as the baseline, overall and
per noise kind. Classification: the accuracy of each classifier on the clean and the noisy test split
(mean ± std over the runs in each folder). Writes report.json, report.md and denoise.png to --out.
"""
import argparse
import collections
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from specae import checkpoints, denoise, errors, inference, plots, tables
from specae.dataset import DataSetError, load_dataset
from specae.features import FeatureParams
from specae.models import reconstruct_all


def reconstruction_rows(models, noisy, clean, kinds, params):
    """{name: {"all": {...}, kind: {...}, "clean_input": {...}}} of LSD and SNR against the clean images;
    the first row is the noisy input itself. "clean_input" is the model given the clean image: how
    close it can come at all, whatever the noise."""
    def scores(estimate):
        estimate = np.clip(estimate, 0.0, 1.0)  # an image holds nothing above the clip's maximum
        return (denoise.log_spectral_distance(estimate, clean, params),
                denoise.spectrogram_snr(estimate, clean, params))

    rows = collections.OrderedDict()
    for name, model, info in [("noisy input", None, {})] + list(models):
        lsd, snr = scores(noisy if model is None else reconstruct_all(model, noisy, info.get("n_layers")))
        row = {"all": {"lsd_db": float(lsd.mean()), "snr_db": float(snr.mean())}}
        for kind in sorted(set(kinds)):
            chosen = kinds == kind
            row[kind] = {"lsd_db": float(lsd[chosen].mean()), "snr_db": float(snr[chosen].mean())}
        if model is not None:
            lsd, snr = scores(reconstruct_all(model, clean, info.get("n_layers")))
            row["clean_input"] = {"lsd_db": float(lsd.mean()), "snr_db": float(snr.mean())}
        rows[name] = row
    return rows


def classifier_rows(directories, images):
    """{folder: {split: [accuracy per run]}} for the classifiers, grouped by parent folder."""
    groups = collections.OrderedDict()
    for directory in directories:
        cnn, _ = inference.load_classifier(directory)
        group = groups.setdefault(os.path.dirname(os.path.normpath(directory)), collections.OrderedDict())
        for split, (data, labels) in images.items():
            guesses = inference.probabilities(cnn, data[:, 0]).argmax(axis=1)
            group.setdefault(split, []).append(float((guesses == labels).mean()))
    return groups


def report_tables(reconstruction, classifiers, kinds):
    rows = []
    for name, row in reconstruction.items():
        ceiling = row.get("clean_input")
        rows.append([name, "{:.2f}".format(row["all"]["lsd_db"]), "{:.2f}".format(row["all"]["snr_db"])] +
                    ["{:.2f}".format(row[kind]["snr_db"]) for kind in kinds] +
                    (["{:.2f}".format(ceiling["lsd_db"]), "{:.2f}".format(ceiling["snr_db"])] if ceiling else ["–", "–"]))
    result = [tables.table(["model (noisy test input)", "LSD (dB)", "spectrogram SNR (dB)"] +
                           ["SNR {} (dB)".format(kind) for kind in kinds] +
                           ["LSD from the clean input (dB)", "SNR from the clean input (dB)"], rows)]
    if classifiers:
        splits = list(next(iter(classifiers.values())))
        result.append(tables.table(
            ["classifier", "runs"] + ["{} accuracy".format(s) for s in splits],
            [[group, len(accuracies[splits[0]])] + ["{:.1f} ± {:.1f} %".format(100 * np.mean(a), 100 * np.std(a))
                                                    for a in accuracies.values()]
             for group, accuracies in classifiers.items()]))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="DataSet")
    parser.add_argument("--noisy", default="noisy", help="output folder of make_noisy.py")
    parser.add_argument("--autoencoders", nargs="+", metavar="AE_DIR",
                        default=["result/autoencoder1", "result/autoencoder3", "result/denoise/autoencoder1",
                                 "result/denoise/autoencoder2", "result/denoise/autoencoder3"])
    parser.add_argument("--classifiers", nargs="*", default=[], metavar="CLASSIFIER_DIR",
                        help="classifier run directories (grouped by their parent folder)")
    parser.add_argument("--out", default="result/denoise")
    args = parser.parse_args()
    try:
        arrays, manifest = load_dataset(args.dataset)
        noisy, index = denoise.load_noisy(args.noisy, manifest)
        models = [(os.path.normpath(d),) + checkpoints.load_autoencoder(d, manifest) for d in args.autoencoders]
    except (DataSetError, denoise.NoisyError, FileNotFoundError, ValueError) as error:
        errors.fail(error)
    params = FeatureParams.from_dict(manifest["params"])
    test_noisy = noisy["test_noisy"]
    clean = np.asarray(arrays["test_data"][:len(test_noisy)])
    labels = np.asarray(arrays["test_label"][:len(test_noisy)])
    kinds = np.array(index["test"]["kind"])
    reconstruction = reconstruction_rows(models, test_noisy, clean, kinds, params)
    try:
        classifiers = classifier_rows(args.classifiers, {"clean": (clean, labels), "noisy": (test_noisy, labels)})
    except inference.ModelError as error:
        errors.fail(error)
    made = report_tables(reconstruction, classifiers, sorted(set(kinds)))

    shown = [int(np.flatnonzero(kinds == kind)[0]) for kind in sorted(set(kinds))]
    columns = [("noisy", test_noisy[shown])] + [(name, reconstruct_all(model, test_noisy[shown], info.get("n_layers")))
                                                for name, model, info in models] + [("clean", clean[shown])]
    images, titles = [], []
    for row, index_ in enumerate(shown):
        for name, data in columns:
            images.append(np.clip(data[row, 0], 0.0, 1.0))
            titles.append("{} {:.0f} dB: {}".format(kinds[index_], index["test"]["snr_db"][index_], name))
    plots.spectrogram_grid(images, titles, os.path.join(args.out, "denoise.png"), columns=len(columns),
                           suptitle="held-out voices with noise: input, autoencoder outputs, clean target")
    figures = [tables.figure(os.path.join(args.out, "denoise.png"), "held-out voices with noise (one row per kind): "
                             "the noisy input, each autoencoder's output, the clean target", args.out)]
    tables.save_report(args.out, made, (), figures, noisy=os.path.abspath(args.noisy), snr_db=index["snr_db"],
                       kinds=index["kinds"], test_clips=len(test_noisy), reconstruction=reconstruction,
                       classifiers={group: {split: {"runs": values, "mean": float(np.mean(values)),
                                                    "std": float(np.std(values))}
                                            for split, values in accuracies.items()}
                                    for group, accuracies in classifiers.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
