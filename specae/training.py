"""Training set-up shared by the five training scripts: arguments, device, trainer, model files."""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys

import chainer
import numpy as np
from chainer import training
from chainer.training import extensions

from specae.dataset import DataSetError, check_params, load_dataset
from specae.features import FeatureParams
from specae.files import atomic_path, load_json, remove_stale_temporaries, save_json
from specae.models import classifier

MODEL_FILE = "model.npz"
MODEL_INFO = "model.json"
RUN_FILE = "run.json"


def argument_parser(description, epochs):
    """The options of Chainer's examples/mnist/train_mnist.py, plus the data set and the seed."""
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
    parser.add_argument("--communicator", choices=COMMUNICATORS,
                        help="data-parallel training with ChainerMN, one process per core or GPU, started with "
                             "mpiexec -n N (make mpi installs MPI): naive on CPUs, pure_nccl on GPUs. "
                             "--batchsize stays the global batch, split over the processes")
    return parser


def add_frequency_pool_option(parser):
    parser.add_argument("--frequency-pool", type=int, default=1, metavar="ROWS",
                        help="max-pool the last feature map over this many neighbouring frequency rows before the "
                             "fully connected layer (1: none), for invariance to small formant shifts")


def build_classifier(args, n_layers, input_size):
    """The classifier of ``models.classifier``; a bad --frequency-pool is a one-line error."""
    try:
        return classifier(n_layers, input_size=input_size, frequency_pool=args.frequency_pool)
    except ValueError as error:
        fail("--frequency-pool: {}".format(error))


COMMUNICATORS = ("naive", "flat", "hierarchical", "two_dimensional", "single_node", "non_cuda_aware", "pure_nccl")


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
    sys.excepthook = _abort_on_exception
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


def fail(message):
    """Stop the script with a one-line error (no traceback); under MPI, stop every process."""
    print("error: {}".format(message), file=sys.stderr)
    _abort_other_processes()
    sys.exit(1)


def _abort_other_processes():
    """With several MPI processes, one that stops alone leaves the others waiting in a collective
    operation for ever: end them all."""
    if any(comm is not None and comm.size > 1 for comm in _COMMUNICATORS.values()):
        sys.stderr.flush()
        from mpi4py import MPI
        MPI.COMM_WORLD.Abort(1)


def _abort_on_exception(kind, value, trace):
    sys.__excepthook__(kind, value, trace)
    _abort_other_processes()


def get_device(spec, comm=None):
    """chainer.get_device, refusing a GPU at once and clearly when CUDA cannot be used.

    With a communicator, a GPU spec means one GPU per process: the process's rank within its node."""
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


class EpochShuffler:
    """An order sampler whose next permutation is a function of the seed and the previous order.

    Chainer does not save an order sampler's random state in a snapshot, but it does save the
    iterator's current order; deriving the next order from it makes a resumed run draw exactly
    the batches the uninterrupted run would have drawn.
    """

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, current_order, current_position):
        length = len(current_order)
        digest = hashlib.sha256(np.asarray(current_order, dtype=np.int64).tobytes()).digest()
        rng = np.random.default_rng([self.seed, int.from_bytes(digest[:8], "little")])
        return rng.permutation(length)


