#!/usr/bin/env python
"""Does the classifier read the time course of a word? Edit the time axis of labelled recordings' images
and count how the answers move.

Each recording's front-end image (the models' own front end) is scored as it is, then with its first or
last K frames removed (the rest stretched back to 64 frames), and squeezed into the middle fraction of
the frames (silence on both sides). Prints, per edit, the accuracy and how many wrong answers are each
digit (``--watch``, default 8: the answer that took 409 of 927 errors on FSDD with resized words). If the
wrong answers follow the edits, the classifier's pull towards that digit comes from the time axis, not
from the sound of the voices (docs/human.md).

    .venv/bin/python examples/human/time_probe.py --model result/classifier_3cnn/seed1 ... $HUMAN_DIR
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np  # noqa: E402

from specae import errors, inference  # noqa: E402
from specae.features import fit_frames  # noqa: E402
from specae.files import LabelError, list_audio_files, parse_name, save_json  # noqa: E402


def cut(images, first, last):
    """Remove ``first`` frames at the start and ``last`` at the end, stretch the rest back to the width."""
    width = images.shape[-1]
    return np.stack([fit_frames(image[:, first:width - last], width, "resize") for image in images])


def squeeze(images, fraction):
    """Resize the time axis to ``fraction`` of the width, centred in silence (0, the image's floor)."""
    width = images.shape[-1]
    inner = int(round(width * fraction))
    return np.stack([fit_frames(fit_frames(image, inner, "resize"), width, "pad") for image in images])


def probe_parser(description, out):
    """The command line the probes share: labelled recordings, --model (several averaged), --out, --jobs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="labelled recordings ({digit}_*.wav)")
    parser.add_argument("--model", action="append", help="classifier folder; several are averaged "
                        "(default: {}, inference.default_models())".format(inference.DEFAULT_ENSEMBLE_HELP))
    parser.add_argument("--out", default=out)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    return parser


def load_probe(args, script):
    """``(models, cnns, images, labels)`` for a probe's arguments: a model that cannot be loaded, or no
    usable labelled recording, is a one-line exit naming ``script``."""
    models = args.model or inference.default_models()
    try:
        cnns, params = inference.load_classifiers(models)
    except inference.ModelError as error:
        sys.exit("{}: error: {}".format(script, error))
    return (models, cnns) + labelled_images(args.inputs, params, args.jobs, script)


def labelled_images(inputs, params, jobs, script):
    """``(images, labels)`` of the labelled recordings ({digit}_*.wav) among ``inputs``, with the front
    end ``params``; the unusable and unlabelled ones named on stderr, none usable a one-line exit."""
    labelled, skipped = [], []
    for path in list_audio_files(inputs):
        try:
            labelled.append((path, parse_name(path)[0]))
        except LabelError as error:
            skipped.append((path, str(error)))
    paths, images, unusable = inference.usable_images([path for path, _ in labelled], params, jobs=jobs)
    errors.report_skipped(skipped + unusable)
    if not paths:
        sys.exit("{}: error: no usable recording named {{digit}}_*.wav in {}".format(script, " ".join(inputs)))
    label_of = dict(labelled)
    return np.stack(images).astype(np.float32), np.array([label_of[path] for path in paths])


EDITS = [("as it is", lambda x: x)] + [
    ("first {} frames removed".format(k), lambda x, k=k: cut(x, k, 0)) for k in (6, 12)] + [
    ("last {} frames removed".format(k), lambda x, k=k: cut(x, 0, k)) for k in (6, 12)] + [
    ("squeezed into the middle {:.0f} %".format(100 * f), lambda x, f=f: squeeze(x, f)) for f in (0.8, 0.65)]


def main():
    parser = probe_parser(__doc__, "result/human/time_probe")
    parser.add_argument("--watch", type=int, default=8, help="the wrong answer to count")
    args = parser.parse_args()
    models, cnns, images, labels = load_probe(args, "time_probe.py")
    rows = []
    print("| edit of the time axis | accuracy | wrong answers \"{}\" |".format(args.watch))
    print("|---|---|---|")
    for name, edit in EDITS:
        answers = inference.probabilities(cnns, edit(images)).argmax(axis=1)
        wrong = int(np.sum((answers == args.watch) & (labels != args.watch)))
        rows.append({"edit": name, "accuracy": float(np.mean(answers == labels)), "wrong_watched": wrong})
        print("| {} | {:.1f} % | {} |".format(name, 100 * rows[-1]["accuracy"], wrong))
    os.makedirs(args.out, exist_ok=True)
    save_json(os.path.join(args.out, "time_probe.json"), {
        "models": models, "inputs": args.inputs, "recordings": len(labels),
        "watch": args.watch, "front_end_fit": params.fit, "rows": rows, "command": sys.argv})


if __name__ == "__main__":
    main()
