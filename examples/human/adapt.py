#!/usr/bin/env python
"""Adapt a trained digit recogniser to a folder of unlabelled recordings (no label is read).

Self-training in rounds: the current models score every recording and their probabilities are averaged
and balanced so that each digit gets the same share (inference.balance_priors); for each digit the most
confident recordings get that digit as a pseudo-label, a growing fraction per round (--fractions); each
model (--members of the --model given: by default all, e.g. the three seeds of make classify) then trains
a classifier initialised from itself with the Trainer on the synthetic training split plus the
pseudo-labelled recordings (repeated --repeat times), validated on the synthetic test split. So every
round's pseudo-labels come from the ensemble, which is right more often than any one of its members.
The last round's classifiers are written to --out: one model (model.npz, model.json) or, for several
members, one folder each (member1, member2, ...), which predict.py and evaluate.py read as an ensemble
when given --out itself. Each round keeps its own folder, and adaptation.json records what was selected
(per round, [recording index, pseudo-label] pairs). The ensemble scores each recording in the test-time
views that predict.py and evaluate.py average (--no-tta: as it is).

File names of the recordings are not parsed: any *.wav works, labelled or not.
"""
import copy
import os
import shutil
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import specae  # noqa: E402,F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer.links as L
import numpy as np

from examples.human import adaptation
from specae import checkpoints, classifier_training, command_line, errors, features, inference
from specae.dataset import check_params
from specae.files import save_json


def main():
    parser = command_line.argument_parser(__doc__, epochs=3)
    parser.add_argument("recordings", nargs="+", metavar="DIR", help="folders (or files) of unlabelled WAVs")
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="trained classifier to start from; several: an ensemble, whose averaged probabilities "
                             "choose the pseudo-labels")
    # All: make adapt on FSDD 94.8 % against 94.1 % with the first alone (docs/human.md), for three times the work.
    parser.add_argument("--members", type=int, default=None, metavar="N",
                        help="adapt the first N of the --model given, each round's pseudo-labels from their average "
                             "(default: all)")
    # Up to every recording: make adapt (one seed adapted) 94.1 % after five rounds, 91.3 % after three (0.3 0.5 0.7);
    # a sixth at 1.0 adds nothing (docs/human.md).
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9, 1.0], metavar="F",
                        help="per round, the share of each digit's N/10 recordings that gets a pseudo-label")
    parser.add_argument("--repeat", type=int, default=3,
                        help="times each pseudo-labelled recording appears per epoch beside the synthetic clips")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    inference.add_test_time_option(parser, "choose the pseudo-labels from each recording as it is")
    classifier_training.add_variation_option(parser)
    args = parser.parse_args()
    out = args.out
    device, arrays, manifest = command_line.device_and_data(args)
    args.model = [member for model in args.model for member in inference.ensemble_members(model)]
    try:
        cnns, params = inference.load_classifiers(args.model)
        check_params(params, features.FeatureParams.from_dict(manifest["params"]),
                     "{} (the model and the data set must share one front end)".format(args.dataset))
        input_size = checkpoints.load_model_info(args.model[0])["input_size"]  # one front end: one image size
    except (inference.ModelError, ValueError) as error:
        errors.fail(error)
    members = len(args.model) if args.members is None else args.members
    if not 1 <= members <= len(args.model):
        errors.fail("--members {}: expected 1 to {} (the number of --model given)".format(members, len(args.model)))
    paths, images = inference.recording_images(args.recordings, params, args.jobs)
    synthetic_data = np.asarray(arrays["train_data"])
    synthetic_label = np.asarray(arrays["train_label"])

    member_dirs = [""] if members == 1 else ["member{}".format(k) for k in range(1, members + 1)]
    start_from = [os.path.join(model, checkpoints.MODEL_FILE) for model in args.model[:members]]
    rounds, scorers = [], cnns
    for number, fraction in enumerate(args.fractions, start=1):
        probabilities = inference.probabilities(scorers, images[:, 0], test_time_variations=args.test_time_variations)
        chosen, labels = adaptation.pseudo_labels(probabilities, fraction)
        print("round {}: {} of {} recordings pseudo-labelled (fraction {})".format(
            number, len(chosen), len(paths), fraction), flush=True)
        round_arrays = dict(arrays)
        round_arrays["train_data"] = np.concatenate([synthetic_data] + [images[chosen]] * args.repeat)
        round_arrays["train_label"] = np.concatenate([synthetic_label] + [labels] * args.repeat)
        scorers = []
        for member, (member_dir, source) in enumerate(zip(member_dirs, start_from)):
            command_line.seed_everything(args.seed + number + 1000 * member, device)
            # its own model.json says how to build it: the members may differ (the 2-CNN beside the 3-CNNs)
            cnn, _ = inference.load_classifier(os.path.dirname(source))
            round_args = copy.copy(args)
            round_args.out = os.path.join(out, "round{}".format(number), member_dir)
            round_args.seed = args.seed + 1000 * member
            round_info = dict(kind="cnn", n_layers=cnn.n_layers, input_size=input_size, channels=cnn.channels,
                              frequency_pool=cnn.frequency_pool, init="adapted", init_from=source,
                              adaptation_round=number)
            classifier_training.train_classifier(L.Classifier(cnn), round_args, device, round_arrays, manifest,
                                                 round_info)
            start_from[member] = os.path.join(round_args.out, checkpoints.MODEL_FILE)
            scorers.append(cnn)
        rounds.append({"round": number, "fraction": fraction, "pseudo_labelled": len(chosen),
                       "per_digit": np.bincount(labels, minlength=10).tolist(),
                       "chosen": [[int(index), int(label)] for index, label in zip(chosen, labels)]})

    for member_dir, source in zip(member_dirs, start_from):
        os.makedirs(os.path.join(out, member_dir), exist_ok=True)
        for name in (checkpoints.MODEL_FILE, checkpoints.MODEL_INFO):
            shutil.copyfile(os.path.join(os.path.dirname(source), name), os.path.join(out, member_dir, name))
    save_json(os.path.join(out, "adaptation.json"), {
        "command": sys.argv, "started_from": args.model, "members": member_dirs, "recordings": len(paths), "rounds": rounds,
        "test_time_variations": args.test_time_variations, "files": paths})
    print("adapted model: {}".format(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