class ExampleWeightedEvaluator(extensions.Evaluator):
    """Chainer's Evaluator averages batch means, so a short last batch counts as much as a full one;
    this one weights each batch by its size, so the test accuracy is exactly correct / total.

    With a ChainerMN communicator it is the multi-node evaluator: every process evaluates its part of
    the test set and the sums and counts are added over the processes (chainermn's own averages the
    processes' means, which is inexact when the parts differ in size)."""

    def __init__(self, *args, comm=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.comm = comm

    def evaluate(self):
        result = self._local_evaluate()
        if self.comm is None:
            return result
        totals = {}
        for part in self.comm.mpi_comm.allgather({key: (float(mean) * count, count)
                                             for key, (mean, count) in result.items()}):
            for key, (total, count) in part.items():
                previous = totals.get(key, (0.0, 0))
                totals[key] = (previous[0] + total, previous[1] + count)
        return {key: total / count for key, (total, count) in totals.items() if count}

    def _local_evaluate(self):
        iterator = self.get_iterator("main")
        target = self.eval_func or self.get_target("main")
        iterator.reset()
        summary = chainer.reporter.DictSummary()
        examples = 0
        for batch in iterator:
            observation = {}
            with chainer.reporter.report_scope(observation), chainer.no_backprop_mode():
                in_arrays = self.converter(batch, self.device)
                target(*in_arrays) if isinstance(in_arrays, tuple) else target(in_arrays)
            summary.add({key: (value, len(batch)) for key, value in observation.items()})
            examples += len(batch)
        means = summary.compute_mean()
        if self.comm is None:
            return means
        return {key: (float(chainer.backend.CpuDevice().send(getattr(value, "array", value))), examples)
                for key, value in means.items()}


class DivergenceError(Exception):
    pass


@training.make_extension(trigger=(1, "iteration"), priority=training.PRIORITY_READER)
def stop_on_divergence(trainer):
    """A NaN or infinite loss stops training before a broken model is written."""
    loss = trainer.observation.get("main/loss")
    if loss is not None and not np.isfinite(float(chainer.backend.CpuDevice().send(loss.array)
                                                  if isinstance(loss, chainer.Variable) else loss)):
        raise DivergenceError("training diverged: the loss is {} at iteration {} (epoch {:.2f}); no model was written"
                              .format(float(loss.array if isinstance(loss, chainer.Variable) else loss),
                                      trainer.updater.iteration, trainer.updater.epoch_detail))


SNAPSHOT_PREFIX = "snapshot_epoch_"
# What chainer's snapshot writer and LogReport leave in ``out`` when killed while writing:
# tempfile.mkdtemp directories named after the file they were writing.
_CHAINER_TEMPORARY = re.compile(r"^(tmp{}.+|log[a-z0-9_]{{8}})$".format(SNAPSHOT_PREFIX))


def remove_stale_output(out):
    """Remove the temporary files and directories that a killed run left in its output directory."""
    if not os.path.isdir(out):
        return
    remove_stale_temporaries(out)
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if _CHAINER_TEMPORARY.match(name) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)


def latest_snapshot(out):
    """The snapshot of the highest epoch in ``out``, or None."""
    epochs = [int(name[len(SNAPSHOT_PREFIX):]) for name in os.listdir(out)
              if name.startswith(SNAPSHOT_PREFIX) and name[len(SNAPSHOT_PREFIX):].isdigit()]
    return os.path.join(out, SNAPSHOT_PREFIX + str(max(epochs))) if epochs else None


def load_npz(path, target):
    """chainer.serializers.load_npz without pickle (chainer's own allows it): loading never runs code."""
    with np.load(path, allow_pickle=False) as stored:
        chainer.serializers.NpzDeserializer(stored).load(target)


def _save_figure_atomically(figure, axes, summary):
    """PlotReport's postprocess hook, called just before it saves its figure in place: make that save go to a
    temporary file renamed into place, so that a kill never leaves a half-written PNG."""
    def savefig(path, **kwargs):
        with atomic_path(path) as temporary:
            type(figure).savefig(figure, temporary, **kwargs)
    figure.savefig = savefig


def prepare_output(out, args):
    """Record the run's settings; snapshots of a run with other settings are removed, not resumed."""
    settings = {key: value for key, value in sorted(vars(args).items())
                if key not in ("resume", "autoload", "out")}
    path = os.path.join(out, RUN_FILE)
    remove_stale_output(out)
    if os.path.exists(path) and load_json(path) != settings:
        for name in os.listdir(out):
            if name.startswith("snapshot_"):
                os.remove(os.path.join(out, name))
    save_json(path, settings)


