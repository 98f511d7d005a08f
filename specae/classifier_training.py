"""Training a digit classifier (cnn_classifier1.py, cnn_classifier2.py): its head option, the model, and
the run on DataSet's train split validated on its test split."""
import argparse
import os

import chainer
import numpy as np

from specae import augment, features, onednn
from specae.checkpoints import MODEL_FILE, add_features_to_info, save_model
from specae.dataset import labelled_subset
from specae.distributed import communicator, is_writer
from specae.errors import fail
from specae.models import CHANNELS, N_CLASSES, classifier
from specae.trainer_setup import make_trainer, run
from specae.weight_averaging import WeightAveraging


def add_frequency_pool_option(parser):
    parser.add_argument("--frequency-pool", type=int, default=1, metavar="ROWS",
                        help="max-pool the last feature map over this many neighbouring frequency rows before the "
                             "fully connected layer (1: none), for invariance to small formant shifts")


def channel_counts(text):
    """--channels: filters per convolution, comma-separated whole numbers of at least 1 ("32,64,64")."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("expected filters per layer such as 16,32,32, not {!r}".format(text))
    return counts


def add_channels_option(parser):
    parser.add_argument("--channels", type=channel_counts, default=CHANNELS, metavar="N,N[,N]",
                        help="filters of each convolution (default {}: the original's)".format(
                            ",".join(map(str, CHANNELS))))


# 0.5, where the original had none: over three draws of the data set (make_dataset.py --seed 0, 1, 2) and
# six classifier seeds each, the 3-CNN's ensembles of three read 88.7 % on FSDD's people instead of 87.8
# (higher on every draw) for 0.3 points on held-out espeak voices (docs/human.md, section 2).
DROPOUT = 0.5
DROPOUT_STREAM = 7  # a constant of the masks' seed, so they share no stream with the image variations


def add_dropout_option(parser):
    parser.add_argument("--dropout", type=float, default=DROPOUT, metavar="RATE",
                        help="drop this fraction of the fully connected layer's inputs while training (default "
                             "{}; 0: none, as the original)".format(DROPOUT))


# 0.2, where the original trained towards one-hot targets: over three draws of the data set (make_dataset.py
# --seed 0, 3, 4) and six seeds of each 3-CNN, the recogniser's ensembles (three seeds of the 3-CNN and three
# of the pretrained 3-CNN) read 90.0 % on FSDD's people instead of 89.5 and 98.9 % on held-out espeak voices
# instead of 98.8; 0.1 gave 89.8 and 98.9 (docs/human.md, section 2): a network less sure of the synthetic
# voices it trains on.
LABEL_SMOOTHING = 0.2


def add_label_smoothing_option(parser):
    parser.add_argument("--label-smoothing", type=float, default=LABEL_SMOOTHING, metavar="EPS",
                        help="train towards targets that spread EPS of their weight over all ten digits (default "
                             "{}; 0: the one-hot targets of the original). The test loss stays the plain "
                             "cross-entropy".format(LABEL_SMOOTHING))


def labels_per_class(text):
    """--labels-per-class: a whole number of at least 1, or "all"."""
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number of at least 1 or 'all', not {!r}".format(text))
    return value


def add_label_subset_options(parser):
    """Training on a few labels (examples/curve): a class-balanced subset of the training split and a fixed
    number of updates, so that runs on 10 clips and on 6000 take the same number of steps."""
    parser.add_argument("--labels-per-class", type=labels_per_class, default=None, metavar="N",
                        help="train on N labelled clips of each digit (with their degraded copies), drawn with "
                             "--subset-seed; 'all' (default): the whole training split")
    parser.add_argument("--subset-seed", type=int, default=0, help="seed of the --labels-per-class draw")
    # dest: other scripts' --iterations mean something else (Griffin-Lim in vae.py); make_trainer reads this one
    parser.add_argument("--iterations", dest="training_iterations", type=int, default=None, metavar="K",
                        help="train for K updates instead of --epoch sweeps, evaluating and logging once at the "
                             "end (no snapshots or plots: each epoch of a small subset is only a step or two)")


def add_variation_option(parser):
    # On by default: +8 points on human speech (FSDD) at no cost on held-out synthetic voices, and +5.5 more
    # since the stricter trim and the noise floor joined (docs/human.md).
    parser.add_argument("--vary-images", action=argparse.BooleanOptionalAction, default=True,
                        help="draw a fresh random variation of every training image at each epoch (a stricter trim, "
                             "a recording's noise floor, time shift and stretch, vocal-tract warp, band and frame "
                             "masks), besides make_dataset.py's fixed copies (default: on; --no-vary-images trains "
                             "on the images as they are)")


def add_weight_averaging_option(parser):
    parser.add_argument("--average-from", type=float, default=None, metavar="EPOCH",
                        help="train on as usual, but end with the mean of the weights of every update after this "
                             "many epochs (stochastic weight averaging; specae/weight_averaging.py; default: off, "
                             "the last update's weights)")


# A fresh fully connected layer on pretrained features trains alone this many epochs before the convolutions
# join (linear probing, then fine-tuning: Kumar et al. 2022). Trained together from the first update, the
# random layer's gradients under dropout silence the pretrained features within some 30 updates: one seed
# in nine ended at 10 % (every ReLU of the last convolution dead), another 11 points low (docs/human.md).
FRESH_HEAD_EPOCHS = 1


def add_freeze_option(parser):
    parser.add_argument("--freeze-epochs", type=int, default=None, metavar="N",
                        help="keep the convolutions from --init frozen (link.disable_update()) for the first N "
                             "epochs, so that only the fully connected layer trains on top of them, then train "
                             "every layer (default: {} from autoencoder weights, whose fully connected layer is "
                             "new; 0, all layers from the start, when fine-tuning a trained classifier or with "
                             "--iterations)".format(FRESH_HEAD_EPOCHS))


def default_freeze_epochs(args, fresh_head):
    """--freeze-epochs as given, else FRESH_HEAD_EPOCHS for a new fully connected layer on pretrained
    convolutions. A run of --iterations updates keeps them all for every layer: an epoch of the full set
    there is longer than the run."""
    if args.freeze_epochs is not None:
        return args.freeze_epochs
    return FRESH_HEAD_EPOCHS if fresh_head and not getattr(args, "training_iterations", None) else 0


class FreezeConvolutions(chainer.training.Extension):
    """The convolutions stay frozen while fewer than ``epochs`` sweeps are done, then train with the rest.
    Set when the run starts (after a resume too) and at the end of every sweep, so the first update of
    the sweep ``epochs`` is the first that moves them."""
    trigger = (1, "epoch")

    def __init__(self, cnn, epochs):
        self.cnn, self.epochs = cnn, epochs

    def initialize(self, trainer):
        self(trainer)

    def __call__(self, trainer):
        for conv in self.cnn.convs:
            if trainer.updater.epoch < self.epochs:
                conv.disable_update()
            else:
                conv.enable_update()


def add_mixup_option(parser):
    parser.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                        help="train on mixtures of two training images, λ·a + (1-λ)·b with λ ~ Beta(ALPHA, ALPHA), "
                             "towards the same mixture of their labels (mixup, Zhang et al. 2018; default 0: off)")


class VariedImages(chainer.dataset.DatasetMixin):
    """Training pairs with `augment.vary_image` applied as each is read. Example i read in sweep e draws from
    the generator seeded with (seed, e, i), where ``sweep()`` is the training iterator's epoch: the trainer's
    snapshot holds it, so a resumed run draws exactly what the uninterrupted one would have drawn.
    With ``mixup_alpha`` > 0 the same generator also draws a partner example and a weight λ ~ Beta(α, α):
    the pair's image is the mixture of the two (each varied, when ``vary``) and its label the (10,) mixture
    of their one-hot labels. ``vary=False`` keeps the images as they are."""

    def __init__(self, data, labels, seed, vary=True, mixup_alpha=0.0, span_db=80.0):
        self.data, self.labels, self.seed, self.span_db = data, labels, seed, span_db
        self.vary, self.mixup_alpha = vary, mixup_alpha
        self.sweep = lambda: 0
        self.deferred = False

    def __len__(self):
        return len(self.labels)

    def _image(self, i, rng):
        image = self.data[i][0]
        return augment.vary_image(image, rng, self.span_db) if self.vary else np.asarray(image, dtype=np.float32)

    def get_example(self, i):
        if self.deferred:
            return self.data[i], self.labels[i], (self.sweep(), i)
        rng = np.random.default_rng([self.seed, self.sweep(), i])
        image = self._image(i, rng)
        if not self.mixup_alpha:
            return image[np.newaxis], self.labels[i]
        partner = int(rng.integers(len(self.labels)))
        weight = float(rng.beta(self.mixup_alpha, self.mixup_alpha))
        target = np.zeros(N_CLASSES, dtype=np.float32)
        target[self.labels[i]] += weight
        target[self.labels[partner]] += 1.0 - weight
        mixed = weight * image + (1.0 - weight) * self._image(partner, rng)
        return mixed.astype(np.float32)[np.newaxis], target


def varied_batches(dataset):
    """Varies the training images a batch at a time: ``dataset`` (a VariedImages with ``vary`` and no mixup)
    hands out its images unvaried with the (sweep, index) each would have been drawn with, and the
    returned converter, the updater's, varies the batch with ``augment.vary_batch`` from the same
    generators: the same images, bit for bit, as ``get_example`` draws one by one, in a third less time."""
    if not dataset.vary or dataset.mixup_alpha:
        return onednn.concat_examples
    dataset.deferred = True

    @chainer.dataset.converter()
    def vary_and_concat(batch, device=None):
        # vary_batch stacks the images into the array it varies: one copy of the batch
        images = augment.vary_batch([image[0] for image, _, _ in batch],
                                    [np.random.default_rng([dataset.seed, sweep, i]) for _, _, (sweep, i) in batch],
                                    dataset.span_db)
        return onednn.concat_examples([(image[np.newaxis], label) for image, (_, label, _) in zip(images, batch)],
                                      device)
    return vary_and_concat


def build_classifier(args, n_layers, input_size):
    """The classifier of ``models.classifier``; a bad --frequency-pool, --label-smoothing, --dropout or
    --channels is a one-line error."""
    smoothing = getattr(args, "label_smoothing", 0.0)
    if not 0.0 <= smoothing < 1.0:
        fail("--label-smoothing must be at least 0 and below 1, not {}".format(smoothing))
    dropout = getattr(args, "dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        fail("--dropout must be at least 0 and below 1, not {}".format(dropout))
    channels = getattr(args, "channels", CHANNELS)
    if len(channels) < n_layers:
        fail("--channels names {} filter counts for {} convolutions".format(len(channels), n_layers))
    try:
        return classifier(n_layers, input_size=input_size, frequency_pool=args.frequency_pool,
                          label_smoothing=smoothing, channels=channels, dropout=dropout)
    except ValueError as error:
        fail("--frequency-pool: {}".format(error))


CLASSIFIER_REPORT = ["main/loss", "validation/main/loss", "main/accuracy", "validation/main/accuracy"]
CLASSIFIER_PLOTS = [(["main/loss", "validation/main/loss"], "loss.png"),
                    (["main/accuracy", "validation/main/accuracy"], "accuracy.png")]


def weight_averaging_extension(model, args):
    """The `WeightAveraging` of ``--average-from`` (None when it is not given); a start outside the run is a
    one-line error."""
    start = getattr(args, "average_from", None)
    if start is None:
        return None
    # With --iterations the run ends after that many updates, whatever an epoch is: no bound to check.
    if not getattr(args, "training_iterations", None) and not 0 <= start < args.epoch:
        fail("--average-from must be at least 0 and below --epoch {}, not {}".format(args.epoch, start))
    return WeightAveraging(model, start)


def train_classifier(model, args, device, arrays, manifest, info):
    """Train an L.Classifier on DataSet's train split (or its --labels-per-class subset), validate on its
    test split, save the model."""
    train_data, train_label = arrays["train_data"], arrays["train_label"]
    per_class, clips = getattr(args, "labels_per_class", None), len(manifest["train"]["files"])
    if per_class is not None:
        try:
            rows = labelled_subset(train_label, per_class, args.subset_seed, clips)
        except ValueError as error:
            fail("--labels-per-class {}: {}: {}".format(per_class, args.dataset, error))
        train_data, train_label = train_data[rows], train_label[rows]
        info = dict(info, labels_per_class=per_class, subset_seed=args.subset_seed)
    copies = max(1, len(arrays["train_label"]) // max(1, clips))  # each clip and its degraded copies
    info = dict(info, labelled_clips=len(train_label) // copies, labelled_rows=len(train_label))
    if getattr(args, "training_iterations", None):
        info = dict(info, iterations=args.training_iterations)
    vary, mixup = bool(getattr(args, "vary_images", False)), float(getattr(args, "mixup", 0.0))
    if mixup < 0:
        fail("--mixup must be 0 (off) or above, not {}".format(mixup))
    freeze_epochs = getattr(args, "freeze_epochs", None) or 0
    if freeze_epochs < 0:
        fail("--freeze-epochs must be 0 or above, not {}".format(freeze_epochs))
    if vary or mixup:
        span_db = features.level_span_db(features.FeatureParams.from_dict(manifest["params"]))
        train = VariedImages(train_data, train_label, args.seed, vary=vary, mixup_alpha=mixup, span_db=span_db)
    else:
        train = chainer.datasets.TupleDataset(train_data, train_label)
    info = dict(info, vary_images=vary, mixup=mixup, label_smoothing=float(getattr(args, "label_smoothing", 0.0)),
                dropout=model.predictor.dropout)
    test = chainer.datasets.TupleDataset(arrays["test_data"], arrays["test_label"])
    averaging = weight_averaging_extension(model, args)
    if averaging is not None:
        info = dict(info, average_from=averaging.start_epoch)
    trainer = make_trainer(model, train, test, args, device, CLASSIFIER_REPORT, CLASSIFIER_PLOTS,
                           frozen=model.predictor.convs if freeze_epochs else (),
                           more=[averaging] if averaging is not None else [],
                           converter=varied_batches(train) if isinstance(train, VariedImages) else None)
    if freeze_epochs:
        trainer.extend(FreezeConvolutions(model.predictor, freeze_epochs))
        info = dict(info, freeze_epochs=freeze_epochs)
    if isinstance(train, VariedImages):
        train.sweep = lambda: trainer.updater.get_iterator("main").epoch
    # The dropout masks of update k come from (seed, process, k): the snapshot holds k, so a resumed run
    # drops what the uninterrupted one would have. DROPOUT_STREAM keeps them apart from the seed's other uses.
    comm = communicator(args)
    rank = comm.rank if comm is not None else 0
    model.predictor.dropout_generator = lambda: np.random.default_rng(
        [args.seed, DROPOUT_STREAM, rank, trainer.updater.iteration])
    run(trainer)
    if not is_writer(communicator(args)):
        return
    model.to_cpu()
    # With --iterations the sweeps made are a fraction or many: recorded as run (e.g. 0.53 or 640.0).
    epochs = round(trainer.updater.epoch_detail, 3) if getattr(args, "training_iterations", None) else args.epoch
    info = dict(info, epochs=epochs, seed=args.seed, classes=list(range(10)))
    save_model(args.out, model.predictor, add_features_to_info(info, manifest))
    print("saved {}".format(os.path.join(args.out, MODEL_FILE)))
