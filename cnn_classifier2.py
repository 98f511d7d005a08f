#!/usr/bin/env python
"""Digit classifier initialised from greedy pretraining: the 3-layer CNN takes its convolutions from the
encoders of autoencoders 1–3 and a fresh fully connected layer, which trains alone for the first epoch
(--freeze-epochs) before every layer trains like cnn_classifier1.py. It refuses to start when the
pretrained weights are missing or do not fit.
--init may also name the weights of cnn_autoencoder_deep.py or of vae.py (its model.json says which it is),
or those of a trained classifier: then every layer, the fully connected one included, starts from it and
trains on this data set (fine-tuning, e.g. the synthetic model on your own labelled recordings).
"""
import os
import sys

from specae import checkpoints, classifier_training, command_line, distributed, errors, vae
from specae.dataset import DataSetError
from specae.files import load_json
from specae.models import CHANNELS, DeepAutoencoder, GreedyStack


def pretrained_kind(weights_path):
    """The kind that model.json beside the weights names; None without one (load_weights then says so)."""
    try:
        return load_json(os.path.join(os.path.dirname(weights_path), checkpoints.MODEL_INFO)).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def main():
    parser = command_line.argument_parser(__doc__, epochs=10)
    distributed.add_communicator_option(parser)
    parser.add_argument("--init", default="result/autoencoder3/model.npz",
                        help="model.npz written by cnn_autoencoder3.py")
    classifier_training.add_frequency_pool_option(parser)
    classifier_training.add_dropout_option(parser)
    classifier_training.add_label_smoothing_option(parser)
    classifier_training.add_mixup_option(parser)
    classifier_training.add_label_subset_options(parser)
    classifier_training.add_variation_option(parser)
    classifier_training.add_weight_averaging_option(parser)
    classifier_training.add_freeze_option(parser)
    args = parser.parse_args()
    device, arrays, manifest = command_line.device_and_data(args)
    input_size = arrays["train_data"].shape[-1]
    kind = pretrained_kind(args.init)
    if kind == "cnn":
        return fine_tune(args, device, arrays, manifest, input_size)
    try:
        if kind == "vae":
            stack = vae.build(checkpoints.load_model_info(os.path.dirname(args.init)))
        else:
            stack = DeepAutoencoder(input_size=input_size) if kind == "deep_autoencoder" else \
                GreedyStack(3, input_size=input_size)
        checkpoints.load_weights(args.init, stack, manifest)
    except (FileNotFoundError, ValueError, KeyError, DataSetError) as error:
        errors.fail("cannot initialise from pretrained weights: {} (run make pretrain)".format(error))
    args.freeze_epochs = classifier_training.default_freeze_epochs(args, fresh_head=True)
    command_line.seed_everything(args.seed, device)
    model = classifier_training.build_classifier(args, 3, input_size)
    model.predictor.load_encoders(stack)
    init = {"deep_autoencoder": "pretrained_deep", "vae": "pretrained_vae"}.get(kind, "pretrained")
    info = {"kind": "cnn", "n_layers": 3, "input_size": input_size, "init": init, "init_from": args.init,
            "frequency_pool": args.frequency_pool}
    classifier_training.train_classifier(model, args, device, arrays, manifest, info)
    return 0


def fine_tune(args, device, arrays, manifest, input_size):
    """Train a classifier that starts from every weight of the trained classifier at --init."""
    source = checkpoints.load_model_info(os.path.dirname(args.init))
    args.channels = tuple(source.get("channels", CHANNELS[:source["n_layers"]]))  # the widths it was trained with
    args.freeze_epochs = classifier_training.default_freeze_epochs(args, fresh_head=False)
    command_line.seed_everything(args.seed, device)
    try:
        model = classifier_training.build_classifier(args, source["n_layers"], input_size)
        checkpoints.load_weights(args.init, model.predictor, manifest)
    except (FileNotFoundError, ValueError, KeyError, DataSetError) as error:
        errors.fail("cannot fine-tune from {}: {}".format(args.init, error))
    info = {"kind": "cnn", "n_layers": source["n_layers"], "input_size": input_size, "init": "fine_tuned",
            "init_from": args.init, "frequency_pool": args.frequency_pool, "channels": model.predictor.channels}
    classifier_training.train_classifier(model, args, device, arrays, manifest, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
