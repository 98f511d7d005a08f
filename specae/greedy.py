"""Greedy layer-wise pretraining: train autoencoder layer k on the frozen layers 1..k-1.

The frozen layers' output does not change during training, so by default it is computed once and
the new layer trains on the cached features (``--no-cache`` recomputes it at every step, as the
original did); either way the frozen weights are excluded from updates with ``disable_update``.

With ``--denoise`` the input is the noisy version of each spectrogram (make_noisy.py) and the target
the clean one; layer k learns to give the frozen layers' features of the clean image from those of
the noisy image (a stacked denoising autoencoder, with the noise made in the audio).

With ``--unlabelled`` the front-end images of other recordings (e.g. human speech, the target domain)
join the training examples — the autoencoders need no label, and none is read: any *.wav is taken as
audio only, its name unparsed (stacked autoencoders trained on both domains, Glorot, Bordes and Bengio
2011). The validation examples stay the data set's test split.
"""
import os
import tempfile

import chainer
import numpy as np

from specae import allocator, checkpoints, command_line, denoise, distributed, errors, features, inference, plots, trainer_setup
from specae.dataset import DataSetError
from specae.models import GreedyStack

EXAMPLES_SHOWN = 5


CACHE_IN_MEMORY_BYTES = 1 << 30


def encode_in_batches(stack, data, device, batchsize=256):
    """The frozen layers' output for all of ``data``, computed once, into one preallocated array.

    The cache can be larger than the data (layer 1's output has 16 × 30 × 30 values per 64 × 64 image):
    above CACHE_IN_MEMORY_BYTES it is a memory-mapped temporary file (deleted when the process ends),
    whose pages the system can write out and drop, so a corpus many times the default still trains.
    Its memory is channels-last, (N, H, W, C) seen as (N, C, H, W): the layout in which the convolutions
    read a batch, which a batch of its examples then keeps (``specae.onednn.concat_examples``: one copy)."""
    outputs = None
    for start in range(0, len(data), batchsize):
        batch = device.send(np.asarray(data[start:start + batchsize]))
        encoded = chainer.backend.CpuDevice().send(stack.encode_frozen(batch))
        if outputs is None:
            n_channels, height, width = encoded.shape[1:]
            shape = (len(data), height, width, n_channels)
            if encoded.dtype.itemsize * int(np.prod(shape)) > CACHE_IN_MEMORY_BYTES:
                outputs = np.memmap(tempfile.TemporaryFile(prefix="specae-cache-"), dtype=encoded.dtype,
                                    mode="w+", shape=shape)
            else:
                outputs = allocator.large_array(shape, encoded.dtype)
            outputs = outputs.transpose(0, 3, 1, 2)
        outputs[start:start + len(encoded)] = encoded
    return outputs


def example_indices(labels):
    """One test example each of several different digits, the same ones for every layer."""
    first_of_digit = np.unique(labels, return_index=True)[1]
    return np.sort(first_of_digit[::2][:EXAMPLES_SHOWN])


def reconstruct(stack, images, device):
    """Spectrograms encoded through every layer and decoded back to 64×64."""
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        rebuilt = stack.decode(stack.encode(device.send(images)))
    return chainer.backend.CpuDevice().send(rebuilt.array)