def make_trainer(model, train, test, args, device, report_keys, plots, optimizer=None):
    """Adam (or ``optimizer``), a seeded iterator, and the usual extensions: evaluator, log, prints,
    plots, snapshots.

    Seed (seed_everything) before building ``model``: its initial weights come from the global generator.
    With ``--communicator`` (ChainerMN), every process trains on its part of ``train`` with its part of
    the batch, the gradients are averaged over the processes (so a step is the one-process step on the
    same examples), the test set is evaluated in parts and summed, and only rank 0 writes and prints.
    """
    comm = communicator(args)
    batchsize = args.batchsize
    model.to_device(device)
    optimizer = optimizer or chainer.optimizers.Adam()
    if comm is not None:
        import chainermn
        if args.batchsize % comm.size:
            fail("--batchsize {} cannot be split evenly over {} processes".format(args.batchsize, comm.size))
        batchsize = args.batchsize // comm.size
        train, test = shard(train, comm, shuffle=True, seed=args.seed), shard(test, comm, shuffle=False, seed=None)
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(model)
    if comm is not None:
        # Every process starts from rank 0's weights. ChainerMN would broadcast them at the first
        # update instead of updating (a step lost); done here, the first update is a real one.
        comm.bcast_data(model)
        optimizer.is_changed(model)
    writer = is_writer(comm)
    if writer:
        prepare_output(args.out, args)

    train_iter = chainer.iterators.SerialIterator(train, batchsize, order_sampler=EpochShuffler(args.seed))
    test_iter = chainer.iterators.SerialIterator(test, batchsize, repeat=False, shuffle=False)
    updater = training.updaters.StandardUpdater(train_iter, optimizer, device=device)
    trainer = training.Trainer(updater, (args.epoch, "epoch"), out=args.out)

    trainer.extend(stop_on_divergence)
    trainer.extend(ExampleWeightedEvaluator(test_iter, model, device=device, comm=comm), call_before_training=True)
    if writer:
        trainer.extend(extensions.snapshot(filename=SNAPSHOT_PREFIX + "{.updater.epoch}"), trigger=(1, "epoch"))
        trainer.extend(extensions.LogReport(), call_before_training=True)
        for keys, file_name in plots:
            trainer.extend(extensions.PlotReport(keys, "epoch", file_name=file_name,
                                                 postprocess=_save_figure_atomically), call_before_training=True)
        trainer.extend(extensions.PrintReport(["epoch"] + report_keys + ["elapsed_time"]), call_before_training=True)
        if sys.stdout.isatty():  # in a log or under make's --output-sync its redraws are noise
            trainer.extend(extensions.ProgressBar())
    resume = args.resume or (args.autoload and writer and latest_snapshot(args.out))
    if comm is not None:  # rank 0 decides (after removing snapshots of other settings); all load the same
        resume = comm.mpi_comm.bcast(resume, root=0)
    if resume:
        try:
            load_npz(resume, trainer)
        except (OSError, ValueError, KeyError) as error:
            fail("cannot resume from {}: {}".format(resume, " ".join(str(error).split())))
    return trainer


def run(trainer):
    """trainer.run(), turning divergence into a one-line error; nothing is written after a failure.

    Zero epochs (--epoch 0) skips training, so the initial model itself can be saved and inspected.
    """
    if trainer.stop_trigger.period == 0:
        return
    try:
        trainer.run(show_loop_exception_msg=False)
    except DivergenceError as error:
        fail(str(error))


def save_model(out, model, info):
    """Weights as model.npz and what is needed to rebuild and feed the model as model.json."""
    with atomic_path(os.path.join(out, MODEL_FILE)) as temporary:
        chainer.serializers.save_npz(temporary, model)
    save_json(os.path.join(out, MODEL_INFO), info)


def load_model_info(directory):
    path = os.path.join(directory, MODEL_INFO)
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no {} (train a model there first)".format(directory, MODEL_INFO))
    return load_json(path)


