#!/usr/bin/env python
"""Accuracy of a trained classifier on labelled WAV files (``{digit}_*.wav``).

Prints per-digit accuracy, per-speaker accuracy when the files name several speakers
(``{digit}_{speaker}_*.wav``) and, last, ``accuracy 0.9731 (2919/3000)``; writes ``confusion.png`` and
``report.json`` (per-file predictions, per-speaker accuracy and the confusion matrix) under ``--out``.

``--balance all`` or ``speaker`` scores the files as a batch in which every digit is equally frequent
(all of them together, or each speaker's): the averaged probabilities are rescaled so that each digit
gets the same share of the answers (``inference.balance_priors``). No label is read, but the prior of
the batch is assumed, so it suits a balanced test set such as FSDD, not one recording at a time.
"""
import argparse
import os
import sys

import numpy as np

from specae import errors, inference, scoring
from specae.files import labelled_audio_files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--model", action="append", metavar="DIR",
                        help="directory of a trained classifier; give it several times to average their "
                             "probabilities (default: {})".format(inference.DEFAULT_ENSEMBLE_HELP))
    parser.add_argument("--out", default=os.path.join("result", "evaluation"), help="where to write the report")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    inference.add_test_time_option(parser)
    parser.add_argument("--balance", choices=("none", "all", "speaker"), default="none",
                        help="rescale the probabilities so that every digit gets the same share of the answers "
                             "over all files, or over each speaker's (default none: each file on its own)")
    args = parser.parse_args()
    try:
        models = args.model or inference.default_models()
        cnns, params = inference.load_classifiers(models)
    except inference.ModelError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1

    labels, skipped = labelled_audio_files(args.paths)
    results, unusable = inference.classify_files(sorted(labels), cnns, params, jobs=args.jobs,
                                                 test_time_variations=args.test_time_variations)
    errors.report_skipped(skipped + unusable)
    if not results:
        return errors.no_usable_labelled_file(args.paths, len(skipped) + len(unusable))

    truth = np.array([labels[path][0] for path, _ in results])
    speakers = np.array([labels[path][1] for path, _ in results])
    probabilities = np.stack([probability for _, probability in results])
    if args.balance != "none":
        groups = {speaker: speakers == speaker for speaker in sorted(set(speakers.tolist()))} \
            if args.balance == "speaker" else {"all": np.ones(len(truth), bool)}
        for name, group in groups.items():
            count = int(group.sum())
            if count < 10:  # fewer files than digits: an equal share of every digit cannot hold
                who = "speaker {} has ".format(name) if args.balance == "speaker" else ""
                print("error: --balance {}: {}{} file{}; balancing needs at least 10 (one per digit) in each batch"
                      .format(args.balance, who, count, "" if count == 1 else "s"), file=sys.stderr)
                return 1
            probabilities[group] = inference.balance_priors(probabilities[group])
        results = [(path, probability) for (path, _), probability in zip(results, probabilities)]
    predicted = probabilities.argmax(axis=1)
    scoring.report(args.out, " + ".join(models), [path for path, _ in results], truth, predicted, speakers,
                   skipped + unusable, file_fields=[{"confidence": float(probability[guess])}
                                                    for (_, probability), guess in zip(results, predicted)],
                   model=" + ".join(models), models=models, balance=args.balance,
                   test_time_variations=args.test_time_variations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
