#!/usr/bin/env python
"""Adapt a trained digit recogniser to a folder of unlabelled recordings (no label is read).

Self-training in rounds: the current model scores every recording; its probabilities are balanced so
that each digit gets the same share (adaptation.balance); for each digit the most confident
recordings get that digit as a pseudo-label, a growing fraction per round (--fractions); a classifier
initialised from the current model then trains with the Trainer on the synthetic training split plus
the pseudo-labelled recordings (repeated --repeat times), validated on the synthetic test split. The
last round's classifier is written to --out (model.npz, model.json) for predict.py and evaluate.py;
each round keeps its own folder, and adaptation.json records what was selected.

File names of the recordings are not parsed: any *.wav works, labelled or not.
"""
import copy
import os
import shutil
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import chainer.links as L
import numpy as np

from examples.human import adaptation
from specae import checkpoints, classifier_training, command_line, errors, features, inference
from specae.dataset import check_params
from specae.files import save_json
from specae.models import CNN


def main():
    parser = command_line.argument_parser(__doc__, epochs=3)
    parser.add_argument("recordings", nargs="+", metavar="DIR", help="folders (or files) of unlabelled WAVs")
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="trained classifier to start from; several: their averaged probabilities choose the "
                             "first round's pseudo-labels, and the first one's weights are adapted")
    # Up to every recording: make adapt on FSDD 94.1 % after five rounds, 91.3 % after three (0.3 0.5 0.7), docs/human.md.
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9, 1.0], metavar="F",
                        help="per round, the share of each digit's N/10 recordings that gets a pseudo-label")
    parser.add_argument("--repeat", type=int, default=3,
                        help="times each pseudo-labelled recording appears per epoch beside the synthetic clips")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    classifier_training.add_variation_option(parser)
    args = parser.parse_args()
    out = args.out
    device, arrays, manifest = command_line.device_and_data(args)
    try:
        cnns, params = inference.load_classifiers(args.model)
        check_params(params, features.FeatureParams.from_dict(manifest["params"]),
                     "{} (the model and the data set must share one front end)".format(args.dataset))
        info = checkpoints.load_model_info(args.model[0])
    except (inference.ModelError, ValueError) as error:
        errors.fail(error)
    paths, images = inference.recording_images(args.recordings, params, args.jobs)
    synthetic_data = np.asarray(arrays["train_data"])
    synthetic_label = np.asarray(arrays["train_label"])

    rounds, scorers, start_from = [], cnns, os.path.join(args.model[0], checkpoints.MODEL_FILE)
    for number, fraction in enumerate(args.fractions, start=1):
        probabilities = inference.probabilities(scorers, images[:, 0])
        chosen, labels = adaptation.pseudo_labels(probabilities, fraction)
        round_dir = os.path.join(out, "round{}".format(number))
        print("round {}: {} of {} recordings pseudo-labelled (fraction {})".format(
            number, len(chosen), len(paths), fraction), flush=True)
        command_line.seed_everything(args.seed + number, device)
        cnn = CNN(info["n_layers"], input_size=info["input_size"], frequency_pool=info.get("frequency_pool", 1))
        checkpoints.load_weights(start_from, cnn)
        round_arrays = dict(arrays)
        round_arrays["train_data"] = np.concatenate([synthetic_data] + [images[chosen]] * args.repeat)
        round_arrays["train_label"] = np.concatenate([synthetic_label] + [labels] * args.repeat)
        round_args = copy.copy(args)
        round_args.out = round_dir
        round_info = dict(kind="cnn", n_layers=info["n_layers"], input_size=info["input_size"],
                          frequency_pool=info.get("frequency_pool", 1), init="adapted", init_from=start_from,
                          adaptation_round=number)
        classifier_training.train_classifier(L.Classifier(cnn), round_args, device, round_arrays, manifest, round_info)
        rounds.append({"round": number, "fraction": fraction, "pseudo_labelled": len(chosen),
                       "per_digit": np.bincount(labels, minlength=10).tolist()})
        start_from = os.path.join(round_dir, checkpoints.MODEL_FILE)
        scorers = [cnn]

    for name in (checkpoints.MODEL_FILE, checkpoints.MODEL_INFO):
        shutil.copyfile(os.path.join(os.path.dirname(start_from), name), os.path.join(out, name))
    save_json(os.path.join(out, "adaptation.json"), {
        "command": sys.argv, "started_from": args.model, "recordings": len(paths), "rounds": rounds,
        "files": paths})
    print("adapted model: {}".format(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
