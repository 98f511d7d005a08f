#!/usr/bin/env python
"""Is it a spoken digit? Score held-out digits and locally made other sounds by autoencoder
reconstruction error, report ROC AUC, pick a threshold and write the detector for predict.py --reject.

Other sounds (SOUND_KINDS of specae.anomaly): white/pink noise, tones, sweeps, chords, arpeggios and
espeak saying other words, at random lengths and levels. Two independent sets are drawn: a validation
set (--seed) picks the autoencoder with the highest AUC against the training digits; the evaluation
set (--seed + 1) and the held-out test voices give the reported figures. The threshold is the
--accept quantile of the training digits' own scores: neither set of other sounds decides it.

Writes to --out: detector.json (for predict.py --reject), report.json, report.md, roc.png and the
evaluation sounds as WAVs in sounds/ (to listen to, or to try predict.py --reject on).
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from specae import anomaly, checkpoints, errors, features, inference, plots, tables
from specae.audio import write_wav
from specae.dataset import DataSetError, load_dataset
from specae.files import save_json

DEFAULT_AUTOENCODERS = ["result/autoencoder1", "result/autoencoder2", "result/autoencoder3"]


def images_of(sounds, params):
    return np.stack([features.image_from_samples(samples, params)[0] for _, _, samples in sounds])[:, np.newaxis]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autoencoders", nargs="*", default=DEFAULT_AUTOENCODERS, metavar="AE_DIR",
                        help="autoencoder run directories, each scored through all its layers (default %(default)s)")
    parser.add_argument("--dataset", default="DataSet")
    parser.add_argument("--classifier", action="append", metavar="DIR",
                        help="also score by the classifier's doubt (1 - top softmax), for comparison; give it several "
                             "times to average their probabilities, as predict.py --model does")
    parser.add_argument("--per-kind", type=int, default=40, help="other sounds of each kind, per set")
    parser.add_argument("--accept", type=float, default=0.99,
                        help="share of the training digits the threshold accepts (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="result/anomaly")
    args = parser.parse_args()
    if not 0.0 < args.accept < 1.0:
        errors.fail("--accept must be between 0 and 1, not {}".format(args.accept))
    try:
        arrays, manifest = load_dataset(args.dataset)
        models = [(os.path.normpath(d),) + checkpoints.load_autoencoder(d, manifest) for d in args.autoencoders]
        classifier = inference.load_classifiers(args.classifier)[0] if args.classifier else None
    except (DataSetError, FileNotFoundError, ValueError, inference.ModelError) as error:
        errors.fail(error)
    params = features.FeatureParams.from_dict(manifest["params"])
    validation_sounds = anomaly.non_digit_sounds(args.per_kind, args.seed)
    evaluation_sounds = anomaly.non_digit_sounds(args.per_kind, args.seed + 1)
    validation, evaluation = images_of(validation_sounds, params), images_of(evaluation_sounds, params)
    kinds = np.array([kind for kind, _, _ in evaluation_sounds])
    train_digits = np.asarray(arrays["train_data"][:len(manifest["train"]["files"])])  # no augmented copies
    test_digits = np.asarray(arrays["test_data"])

    rows, curves = {}, {}
    for name, model, info in models:
        depth = info.get("n_layers")
        score = lambda images: anomaly.reconstruction_error(model, images, depth)  # noqa: E731
        train_scores, test_scores, others = score(train_digits), score(test_digits), score(evaluation)
        threshold = float(np.quantile(train_scores, args.accept))
        others_rejected, digits_rejected = anomaly.rates_at(threshold, others, test_scores)
        rows[name] = {
            "kind": info["kind"], "depth": depth, "threshold": threshold,
            "validation_auc": anomaly.roc_auc(score(validation), train_scores),
            "auc": anomaly.roc_auc(others, test_scores),
            "auc_per_kind": {kind: anomaly.roc_auc(others[kinds == kind], test_scores) for kind in anomaly.SOUND_KINDS},
            "others_rejected": others_rejected, "digits_rejected": digits_rejected,
            "others_rejected_per_kind": {kind: anomaly.rates_at(threshold, others[kinds == kind], test_scores)[0]
                                         for kind in anomaly.SOUND_KINDS}}
        curves[name] = anomaly.roc_curve(others, test_scores) + (rows[name]["auc"],)
    if classifier is not None:
        doubt = lambda images: 1.0 - inference.probabilities(classifier, images[:, 0]).max(axis=1)  # noqa: E731
        others, test_scores = doubt(evaluation), doubt(test_digits)
        name = "classifier doubt ({})".format(" + ".join(map(os.path.normpath, args.classifier)))
        rows[name] = {"kind": "classifier", "auc": anomaly.roc_auc(others, test_scores),
                      "auc_per_kind": {kind: anomaly.roc_auc(others[kinds == kind], test_scores)
                                       for kind in anomaly.SOUND_KINDS}}
        curves[name] = anomaly.roc_curve(others, test_scores) + (rows[name]["auc"],)

    chosen = max((name for name, _, _ in models), key=lambda name: rows[name]["validation_auc"])
    best = rows[chosen]
    detector = {"autoencoder": os.path.relpath(os.path.abspath(chosen), os.path.abspath(args.out)),
                "depth": best["depth"], "threshold": best["threshold"], "accept_quantile": args.accept,
                "validation_auc": best["validation_auc"], "auc": best["auc"]}
    save_json(os.path.join(args.out, anomaly.DETECTOR_FILE), detector)

    table_rows = []
    for name, row in rows.items():
        cells = ["{:.3f}".format(row["validation_auc"]) if "validation_auc" in row else "–",
                 "{:.3f}".format(row["auc"])]
        cells += ["{:.3f}".format(row["auc_per_kind"][k]) for k in anomaly.SOUND_KINDS]
        cells += ["{:.1f} %".format(100 * row[k]) if k in row else "–"
                  for k in ("others_rejected", "digits_rejected")]
        table_rows.append(["{}{}".format(name, " (chosen)" if name == chosen else "")] + cells)
    made = [tables.table(["score", "validation AUC", "AUC"] + ["AUC {}".format(k) for k in anomaly.SOUND_KINDS] +
                         ["other sounds rejected", "held-out digits rejected"], table_rows)]
    sounds = [{"kind": kind, "name": name, "wav": "sounds/{}_{:02d}.wav".format(kind, i % args.per_kind)}
              for i, (kind, name, _) in enumerate(evaluation_sounds)]
    first_of_each_kind = {}  # the page plays one of each kind: the folder holds dozens
    for sound in sounds:
        first_of_each_kind.setdefault(sound["kind"], os.path.join(args.out, sound["wav"]))
    figures = [tables.figure(os.path.join(args.out, "roc.png"), "ROC of each score: held-out digits against the "
                             "other sounds, the detector's threshold marked", args.out)]
    tables.save_report(args.out, made, (), figures, list(first_of_each_kind.values()), chosen=chosen,
                       detector=detector, per_kind=args.per_kind, seed=args.seed, test_digits=len(test_digits),
                       other_sounds=len(evaluation), rows=rows, sounds=sounds)
    print("threshold {:.5f} (the {:g} quantile of the training digits' scores) → {}".format(
        best["threshold"], args.accept, os.path.join(args.out, anomaly.DETECTOR_FILE)))
    plots.roc_figure(curves, os.path.join(args.out, "roc.png"),
                     "held-out digits vs {} other sounds: reconstruction error as the score".format(len(evaluation)),
                     marks=[("threshold", best["digits_rejected"], best["others_rejected"])])
    for i, (kind, _, samples) in enumerate(evaluation_sounds):
        write_wav(os.path.join(args.out, "sounds", "{}_{:02d}.wav".format(kind, i % args.per_kind)), samples,
                  params.sample_rate_hz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
