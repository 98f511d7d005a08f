"""How much a recipe's reading depends on its seeds: every model alone and every ensemble of three, scored
with the test-time views of ``evaluate.py`` on each folder of recordings (labels from the file names).

    .venv/bin/python examples/human/seed_triples.py --model result/classifier_3cnn/seed1 ... --model DIR6 \\
        ../shared/data/fsdd/recordings HELD_OUT_DIR

With six seeds of the same recipe this prints the twenty ensembles of three's mean and range, the figure
to compare recipes by (docs/human.md, section 2). ``--sizes 3 5`` adds the same line for the ensembles of
five: what more seeds per model would give. The recogniser of `make human` is three seeds of each model
make classify trains (the 3-CNN, the pretrained 3-CNN, the 2-CNN and, since 3627038, the frequency-pooled
3-CNN): ``--partner DIR`` (six times, the second model's seeds) scores every ensemble of K of the ``--model``
folders with K of the partners (400 for six of each), and ``--third DIR`` (six times more) adds K of a third
model's (8000); the four-model recogniser was judged by sampling its ensembles (docs/human.md, section 2).
``--warps`` and ``--lengths`` score with other test-time views than evaluate.py's 4 (``--warps 1 0.92 1.08``:
the 12 of its default until 529fc15)."""
import argparse
import itertools
import os
import sys

import numpy as np

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from examples.human.time_probe import labelled_images  # noqa: E402
from specae import inference  # noqa: E402


NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def accuracy(probabilities, labels):
    return 100.0 * float(np.mean(probabilities.argmax(axis=1) == labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="a classifier's folder (three or more; one front end)")
    parser.add_argument("folders", nargs="+", metavar="DIR", help="recordings named {digit}_{speaker}_*.wav")
    parser.add_argument("--sizes", type=int, nargs="+", default=[3], metavar="K",
                        help="score every ensemble of K of the models, for each K given (default: 3)")
    parser.add_argument("--partner", action="append", default=[], metavar="DIR",
                        help="a classifier of a second model (as many as --sizes asks for): each ensemble is then "
                             "K of the --model folders and K of these")
    parser.add_argument("--third", action="append", default=[], metavar="DIR",
                        help="with --partner, a classifier of a third model: each ensemble then adds K of these")
    parser.add_argument("--warps", type=float, nargs="+", default=list(inference.TEST_WARPS), metavar="ALPHA",
                        help="the test-time views' vocal-tract warps (default: evaluate.py's %(default)s)")
    parser.add_argument("--lengths", type=int, nargs="+", metavar="FRAMES",
                        default=[0 if frames is None else frames for frames in inference.TEST_WORD_FRAMES],
                        help="the test-time views' word lengths in frames, 0 for the word as recorded "
                             "(default: evaluate.py's %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if len(args.model) < 3:
        parser.error("give three or more --model folders")
    if not all(2 <= size <= len(args.model) for size in args.sizes):
        parser.error("each of --sizes must lie between 2 and the number of --model folders")
    for option, folders in (("--partner", args.partner), ("--third", args.third)):
        if folders and not all(size <= len(folders) for size in args.sizes):
            parser.error("each of --sizes must be at most the number of {} folders".format(option))
    if args.third and not args.partner:
        parser.error("--third needs --partner")
    views = dict(warps=tuple(args.warps), word_frames=tuple(frames or None for frames in args.lengths))
    try:
        classifiers, params = inference.load_classifiers(args.model + args.partner + args.third)
    except inference.ModelError as error:
        sys.exit("seed_triples.py: error: {}".format(error))
    for folder in args.folders:
        images, labels = labelled_images([folder], params, args.jobs, "seed_triples.py")
        each = [inference.probabilities([classifier], images, test_time_variations=True, **views)
                for classifier in classifiers]
        models, partners = each[:len(args.model)], each[len(args.model):len(args.model) + len(args.partner)]
        thirds = each[len(args.model) + len(args.partner):]
        alone = [accuracy(p, labels) for p in each]
        print("{}: {} recordings".format(folder, len(labels)))
        print("  each model: {} (mean {:.2f} %)".format(" ".join("{:.2f}".format(a) for a in alone), np.mean(alone)))
        for size in args.sizes:
            # each model's K seeds summed once per choice of them, then every combination of those sums
            groups = [group for group in (models, partners, thirds) if group]
            sums = [[np.sum(members, axis=0) for members in itertools.combinations(group, size)] for group in groups]
            name = " + ".join([NUMBER_WORDS.get(size, size)] * len(groups))
            ensembles = [accuracy(sum(chosen), labels) for chosen in itertools.product(*sums)]
            print("  the {} ensembles of {}: mean {:.2f} %, from {:.2f} to {:.2f}; the first {} {:.2f} %; "
                  "all {} together {:.2f} %".format(len(ensembles), name, np.mean(ensembles), min(ensembles),
                                                    max(ensembles), name, ensembles[0], len(each),
                                                    accuracy(np.mean(each, axis=0), labels)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
