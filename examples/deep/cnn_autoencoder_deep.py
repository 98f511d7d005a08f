#!/usr/bin/env python
"""A deeper autoencoder trained end to end (the voice-conversion seed's layout), the alternative to greedy
layer-wise pretraining: three convolutions (1→16→32→32, kernel 6, stride 2, the classifier's geometry)
with batch normalisation and LeakyReLU, a tanh bottleneck of 32×4×4, three transposed convolutions back
with batch normalisation and LeakyReLU, a softplus output; MSE, RMSprop.

cnn_classifier2.py --init OUT/model.npz starts the 3-layer CNN from its encoder (each batch
normalisation folded into its convolution).
"""
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import specae  # noqa: E402,F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer
import numpy as np

from specae import checkpoints, command_line, plots, trainer_setup
from specae.greedy import example_indices
from specae.models import DeepAutoencoder, reconstruct_all


def main():
    parser = command_line.argument_parser(__doc__, epochs=30)
    parser.add_argument("--lr", type=float, default=1e-3, help="RMSprop learning rate")
    parser.add_argument("--slope", type=float, default=0.2, help="LeakyReLU slope for negative inputs")
    args = parser.parse_args()
    device, arrays, manifest = command_line.device_and_data(args)
    command_line.seed_everything(args.seed, device)
    model = DeepAutoencoder(input_size=arrays["train_data"].shape[-1], slope=args.slope)
    print("deep autoencoder: {} parameters, training on {} examples".format(
        sum(param.size for param in model.params()), len(arrays["train_data"])))
    trainer = trainer_setup.make_trainer(model, arrays["train_data"], arrays["test_data"], args, device,
                                    ["main/loss", "validation/main/loss"],
                                    [(["main/loss", "validation/main/loss"], "loss.png")],
                                    optimizer=chainer.optimizers.RMSprop(lr=args.lr))
    trainer_setup.run(trainer)

    model.to_cpu()
    shown = example_indices(arrays["test_label"])
    examples = np.asarray(arrays["test_data"][shown])
    plots.inout_comparison(examples[:, 0], reconstruct_all(model, examples)[:, 0],
                           os.path.join(args.out, "inout-comparison_autoencoder_deep.png"),
                           "deep autoencoder: test inputs (top) and their reconstruction",
                           ["digit {}".format(arrays["test_label"][i]) for i in shown])
    info = {"kind": "deep_autoencoder", "channels": list(model.channels), "input_size": model.input_size,
            "slope": args.slope, "lr": args.lr, "epochs": args.epoch, "seed": args.seed}
    checkpoints.save_model(args.out, model, checkpoints.add_features_to_info(info, manifest))
    print("saved {}".format(os.path.join(args.out, checkpoints.MODEL_FILE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
