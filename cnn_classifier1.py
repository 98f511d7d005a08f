#!/usr/bin/env python
"""Digit classifier from random initialisation: 2 or 3 convolutions (16/32[/32] filters, kernel 6,
stride 2, ReLU) and one fully connected layer to the ten digits, trained with Adam.
"""
import sys

from specae import classifier_training, command_line, distributed


def main():
    parser = command_line.argument_parser(__doc__, epochs=10)
    distributed.add_communicator_option(parser)
    parser.add_argument("--layers", type=int, choices=(2, 3), default=3, help="convolution layers")
    classifier_training.add_frequency_pool_option(parser)
    classifier_training.add_channels_option(parser)
    classifier_training.add_dropout_option(parser)
    classifier_training.add_label_smoothing_option(parser)
    classifier_training.add_mixup_option(parser)
    classifier_training.add_label_subset_options(parser)
    classifier_training.add_variation_option(parser)
    classifier_training.add_weight_averaging_option(parser)
    args = parser.parse_args()
    device, arrays, manifest = command_line.device_and_data(args)
    command_line.seed_everything(args.seed, device)
    model = classifier_training.build_classifier(args, args.layers, arrays["train_data"].shape[-1])
    info = {"kind": "cnn", "n_layers": args.layers, "input_size": arrays["train_data"].shape[-1],
            "init": "random", "frequency_pool": args.frequency_pool, "channels": model.predictor.channels}
    classifier_training.train_classifier(model, args, device, arrays, manifest, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