def json_safe(obj):
    return json.loads(json.dumps(obj, default=str))


def check_npz_matches(path, link):
    """Refuse a weights file whose arrays are missing or shaped differently from ``link``'s."""
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no such weights file".format(path))
    try:
        with np.load(path, allow_pickle=False) as stored:
            shapes = {name: stored[name].shape for name in stored.files}
    except (OSError, ValueError) as error:
        raise ValueError("{}: not a weights file ({})".format(path, error))
    for name, param in sorted(link.namedparams()):
        key = name.lstrip("/")
        if key not in shapes:
            raise ValueError("{}: has no weights for {}".format(path, key))
        if shapes[key] != param.shape:
            raise ValueError("{}: {} has shape {}, expected {}".format(path, key, shapes[key], param.shape))


def load_weights(path, link, manifest=None):
    """Load ``path`` into ``link``; with a data-set manifest, also refuse weights trained on features
    made with other front-end parameters (model.json beside the weights says which)."""
    check_npz_matches(path, link)
    if manifest is not None:
        info = load_model_info(os.path.dirname(path) or ".")
        check_params(FeatureParams.from_dict(info["feature_params"]), FeatureParams.from_dict(manifest["params"]),
                     "{} (trained on other features than the data set)".format(path))
    load_npz(path, link)
    return link


AUTOENCODER_KINDS = ("greedy_stack", "deep_autoencoder", "vae")


def load_autoencoder(directory, manifest=None):
    """``(model, info)``: the GreedyStack, DeepAutoencoder or VAE saved in ``directory`` (its model.json
    says which); with a data-set manifest, refused when trained on other features (see load_weights)."""
    from specae import vae  # models and vae do not need this module
    from specae.models import DeepAutoencoder, GreedyStack
    info = load_model_info(directory)
    if info.get("kind") == "greedy_stack":
        model = GreedyStack(info["n_layers"], input_size=info["input_size"], channels=info["channels"])
    elif info.get("kind") == "deep_autoencoder":
        model = DeepAutoencoder(input_size=info["input_size"], channels=info["channels"], slope=info.get("slope", 0.2))
    elif info.get("kind") == "vae":
        model = vae.build(info)
    else:
        raise ValueError("{}: holds a {!r} model, not one of the autoencoders {}".format(
            directory, info.get("kind"), ", ".join(AUTOENCODER_KINDS)))
    load_weights(os.path.join(directory, MODEL_FILE), model, manifest)
    return model, info


def add_features_to_info(info, manifest):
    """What a model directory must carry so that inference uses the training front end."""
    info = dict(info)
    info["feature_params"] = manifest["params"]
    info["dataset"] = {"split": manifest["split"], "seed": manifest["seed"],
                       "train_speakers": len(manifest["train"]["speakers"]),
                       "test_speakers": len(manifest["test"]["speakers"])}
    return info


CLASSIFIER_REPORT = ["main/loss", "validation/main/loss", "main/accuracy", "validation/main/accuracy"]
CLASSIFIER_PLOTS = [(["main/loss", "validation/main/loss"], "loss.png"),
                    (["main/accuracy", "validation/main/accuracy"], "accuracy.png")]


def train_classifier(model, args, device, arrays, manifest, info):
    """Train an L.Classifier on DataSet's train split, validate on its test split, save the model."""
    train = chainer.datasets.TupleDataset(arrays["train_data"], arrays["train_label"])
    test = chainer.datasets.TupleDataset(arrays["test_data"], arrays["test_label"])
    trainer = make_trainer(model, train, test, args, device, CLASSIFIER_REPORT, CLASSIFIER_PLOTS)
    run(trainer)
    if not is_writer(communicator(args)):
        return
    model.to_cpu()
    info = dict(info, epochs=args.epoch, seed=args.seed, classes=list(range(10)))
    save_model(args.out, model.predictor, add_features_to_info(info, manifest))
    print("saved {}".format(os.path.join(args.out, MODEL_FILE)))
