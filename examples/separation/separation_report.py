#!/usr/bin/env python
"""One table of separate.py runs evaluated on the same held-out mixtures: SDR and SI-SDR improvement over
the mixture for each network and for the ideal ratio mask (the best a mask of the mixture can do), and
the digit classifier's accuracy on the mixture, on each network's estimates, on the ideal mask's and on
the clean sources. Writes report.md and report.json (with the runs' figures and example WAVs for the
report page, and this command) to --out.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from specae import errors, tables
from specae.files import load_json

TASKS = {"voices": "two voices", "noise": "digit in noise"}


def run_files(runs, evaluations, out):
    """The figures (each run's examples, then its training curve) and the example WAVs of the runs, as
    their evaluation.json names them, for report.json."""
    figures, curves, audio = [], [], []
    for directory, evaluation in zip(runs, evaluations):
        if evaluation.get("figure"):
            figures.append(tables.figure(os.path.join(directory, evaluation["figure"]), "{}: held-out mixtures: the "
                                         "mixture, the mask for source 1, its estimate, the source".format(
                                             evaluation["model"]), out))
        curves.append(tables.figure(os.path.join(directory, "loss.png"), "{}: training and test loss (L1 of the "
                                    "masked magnitudes) per epoch".format(evaluation["model"]), out))
        audio += [os.path.join(directory, name) for name in evaluation.get("examples", [])]
    return figures + curves, audio


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="separate.py output directories")
    parser.add_argument("--out", default="result/separate")
    args = parser.parse_args()
    evaluations = []
    for directory in args.runs:
        path = os.path.join(directory, "evaluation.json")
        try:
            evaluations.append(load_json(path))
        except (OSError, ValueError) as error:
            errors.fail("{}: not a separate.py evaluation ({})".format(path, " ".join(str(error).split())))
    if any(e["test"] != evaluations[0]["test"] for e in evaluations):
        errors.fail("the runs were evaluated on different held-out mixtures (--test-mixtures, --test-seed, "
                      "--noise-fraction, --seconds or the data set differ)")
    tasks = [kind for kind in TASKS if all(kind in e["summary"] for e in evaluations)]
    rows = [(e["model"], {kind: e["summary"][kind][e["model"] if e["model"] in e["summary"][kind] else "U-Net"]
                          for kind in tasks}) for e in evaluations]
    rows.append(("ideal ratio mask", {kind: evaluations[0]["summary"][kind]["ideal ratio mask"] for kind in tasks}))
    made = [tables.table(
        ["method"] + [cell for k in tasks for cell in ("{} SDRi (dB)".format(TASKS[k]), "{} SI-SDRi (dB)".format(TASKS[k]))],
        [[name] + [cell for k in tasks for cell in ("{:+.2f}".format(row[k]["sdr_improvement"]),
                                                   "{:+.2f}".format(row[k]["si_sdr_improvement"]))]
         for name, row in rows] +
        [["(mixture: SDR, SI-SDR)"] + [cell for k in tasks for cell in (
            "{:.2f}".format(evaluations[0]["summary"][k]["mixture"]["sdr"]),
            "{:.2f}".format(evaluations[0]["summary"][k]["mixture"]["si_sdr"]))]])]
    if evaluations[0]["classifier"]:
        accuracy = [("mixture", evaluations[0], "mixture")] + [(e["model"] + " estimates", e, "U-Net")
                                                               for e in evaluations]
        accuracy += [("ideal ratio mask estimates", evaluations[0], "ideal ratio mask"),
                     ("clean sources", evaluations[0], "clean")]
        made.append(tables.table(["digit classifier on"] + [TASKS[k] for k in tasks],
                                 [[label] + ["{:.1f} %".format(100 * evaluation["summary"][k][version]["accuracy"])
                                             for k in tasks] for label, evaluation, version in accuracy]))
    counts = ", ".join("{} {}".format(evaluations[0]["summary"][k]["mixtures"], TASKS[k]) for k in tasks)
    notes = ["Held-out mixtures ({}; {} voices never heard in training).".format(
        counts, len(evaluations[0]["test"]["voices"]))]
    figures, audio = run_files(args.runs, evaluations, args.out)
    tables.save_report(args.out, made, notes, figures, audio, runs=[os.path.normpath(d) for d in args.runs],
                       test=evaluations[0]["test"], classifier=evaluations[0]["classifier"], rows=dict(rows),
                       summaries={e["model"]: e["summary"] for e in evaluations})
    return 0


if __name__ == "__main__":
    sys.exit(main())
