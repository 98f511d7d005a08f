"""Apply a trained classifier to audio files with the front end it was trained with."""
import glob
import os

import chainer
import chainer.functions as F
import numpy as np

from specae import augment, checkpoints, errors, features
from specae.files import list_audio_files
from specae.features import FeatureParams
from specae.models import CHANNELS, CNN

# The first member of the recogniser, the one an error names when none is trained: the 3-CNN from random
# weights, the recogniser alone until 07649c9 (single runs could not rank the models, docs/human.md).
DEFAULT_MODEL = os.path.join("result", "classifier_3cnn", "seed1")
# The recogniser: every model make classify trains, every seed of each, averaged: the 3-CNN from scratch, the
# pretrained 3-CNN, the 2-CNN and the 3-CNN whose last feature map is max-pooled over pairs of frequency rows.
# They learn different features (from labels alone, from the autoencoders' reconstructions, with one layer
# less, blind to a shift of one mel band), so they err on different recordings. Over six data-set draws with
# six seeds of each (docs/human.md, section 2), three seeds of each of the first three read 90.1 % on FSDD
# and 99.12 % on held-out espeak voices in the 4 test-time views (89.9 and 99.05 % in the 12 views of before),
# the held-out figure higher with every draw than the two 3-CNNs'; the 2-CNN alone reads 87.4 and 99.0 %: the
# weakest on people, the strongest on synthetic voices it has not heard. The frequency-pooled 3-CNN as a
# fourth: 90.59 and 99.20 %, higher on both with every draw (alone 89.9 and 98.9 %, no better than the 3-CNN).
DEFAULT_ENSEMBLE = (os.path.dirname(DEFAULT_MODEL), os.path.join("result", "classifier_pretrained"),
                    os.path.join("result", "classifier_2cnn"), os.path.join("result", "classifier_3cnn_freqpool"))
# How the command lines' help names that default (predict.py, evaluate.py, examples/separation).
DEFAULT_ENSEMBLE_HELP = "every seed of {} and of {}, averaged".format(", of ".join(DEFAULT_ENSEMBLE[:-1]),
                                                                   DEFAULT_ENSEMBLE[-1])


def default_models():
    """What predict.py and evaluate.py use without --model: every seed of each model that make classify
    trained (DEFAULT_ENSEMBLE), as one ensemble; DEFAULT_MODEL when there is none, so that the error names it."""
    seeds = [path for folder in DEFAULT_ENSEMBLE
             for path in sorted(glob.glob(os.path.join(folder, "seed*", checkpoints.MODEL_FILE)))]
    return [os.path.dirname(path) for path in seeds] or [DEFAULT_MODEL]


class ModelError(Exception):
    pass


def load_classifier(directory):
    """Return ``(cnn, feature_params)`` from a directory written by cnn_classifier1/2.py."""
    try:
        info = checkpoints.load_model_info(directory)
    except FileNotFoundError as error:
        raise ModelError("{} (make classify trains the default model)".format(error))
    if info.get("kind") != "cnn":
        raise ModelError("{}: holds a {!r} model, not a digit classifier".format(directory, info.get("kind")))
    cnn = CNN(info["n_layers"], input_size=info["input_size"], channels=info.get("channels", CHANNELS),
              frequency_pool=info.get("frequency_pool", 1), dropout=info.get("dropout", 0.0))
    try:
        checkpoints.load_weights(os.path.join(directory, checkpoints.MODEL_FILE), cnn)
    except (FileNotFoundError, ValueError) as error:
        raise ModelError(str(error))
    return cnn, FeatureParams.from_dict(info["feature_params"])


def ensemble_members(directory):
    """The classifier folders a directory stands for: itself, or, for a folder without a model of its own
    that holds member1, member2, ... (an ensemble adapted by examples/human/adapt.py), those in order."""
    if os.path.exists(os.path.join(directory, checkpoints.MODEL_INFO)):
        return [directory]
    members = glob.glob(os.path.join(directory, "member*", checkpoints.MODEL_INFO))
    numbered = [(os.path.basename(os.path.dirname(path))[len("member"):], os.path.dirname(path)) for path in members]
    return [folder for number, folder in sorted((int(n), f) for n, f in numbered if n.isdigit())] or [directory]


def load_classifiers(directories):
    """``(cnns, feature_params)`` for one or more classifier directories, to be averaged as an ensemble
    (e.g. the seeds of one model; a folder of members counts as its members); they must share one front end."""
    directories = [member for directory in directories for member in ensemble_members(directory)]
    loaded = [load_classifier(directory) for directory in directories]
    first_params = loaded[0][1]
    for directory, (_, params) in zip(directories[1:], loaded[1:]):
        differing = params.mismatch(first_params)
        if differing:
            raise ModelError("{}: trained with other feature parameters than {} ({}); an ensemble needs one "
                             "front end".format(directory, directories[0], ", ".join(differing)))
    return [cnn for cnn, _ in loaded], first_params


