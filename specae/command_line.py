"""The command line and device of the training scripts: the options of Chainer's
examples/mnist/train_mnist.py, the device, the data set, the seed."""
import argparse

import chainer
import numpy as np

from specae.dataset import DataSetError, load_dataset
from specae.distributed import communicator
from specae.errors import fail


def argument_parser(description, epochs):
    """The options of Chainer's examples/mnist/train_mnist.py, plus the data set and the seed; the scripts
    that train data-parallel add distributed.add_communicator_option."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="DataSet", help="directory written by make_dataset.py")
    parser.add_argument("--batchsize", "-b", type=int, default=30, help="examples per mini-batch")
    parser.add_argument("--epoch", "-e", type=int, default=epochs, help="sweeps over the training set")
    parser.add_argument("--device", "-d", default="-1",
                        help="-1 or @numpy for the CPU, 0 or @cupy:0 for the first GPU")
    parser.add_argument("--out", "-o", required=True, help="directory for the log, plots, snapshots and model")
    parser.add_argument("--resume", "-r", help="trainer snapshot to continue from")
    parser.add_argument("--autoload", action="store_true",
                        help="continue from the newest snapshot in --out left by an interrupted identical run")
    parser.add_argument("--seed", type=int, default=0, help="seed for initial weights and shuffling")
    return parser


def get_device(spec, comm=None):
    """chainer.get_device, refusing a GPU at once and clearly when CUDA cannot be used.

    With a communicator, a GPU spec means one GPU per process: the process's rank within its node.
    On a GPU the convolutions run on CuPy's im2col and cuBLAS, not cuDNN (specae/__init__.py)."""
    try:
        device = chainer.get_device(spec)
        if comm is not None and device.xp is not np:
            device = chainer.get_device("@cupy:{}".format(comm.intra_rank))
        if device.xp is not np:
            import chainer.backends.cuda as cuda
            if not cuda.available:
                raise RuntimeError("CuPy cannot reach a CUDA device")
    except Exception as error:  # chainer raises several types for a malformed or unusable spec
        reason = " ".join(str(error).split())
        fail("--device {} cannot be used: {}. A GPU needs CUDA and CuPy (pip install 'cupy-cuda12x<14'); "
             "use --device -1 for the CPU".format(spec, reason))
    device.use()
    return device


def device_and_data(args):
    """The device and the data set of a training script's arguments, or a one-line error.

    The arrays are memory-mapped: a data set larger than memory trains (the system keeps the pages it
    can and reads the rest back), and one that fits costs no more once its pages are cached."""
    device = get_device(args.device, communicator(args))
    try:
        arrays, manifest = load_dataset(args.dataset, mmap=True)
    except DataSetError as error:
        fail(error)
    return device, arrays, manifest


def seed_everything(seed, device):
    """Weights are drawn from NumPy's global generator by Chainer's initialisers."""
    np.random.seed(seed)
    if device.xp is not np:
        device.xp.random.seed(seed)
