"""How much a recipe's reading depends on its seeds: every model alone and every ensemble of three, scored
with the test-time views of ``evaluate.py`` on each folder of recordings (labels from the file names).

    .venv/bin/python examples/human/seed_triples.py --model result/classifier_3cnn/seed1 ... --model DIR6 \\
        ../shared/data/fsdd/recordings HELD_OUT_DIR

`make human` reads one ensemble of three seeds; with six seeds of the same recipe this prints the twenty
such ensembles' mean and range, the figure to compare recipes by (docs/human.md, section 2)."""
import argparse
import itertools
import os
import sys

import numpy as np

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from examples.human.time_probe import labelled_images  # noqa: E402
from specae import inference  # noqa: E402


def accuracy(probabilities, labels):
    return 100.0 * float(np.mean(probabilities.argmax(axis=1) == labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="a classifier's folder (three or more; one front end)")
    parser.add_argument("folders", nargs="+", metavar="DIR", help="recordings named {digit}_{speaker}_*.wav")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if len(args.model) < 3:
        parser.error("give three or more --model folders")
    try:
        classifiers, params = inference.load_classifiers(args.model)
    except inference.ModelError as error:
        sys.exit("seed_triples.py: error: {}".format(error))
    for folder in args.folders:
        images, labels = labelled_images([folder], params, args.jobs, "seed_triples.py")
        each = [inference.probabilities([classifier], images, test_time_variations=True)
                for classifier in classifiers]
        alone = [accuracy(p, labels) for p in each]
        triples = [accuracy(np.mean([each[i] for i in triple], axis=0), labels)
                   for triple in itertools.combinations(range(len(each)), 3)]
        print("{}: {} recordings".format(folder, len(labels)))
        print("  each model: {} (mean {:.2f} %)".format(" ".join("{:.2f}".format(a) for a in alone), np.mean(alone)))
        print("  the {} ensembles of three: mean {:.2f} %, from {:.2f} to {:.2f}; the first three {:.2f} %; "
              "all {} together {:.2f} %".format(len(triples), np.mean(triples), min(triples), max(triples), triples[0],
                                                len(each), accuracy(np.mean(each, axis=0), labels)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
