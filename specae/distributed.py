"""Data-parallel training with ChainerMN: the communicator of --communicator, which process writes, and
each process's share of the data."""
import sys

import chainer
import numpy as np

from specae.errors import abort_on_exception, fail

COMMUNICATORS = ("naive", "flat", "hierarchical", "two_dimensional", "single_node", "non_cuda_aware", "pure_nccl")


def add_communicator_option(parser):
    """--communicator, for the scripts that honour it (the autoencoders and classifiers of the pipeline:
    they shard the data, average the gradients and write from rank 0 only)."""
    parser.add_argument("--communicator", choices=COMMUNICATORS,
                        help="data-parallel training with ChainerMN, one process per core or GPU, started with "
                             "mpiexec -n N (make mpi installs MPI): naive on CPUs, pure_nccl on GPUs. "
                             "--batchsize stays the global batch, split over the processes")


_COMMUNICATORS = {}


def communicator(args):
    """The process's ChainerMN communicator for ``args.communicator`` (created once), or None."""
    name = getattr(args, "communicator", None)
    if name not in _COMMUNICATORS:
        _COMMUNICATORS[name] = create_communicator(args)
    return _COMMUNICATORS[name]


def create_communicator(args):
    """The ChainerMN communicator of ``--communicator``, or None without it (one process)."""
    if not getattr(args, "communicator", None):
        return None
    try:
        import chainermn
        from mpi4py import MPI  # noqa: F401  (chainermn needs it; say so plainly when it is missing)
    except ImportError as error:
        fail("--communicator needs MPI and mpi4py ({}): run make mpi, then mpiexec -n 2 .venv/bin/python ...".format(
            error))
    sys.excepthook = abort_on_exception
    return chainermn.create_communicator(args.communicator)


def is_writer(comm):
    """Only one process writes files and prints: the only one, or rank 0 of several."""
    return comm is None or comm.rank == 0


def shard(dataset, comm, shuffle, seed):
    """This process's part of ``dataset`` (chainermn.scatter_dataset of the example indices: every
    process has read the same data set, so only the indices travel)."""
    import chainermn
    indices = np.arange(len(dataset)) if comm.rank == 0 else None
    mine = np.asarray(list(chainermn.scatter_dataset(indices, comm, shuffle=shuffle, seed=seed)), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(dataset)), mine)
    return chainer.datasets.SubDataset(dataset, 0, len(mine), order=np.concatenate([mine, rest]))
