#!/usr/bin/env python
"""Recognise the spoken digit in WAV files: one line per file, ``path<TAB>digit<TAB>confidence``.

Any sample rate, bit depth and channel count is accepted; the model's own front-end parameters are
used. Unusable files are named on stderr with the reason; the exit status is 1 only when none was usable.
"""
import argparse
import os
import sys

from specae import inference
from specae.files import list_audio_files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--model", default=inference.DEFAULT_MODEL, help="directory of a trained classifier")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    try:
        cnn, params = inference.load_classifier(args.model)
    except inference.ModelError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    results, skipped = inference.classify_files(list_audio_files(args.paths), cnn, params, jobs=args.jobs)
    for path, probability in results:
        digit = int(probability.argmax())
        print("{}\t{}\t{:.4f}".format(path, digit, probability[digit]))
    inference.report_skipped(skipped)
    print("processed {} files, skipped {}".format(len(results), len(skipped)), file=sys.stderr)
    if not results:
        print("error: no usable WAV file in {}".format(" ".join(args.paths)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