# Test-time variations (predict.py and evaluate.py unless --no-tta; docs/human.md, section 2): each image is
# also scored as the training variations might have drawn its word, stretched to 24, 32 and 40 frames (the
# ends and middle of VARY_LENGTH_FRAMES): 4 views, their probabilities averaged; a person's vowel length then
# matters less. The bands warped by 0.92 and 1.08 as well (12 views, the default from 9551caa to 529fc15)
# helped models trained towards one-hot targets; for the recogniser of today (three models, smoothed
# targets) they cost both columns, over six data-set draws of docs/human.md: FSDD 89.92 against 90.10 %,
# the held-out espeak voices 99.05 against 99.12 % (lower on every draw). The warps stay a parameter.
TEST_WARPS = (1.0,)
TEST_WORD_FRAMES = (None, 24, 32, 40)   # None: the word as it was recorded


def add_test_time_option(parser, without="score each recording as it is"):
    """``--no-tta``: ``args.test_time_variations`` False; ``without`` says what the script then does."""
    parser.add_argument("--no-tta", dest="test_time_variations", action="store_false",
                        help="{}, without the test-time variations (by default the answers are averaged over "
                             "{} views of each recording: the word as recorded and stretched to other lengths)".format(
                                 without, len(TEST_WARPS) * len(TEST_WORD_FRAMES)))


def test_time_views(images, warps=TEST_WARPS, word_frames=TEST_WORD_FRAMES):
    """The views of ``images`` (N, n_mels, n_frames) that ``probabilities(..., test_time_variations=True)``
    averages: every length of ``word_frames`` (None: as recorded) with every warp of ``warps``, in that
    order (the images as they are first, with the defaults)."""
    for frames in word_frames:
        stretched = images if frames is None else augment.stretch_words(images, frames)
        for warp in warps:
            yield stretched if warp == 1.0 else augment.warp_frequency(stretched, warp)


def probabilities(cnns, images, batchsize=256, test_time_variations=False, warps=TEST_WARPS,
                  word_frames=TEST_WORD_FRAMES):
    """Softmax outputs (N, 10) for images (N, n_mels, n_frames); for a list of CNNs, the mean of theirs,
    and with ``test_time_variations`` the mean over the views of ``test_time_views`` too (``warps`` ×
    ``word_frames``: the default's 12 unless a probe asks for others)."""
    if not isinstance(cnns, (list, tuple)):
        cnns = [cnns]
    outputs = []
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for start in range(0, len(images), batchsize):
            batch = np.asarray(images[start:start + batchsize], dtype=np.float32)
            views = test_time_views(batch, warps, word_frames) if test_time_variations else [batch]
            outputs.append(np.mean([F.softmax(cnn(view[:, np.newaxis])).array for view in views for cnn in cnns],
                                   axis=0))
    return np.concatenate(outputs) if outputs else np.zeros((0, 10), np.float32)


def balance_priors(probabilities, iterations=50):
    """Rescale the columns of ``probabilities`` (N, 10) so each sums to N/10, rows renormalised to 1:
    decisions over a batch of recordings in which every digit is taken to be equally frequent
    (Sinkhorn–Knopp scaling of the N×10 matrix towards uniform column sums; Saerens et al. 2002 do the
    same by EM with an unknown prior). Transductive: no label is read, but the batch's prior is assumed.

    The result is ``probabilities`` times one weight per digit, each row then renormalised: the same
    correction of the prior for every recording, so a decision changes only where the bias decided it."""
    scaled = np.asarray(probabilities, dtype=np.float64) + 1e-12
    target = len(scaled) / scaled.shape[1]
    for _ in range(iterations):
        scaled *= target / scaled.sum(axis=0, keepdims=True)
        scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled.astype(np.float32)


def classify_files(paths, cnns, params, jobs=1, test_time_variations=False):
    """``(usable, skipped)``: usable is [(path, probabilities)], skipped is [(path, reason)]; ``cnns`` is
    one CNN or a list whose probabilities are averaged (over the test-time views too, if asked)."""
    usable_paths, images, skipped = usable_images(paths, params, jobs)
    return list(zip(usable_paths, probabilities(cnns, images, test_time_variations=test_time_variations))), skipped


def usable_images(paths, params, jobs=1):
    """``(usable_paths, images, skipped)``: the front-end image of every file that can be used, and
    ``(path, reason)`` for every one that cannot."""
    usable_paths, images, skipped = [], [], []
    for path, image, info in features.images_from_files(paths, params, jobs=jobs):
        if image is None:
            skipped.append((path, info))
        else:
            usable_paths.append(path)
            images.append(image)
    return usable_paths, images, skipped


def recording_images(paths, params, jobs):
    """The front-end images (N × 1 × H × W) and paths of every usable audio file in ``paths`` (files or
    folders, searched for *.wav); unusable files are named on stderr, and none usable is a one-line error.
    No file name is parsed: labelled or not, any WAV is taken as audio only."""
    usable_paths, images, skipped = usable_images(list_audio_files(paths), params, jobs)
    errors.report_skipped(skipped)
    if not images:
        errors.fail("no usable WAV file in {}".format(" ".join(paths)))
    return usable_paths, np.stack(images)[:, np.newaxis]

