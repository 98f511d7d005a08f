#!/usr/bin/env python
"""One page to look and listen: write ``result/index.html`` from what the pipeline made.

Sections appear only for what exists: the run (commands, time per stage, machine, corpus, front end,
spectrograms per digit), the comparison of the classifiers, each autoencoder layer (with audio once
``make listen`` has run), evaluations (``evaluate.py``, ``make robustness``) and the extensions
(``make denoise``, ``anomaly``, ``deep``, ``morph``, ``separate``). Figures and audio are linked relative
to the page; ``--embed`` puts them inside it (one file to mail). The last line printed is the page's path.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from examples.report import report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--result", default="result", help="the result folder of the run")
    parser.add_argument("--dataset", default="DataSet", help="the data set it was trained on (manifest.json)")
    parser.add_argument("--spec", default="spectrogram", help="the spectrogram folder (index.json, preview/)")
    parser.add_argument("--out", help="the page (default RESULT/{} or, with --embed, RESULT/{})".format(
        report.PAGE, report.EMBEDDED_PAGE))
    parser.add_argument("--embed", action="store_true", help="inline every image and sound (base64) into the page")
    args = parser.parse_args()
    out = args.out or os.path.join(args.result, report.EMBEDDED_PAGE if args.embed else report.PAGE)
    if not os.path.isdir(args.result):
        print("error: {}: no such folder (run make pretrain classify first)".format(args.result), file=sys.stderr)
        return 1
    report.write_report(out, args.result, args.dataset, args.spec, embed=args.embed)
    print(os.path.abspath(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