def main(layer, description):
    parser = command_line.argument_parser(description, epochs=30)
    distributed.add_communicator_option(parser)
    if layer > 1:
        parser.add_argument("--init", required=True,
                            help="model.npz of autoencoder {} (its layers are loaded and frozen)".format(layer - 1))
    parser.add_argument("--no-cache", action="store_true",
                        help="run the frozen layers at every step instead of once (the original's way)")
    parser.add_argument("--denoise", metavar="NOISY_DIR",
                        help="denoising autoencoder: rebuild the clean spectrogram from its noisy version in "
                             "NOISY_DIR (written by make_noisy.py)")
    parser.add_argument("--unlabelled", nargs="+", metavar="WAV_OR_DIR",
                        help="also train on the front-end images of these recordings (folders are searched for "
                             "*.wav; no label is read), made with the data set's own front-end parameters")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(),
                        help="processes that make the --unlabelled recordings' images")
    args = parser.parse_args()
    if args.unlabelled and args.denoise:
        errors.fail("--unlabelled recordings have no noisy version: use --unlabelled or --denoise, not both")
    device, arrays, manifest = command_line.device_and_data(args)

    command_line.seed_everything(args.seed, device)
    stack = GreedyStack(layer, input_size=arrays["train_data"].shape[-1])
    if layer > 1:
        previous = GreedyStack(layer - 1, input_size=stack.input_size)
        try:
            checkpoints.load_weights(args.init, previous, manifest)
        except (FileNotFoundError, ValueError, DataSetError) as error:
            errors.fail("{} (run cnn_autoencoder{}.py first)".format(error, layer - 1))
        for source, target in zip(previous, stack.frozen_layers):
            target.copyparams(source)
    stack.to_device(device)

    train, test = arrays["train_data"], arrays["test_data"]
    if args.denoise:
        try:
            noisy, noisy_index = denoise.load_noisy(args.denoise, manifest)
        except denoise.NoisyError as error:
            errors.fail(error)
        # augmented copies (rows after the listed files) have no noisy version
        train, test = train[:len(noisy["train_noisy"])], test[:len(noisy["test_noisy"])]
        inputs = [noisy["train_noisy"], noisy["test_noisy"]]
    unlabelled = 0
    if args.unlabelled:
        params = features.FeatureParams.from_dict(manifest["params"])
        images = inference.recording_images(args.unlabelled, params, args.jobs)[1].astype(train.dtype)
        unlabelled = len(images)
        train = np.concatenate([np.asarray(train), images])
    if layer > 1 and not args.no_cache:
        train, test = (encode_in_batches(stack, data, device) for data in (train, test))
        if args.denoise:
            inputs = [encode_in_batches(stack, data, device) for data in inputs]
        stack.input_level = layer - 1
    writer = distributed.is_writer(distributed.communicator(args))
    if writer:
        print("autoencoder {}: {} → {} channels, training on {} examples of shape {}{}".format(
            layer, stack.top.encoder.W.shape[1], stack.top.encoder.W.shape[0], len(train), train.shape[1:],
            " ({} of them unlabelled recordings)".format(unlabelled) if unlabelled else ""), flush=True)

    if args.denoise:
        train, test = (chainer.datasets.TupleDataset(x, t) for x, t in zip(inputs, (train, test)))
    # frozen by make_trainer once the optimizer has made the update rules that disable_update switches off;
    # else Adam steps every frozen weight with a zero gradient (no change, two thirds of AE3's updates)
    trainer = trainer_setup.make_trainer(stack, train, test, args, device,
                                    ["main/loss", "validation/main/loss"],
                                    [(["main/loss", "validation/main/loss"], "loss.png")], frozen=stack.frozen_layers)
    trainer_setup.run(trainer)
    if not writer:
        return 0

    stack.to_cpu()
    shown = example_indices(arrays["test_label"])
    examples = np.asarray((noisy["test_noisy"] if args.denoise else arrays["test_data"])[shown])
    rebuilt = reconstruct(stack, examples, chainer.backend.CpuDevice())
    plots.inout_comparison(examples[:, 0], rebuilt[:, 0],
                           os.path.join(args.out, "inout-comparison_autoencoder{}.png".format(layer)),
                           "{}autoencoder {}: {}test inputs (top) and their reconstruction through {}".format(
                               "denoising " if args.denoise else "", layer, "noisy " if args.denoise else "",
                               "layer 1" if layer == 1 else "layers 1–{}".format(layer)),
                           ["digit {}".format(arrays["test_label"][i]) for i in shown])
    info = {"kind": "greedy_stack", "n_layers": layer, "channels": list(stack.channels),
            "input_size": stack.input_size, "epochs": args.epoch, "seed": args.seed}
    if args.denoise:
        info["denoise"] = {"noisy": os.path.abspath(args.denoise), "snr_db": noisy_index["snr_db"],
                           "kinds": noisy_index["kinds"]}
    if args.unlabelled:
        info["unlabelled"] = {"sources": [os.path.abspath(path) for path in args.unlabelled], "examples": unlabelled}
    checkpoints.save_model(args.out, stack, checkpoints.add_features_to_info(info, manifest))
    print("saved {}".format(os.path.join(args.out, checkpoints.MODEL_FILE)))
    return 0
