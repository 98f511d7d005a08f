#!/usr/bin/env python
"""Recognise the spoken digit in WAV files: one line per file, ``path<TAB>digit<TAB>confidence``.

Any sample rate, bit depth and channel count is accepted; the model's own front-end parameters are
used. Unusable files are named on stderr with the reason; the exit status is 1 only when none was usable.

With ``--reject`` a file that does not sound like a spoken digit (its autoencoder reconstruction error
is above the threshold of anomaly_report.py's detector) gets ``path<TAB>-<TAB>score`` instead, where
score is that reconstruction error (not a confidence).
"""
import argparse
import os
import sys

from specae import anomaly, errors, inference
from specae.files import list_audio_files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--model", action="append", metavar="DIR",
                        help="directory of a trained classifier; give it several times to average their "
                             "probabilities (default: {})".format(inference.DEFAULT_ENSEMBLE_HELP))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    inference.add_test_time_option(parser)
    parser.add_argument("--reject", action="store_true", help="answer '-' for sounds that are not spoken digits")
    parser.add_argument("--detector", default=anomaly.DEFAULT_DETECTOR,
                        help="for --reject: detector.json of anomaly_report.py, or its folder (default %(default)s)")
    args = parser.parse_args()
    try:
        models = args.model or inference.default_models()
        cnns, params = inference.load_classifiers(models)
        detector = anomaly.load_detector(args.detector) if args.reject else None
    except (inference.ModelError, FileNotFoundError, ValueError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    if detector is not None and detector.params != params:
        print("error: {}: the detector was trained on other features than the classifier {} ({})".format(
            args.detector, " + ".join(models), ", ".join(detector.params.mismatch(params))), file=sys.stderr)
        return 1
    results, skipped = inference.classify_files(list_audio_files(args.paths), cnns, params, jobs=args.jobs,
                                                test_time_variations=args.test_time_variations)
    scores = anomaly.score_files([path for path, _ in results], detector, args.jobs) if detector else {}
    for path, probability in results:
        digit = int(probability.argmax())
        if detector is not None and scores.get(path, 0.0) > detector.threshold:
            print("{}\t-\t{:.5f}".format(path, scores[path]))
            continue
        print("{}\t{}\t{:.4f}".format(path, digit, probability[digit]))
    errors.report_skipped(skipped)
    print("processed {} files, skipped {}".format(len(results), len(skipped)), file=sys.stderr)
    if not results:
        print("error: no usable WAV file in {}".format(" ".join(args.paths)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
