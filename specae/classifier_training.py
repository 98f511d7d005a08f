"""Training a digit classifier (cnn_classifier1.py, cnn_classifier2.py): its head option, the model, and
the run on DataSet's train split validated on its test split."""
import os

import chainer

from specae.checkpoints import MODEL_FILE, add_features_to_info, save_model
from specae.distributed import communicator, is_writer
from specae.errors import fail
from specae.models import classifier
from specae.trainer_setup import make_trainer, run


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
