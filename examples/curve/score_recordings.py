#!/usr/bin/env python
"""Accuracy of several classifiers on one folder of labelled recordings ({digit}_*.wav, e.g. FSDD), the
front-end images made once for all of them (evaluate.py makes them again for every model).

Prints one line per classifier folder and, for each --ensemble group, one for the average of its
probabilities (the seeds of one model together); writes them to --out as JSON. All classifiers must
share one front end (the data set's). Each image is scored as it is (evaluate.py --no-tta): the curve
compares what the trainings learnt, not what the test-time variations add.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from specae import errors, inference
from specae.files import LabelError, list_audio_files, parse_name, save_json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="CLASSIFIER_DIR")
    parser.add_argument("--recordings", required=True, metavar="DIR", help="folder of {digit}_*.wav files")
    parser.add_argument("--ensemble", nargs="+", action="append", default=[], metavar="NAME DIR",
                        help="a name and classifier folders whose averaged probabilities are scored too")
    parser.add_argument("--out", help="JSON file for the accuracies")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    groups = {os.path.normpath(path): [path] for path in args.models}
    for name, *members in args.ensemble:
        if not members:
            errors.fail("--ensemble {}: name the classifier folders after the name".format(name))
        groups[name] = members
    try:
        loaded = {path: inference.load_classifiers([path]) for group in groups.values() for path in group}
    except inference.ModelError as error:
        errors.fail(error)
    params = next(iter(loaded.values()))[1]
    for path, (_, other) in loaded.items():
        if other.mismatch(params):
            errors.fail("{}: trained with another front end than the other classifiers ({})".format(
                path, ", ".join(other.mismatch(params))))

    labelled, skipped = [], []
    for path in list_audio_files([args.recordings]):
        try:
            labelled.append((path, parse_name(path)[0]))
        except LabelError as error:
            skipped.append((path, str(error)))
    paths, images, unusable = inference.usable_images([path for path, _ in labelled], params, args.jobs)
    errors.report_skipped(skipped + unusable)
    if not images:
        errors.fail("no usable labelled WAV file in {}".format(args.recordings))
    label_of = dict(labelled)
    truth = np.array([label_of[path] for path in paths])
    images = np.stack(images)
    scores = {}
    for name, members in groups.items():
        predicted = inference.probabilities([loaded[path][0][0] for path in members], images).argmax(axis=1)
        scores[name] = {"accuracy": float((predicted == truth).mean()), "correct": int((predicted == truth).sum()),
                        "total": len(truth), "models": members}
        print("{} {:.4f} ({}/{})".format(name, scores[name]["accuracy"], scores[name]["correct"], len(truth)),
              flush=True)
    if args.out:
        save_json(args.out, {"recordings": os.path.abspath(args.recordings), "scores": scores})
    return 0


if __name__ == "__main__":
    sys.exit(main())
