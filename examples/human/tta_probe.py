#!/usr/bin/env python
"""Which test-time variations help? Score labelled recordings under several sets of views and compare.

Each recording's front-end image (the models' own front end) is scored by every model in every view of
a grid, its bands warped by 0.92 … 1.08 and its word as recorded or stretched to 24 … 40 frames
(``inference.test_time_views``); then, per set of views below, the views' probabilities are averaged.
Prints, per set, the accuracy of the models together (their probabilities averaged too) and the mean
accuracy of each model alone. The set that predict.py and evaluate.py use is marked "(the default)";
docs/human.md, section 2, has the table this printed for the default's models.

    .venv/bin/python examples/human/tta_probe.py --model result/classifier_3cnn/seed1 ... $HUMAN_DIR
"""
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np  # noqa: E402

from examples.human.time_probe import load_probe, probe_parser  # noqa: E402
from specae import inference  # noqa: E402
from specae.files import save_json  # noqa: E402

WARPS = (0.92, 0.96, 1.0, 1.04, 1.08)
WORD_FRAMES = (None, 24, 28, 32, 36, 40)
# name: (warps, word lengths), each a subset of the grid
VIEW_SETS = {
    "as recorded": ((1.0,), (None,)),
    "5 warps": (WARPS, (None,)),
    "6 lengths": ((1.0,), WORD_FRAMES),
    "4 lengths (the default)": (inference.TEST_WARPS, inference.TEST_WORD_FRAMES),
    "3 warps x 4 lengths (the default until 529fc15)": ((1.0, 0.92, 1.08), inference.TEST_WORD_FRAMES),
    "5 warps x 6 lengths": (WARPS, WORD_FRAMES),
}


def view_probabilities(cnn, images):
    """``{(warp, frames): (N, 10)}``: one model's probabilities in every view of the grid, each view the one
    that ``inference.test_time_views`` makes for that warp and length alone."""
    return {(warp, frames): inference.probabilities(cnn, next(inference.test_time_views(images, (warp,), (frames,))))
            for frames in WORD_FRAMES for warp in WARPS}


def averaged(per_model, warps, word_frames):
    """(models, N, 10): each model's probabilities averaged over the views of ``warps`` × ``word_frames``."""
    keys = [(warp, frames) for frames in word_frames for warp in warps]
    return np.stack([np.mean([views[key] for key in keys], axis=0) for views in per_model])


def main():
    args = probe_parser(__doc__, "result/human/tta_probe").parse_args()
    models, cnns, images, labels = load_probe(args, "tta_probe.py")
    per_model = [view_probabilities(cnn, images) for cnn in cnns]
    rows = []
    print("| views averaged | {} together | each alone, mean |".format(len(cnns)))
    print("|---|---|---|")
    for name, (warps, word_frames) in VIEW_SETS.items():
        probabilities = averaged(per_model, warps, word_frames)
        together = float(np.mean(probabilities.mean(axis=0).argmax(axis=1) == labels))
        alone = float(np.mean(probabilities.argmax(axis=2) == labels))
        rows.append({"views": name, "warps": list(warps), "word_frames": list(word_frames),
                     "together": together, "alone_mean": alone})
        print("| {} | {:.2f} % | {:.2f} % |".format(name, 100 * together, 100 * alone))
    os.makedirs(args.out, exist_ok=True)
    save_json(os.path.join(args.out, "tta_probe.json"), {
        "models": models, "inputs": args.inputs, "recordings": len(labels), "rows": rows, "command": sys.argv})


if __name__ == "__main__":
    main()
