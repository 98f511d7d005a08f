"""The Trainer of every training script: optimizer, seeded iterators, evaluator, log, prints, plots,
snapshots, resuming, and a one-line error when training diverges."""
import hashlib
import sys

import chainer
import numpy as np
from chainer import training
from chainer.training import extensions

from specae import allocator, flat_adam, onednn
from specae.checkpoints import SNAPSHOT_PREFIX, latest_snapshot, load_npz, prepare_output
from specae.distributed import communicator, is_writer, shard
from specae.errors import fail
from specae.files import atomic_path


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


class WithoutScreenErase:
    """A stream that drops the ESC[J (erase to the end of the screen) that Chainer's PrintReport writes
    before each line to clear a ProgressBar: on a terminal it is invisible, in a log it is noise."""

    ERASE = "\033[J"

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(text.replace(self.ERASE, ""))

    def flush(self):
        self.stream.flush()


def _save_figure_atomically(figure, axes, summary):
    """PlotReport's postprocess hook, called just before it saves its figure in place: make that save go to a
    temporary file renamed into place, so that a kill never leaves a half-written PNG."""
    def savefig(path, **kwargs):
        with atomic_path(path) as temporary:
            type(figure).savefig(figure, temporary, **kwargs)
    figure.savefig = savefig


def make_trainer(model, train, test, args, device, report_keys, plots, optimizer=None, frozen=(), more=(),
                 converter=None):
    """Adam (or ``optimizer``), a seeded iterator, and the usual extensions: evaluator, log, prints,
    plots, snapshots. The links in ``frozen`` start with their updates disabled (``link.disable_update()``),
    already while a snapshot is loaded, since a frozen layer's optimizer state is not in it; an extension
    may release them. ``more`` are further extensions, added before a snapshot is loaded so that their
    state is restored with the trainer's. ``converter`` makes the training batches (default
    ``onednn.concat_examples``, which the evaluator uses).

    Seed (seed_everything) before building ``model``: its initial weights come from the global generator.
    With ``--communicator`` (ChainerMN), every process trains on its part of ``train`` with its part of
    the batch, the gradients are averaged over the processes (so a step is the one-process step on the
    same examples), the test set is evaluated in parts and summed, and only rank 0 writes and prints.
    """
    allocator.keep_freed_memory()  # the step's arrays from pages already touched (specae/allocator.py)
    comm = communicator(args)
    batchsize = args.batchsize
    model.to_device(device)
    optimizer = optimizer or flat_adam.FlatAdam()  # chainer's Adam, bit for bit, in fewer numpy calls
    if comm is not None:
        import chainermn
        if args.batchsize % comm.size:
            fail("--batchsize {} cannot be split evenly over {} processes".format(args.batchsize, comm.size))
        batchsize = args.batchsize // comm.size
        train, test = shard(train, comm, shuffle=True, seed=args.seed), shard(test, comm, shuffle=False, seed=None)
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(model)
    for link in frozen:
        link.disable_update()
    if comm is not None:
        # Every process starts from rank 0's weights. ChainerMN would broadcast them at the first
        # update instead of updating (a step lost); done here, the first update is a real one.
        comm.bcast_data(model)
        optimizer.is_changed(model)
    writer = is_writer(comm)
    if writer:
        prepare_output(args.out, args)
        for line in (onednn.fallback_line(), onednn.precision_line()):
            if device.xp is np and line:
                print(line, flush=True)

    train_iter = chainer.iterators.SerialIterator(train, batchsize, order_sampler=EpochShuffler(args.seed))
    test_iter = chainer.iterators.SerialIterator(test, batchsize, repeat=False, shuffle=False)
    # Batches of cached features come channels-last, as the convolutions want them (specae.onednn).
    updater = training.updaters.StandardUpdater(train_iter, optimizer, converter=converter or onednn.concat_examples,
                                                device=device)
    # --iterations (classifier_training.add_label_subset_options): a fixed number of updates, evaluated and
    # logged once at the end; on a subset of ten clips an epoch is one step, and per-epoch evaluation,
    # snapshots and plots would cost far more than the training.
    iterations = getattr(args, "training_iterations", None)
    stop = (iterations, "iteration") if iterations else (args.epoch, "epoch")
    per_epoch = not iterations
    trainer = training.Trainer(updater, stop, out=args.out)

    trainer.extend(stop_on_divergence)
    trainer.extend(ExampleWeightedEvaluator(test_iter, model, converter=onednn.concat_examples, device=device,
                                            comm=comm), trigger=stop if iterations else (1, "epoch"),
                   call_before_training=per_epoch)
    if writer:
        if per_epoch:
            trainer.extend(extensions.snapshot(filename=SNAPSHOT_PREFIX + "{.updater.epoch}"), trigger=(1, "epoch"))
        trainer.extend(extensions.LogReport(trigger=stop if iterations else (1, "epoch")),
                       call_before_training=per_epoch)
        for keys, file_name in plots if per_epoch else ():
            trainer.extend(extensions.PlotReport(keys, "epoch", file_name=file_name,
                                                 postprocess=_save_figure_atomically), call_before_training=True)
        out = sys.stdout if sys.stdout.isatty() else WithoutScreenErase(sys.stdout)
        trainer.extend(extensions.PrintReport(["epoch"] + (["iteration"] if iterations else []) + report_keys +
                                              ["elapsed_time"], out=out),
                       call_before_training=per_epoch)
        if sys.stdout.isatty():  # in a log or under make's --output-sync its redraws are noise
            trainer.extend(extensions.ProgressBar())
    for extension in more:
        trainer.extend(extension)
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
        # bfloat16 convolutions where oneDNN has AMX kernels (specae.onednn), for the training alone; numpy's
        # BLAS on one thread beside oneDNN's (onednn.blas_on_one_thread)
        with chainer.using_config('specae_onednn_bf16', onednn.bf16_for_training()), onednn.blas_on_one_thread():
            trainer.run(show_loop_exception_msg=False)
    except DivergenceError as error:
        fail(str(error))
