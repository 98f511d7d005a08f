"""DataSet/: train and test arrays with a manifest, and the speaker-disjoint split."""
import itertools
import math
import multiprocessing
import os

import numpy as np

from specae import augment
from specae.audio import load_audio
from specae.features import FeatureParams, image_from_samples
from specae.files import load_json, load_npy, remove_stale_temporaries, save_json, save_npy, save_npy_rows

SPLITS = ("speaker", "random")
ARRAYS = ("train_data", "train_label", "test_data", "test_label")
MANIFEST = "manifest.json"


def split_indices(speakers, split, test_ratio, seed, test_speakers=None):
    """Indices of the train and test examples.

    ``split="speaker"`` puts every example of a speaker on one side, so the test set measures voices
    the model has never heard; ``"random"`` is the original's split by example. ``test_speakers``
    names the test voices of a speaker split instead of drawing them (e.g. one fold of
    leave-one-speaker-out); ``test_ratio`` and ``seed`` then play no part.
    """
    if split not in SPLITS:
        raise ValueError("split must be one of {}, not {!r}".format(SPLITS, split))
    if not 0.0 < test_ratio < 1.0:
        raise ValueError("test ratio must be between 0 and 1, not {}".format(test_ratio))
    rng = np.random.default_rng(seed)
    speakers = np.asarray(speakers)
    if split == "random":
        order = rng.permutation(len(speakers))
        n_test = max(1, int(round(test_ratio * len(speakers))))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    voices = np.unique(speakers)
    if len(voices) < 2:
        raise ValueError("a speaker-disjoint split needs at least 2 speakers, found {}".format(len(voices)))
    if test_speakers:
        unknown = sorted(set(test_speakers) - set(voices.tolist()))
        if unknown:
            raise ValueError("no examples of test speaker(s) {}".format(", ".join(unknown)))
        if len(set(test_speakers)) == len(voices):
            raise ValueError("every speaker is a test speaker: nothing is left to train on")
        test_voices = list(test_speakers)
    else:
        n_test = min(len(voices) - 1, max(1, int(math.ceil(test_ratio * len(voices)))))
        test_voices = rng.permutation(voices)[:n_test]
    is_test = np.isin(speakers, test_voices)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def labelled_subset(labels, per_class, seed, originals=None):
    """Rows of a class-balanced labelled subset of a training split: ``per_class`` clips of each class, drawn
    with ``seed`` among the first ``originals`` rows (the clips themselves; default all rows), plus every
    degraded copy of them that make_dataset.py appended after the clips (copy k of row i is row
    i + k * originals, as `augmented_copies` tiles them): a labelled clip brings its copies along.

    For one seed the subsets are nested: the clips drawn for n are among those drawn for any larger n.
    Raises ValueError when a class has fewer than ``per_class`` clips or the copies do not follow the clips.
    """
    labels = np.asarray(labels)
    originals = len(labels) if originals is None else int(originals)
    if per_class < 1:
        raise ValueError("the labelled clips per class must be at least 1, not {}".format(per_class))
    if originals < 1 or len(labels) % originals:
        raise ValueError("{} training rows are not whole copies of {} clips".format(len(labels), originals))
    copies = len(labels) // originals
    clip_labels = labels[:originals]
    if any(np.any(labels[k * originals:(k + 1) * originals] != clip_labels) for k in range(1, copies)):
        raise ValueError("the degraded copies of the training split do not follow its clips in order")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(clip_labels):
        rows = np.flatnonzero(clip_labels == label)
        if per_class > len(rows):
            raise ValueError("class {} has {} training clips, fewer than the {} asked for".format(
                label, len(rows), per_class))
        chosen.append(rng.permutation(rows)[:per_class])
    chosen = np.sort(np.concatenate(chosen))
    return np.concatenate([chosen + k * originals for k in range(copies)])


def write_dataset(out_dir, images, labels, entries, params, split, test_ratio, seed, augment_copies=0, jobs=1,
                  pitch_semitones=0.0, test_speakers=None):
    """Write the four arrays and the manifest (last, so its presence means the set is complete).

    With ``augment_copies`` > 0 the training side also gets that many degraded copies of each of its
    examples (appended after the originals; ``pitch_semitones`` see `augmented_copies`); the test side
    is never augmented.
    """
    speakers = [entry["speaker"] for entry in entries]
    if test_speakers and split != "speaker":
        raise ValueError("test speakers can only be named for a split by speaker")
    train, test = split_indices(speakers, split, test_ratio, seed, test_speakers)
    remove_stale_temporaries(out_dir)  # left by a run that was killed
    if os.path.exists(os.path.join(out_dir, MANIFEST)):  # until the new one is written, the set is incomplete
        os.remove(os.path.join(out_dir, MANIFEST))
    sides = {}
    for side, indices in (("train", train), ("test", test)):
        # Row by row from ``images`` (an array, or a sequence that reads each image on demand such
        # as make_dataset.py's): the data set is never held in memory as a whole.
        rows, count, data_labels = (images[i] for i in indices), len(indices), labels[indices]
        if side == "train" and augment_copies > 0:
            extra, sources = augmented_copies(entries, indices, params, augment_copies, seed, jobs,
                                              pitch_semitones)
            rows, count = itertools.chain(rows, extra), count + len(sources)
            data_labels = np.concatenate([data_labels, labels[sources]])
        save_npy_rows(os.path.join(out_dir, side + "_data.npy"), rows, count, images.shape[1:], images.dtype)
        save_npy(os.path.join(out_dir, side + "_label.npy"), data_labels.astype(np.int32))
        sides[side] = {
            "count": int(count),
            "speakers": sorted({speakers[i] for i in indices}),
            "files": [entries[i] for i in indices],
        }
    save_json(os.path.join(out_dir, MANIFEST), {
        "params": params.to_dict(), "split": split, "test_ratio": test_ratio, "seed": seed,
        "augment_copies": augment_copies, "pitch_semitones": pitch_semitones,
        "shape": list(images.shape[1:]), "train": sides["train"], "test": sides["test"]})
    return sides


class DataSetError(Exception):
    """A DataSet directory that is missing, incomplete or made with other feature parameters."""


def load_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        raise DataSetError("{}: no {} (build it with make_dataset.py)".format(directory, MANIFEST))
    try:
        return load_json(path)
    except (OSError, ValueError) as error:
        raise DataSetError("{}: cannot be read ({})".format(path, " ".join(str(error).split())))


def check_params(params, expected, what):
    """Refuse features made with other front-end parameters than ``expected``."""
    differing = params.mismatch(expected)
    if differing:
        details = ", ".join("{}={!r} (expected {!r})".format(name, getattr(params, name), getattr(expected, name))
                            for name in differing)
        raise DataSetError("{} was made with other feature parameters: {}".format(what, details))


def load_dataset(directory, expected_params=None, mmap=False):
    """Return ``(arrays, manifest)``; arrays maps train_data/train_label/test_data/test_label."""
    manifest = load_manifest(directory)
    if expected_params is not None:
        check_params(FeatureParams.from_dict(manifest["params"]), expected_params, directory)
    arrays = {}
    for name in ARRAYS:
        path = os.path.join(directory, name + ".npy")
        if not os.path.exists(path):
            raise DataSetError("{}: {} is missing".format(directory, name + ".npy"))
        try:  # without pickle: an array file never runs code when it is loaded
            # A plain ndarray view of the map: indexing a np.memmap row by row is several times slower.
            arrays[name] = np.asarray(load_npy(path, mmap_mode="r" if mmap else None))
        except (OSError, ValueError, EOFError) as error:
            raise DataSetError("{}: not a plain numeric array ({})".format(path, " ".join(str(error).split())))
        kinds, dims = ("f", 4) if name.endswith("_data") else ("iu", 1)
        if arrays[name].dtype.kind not in kinds or arrays[name].ndim != dims:
            raise DataSetError("{}: holds {} of shape {}, expected {} with {} dimensions".format(
                path, arrays[name].dtype, arrays[name].shape, "floats" if kinds == "f" else "integers", dims))
    for side in ("train", "test"):
        if len(arrays[side + "_data"]) != len(arrays[side + "_label"]):
            raise DataSetError("{}: {} examples but {} labels in the {} split".format(
                directory, len(arrays[side + "_data"]), len(arrays[side + "_label"]), side))
    return arrays, manifest


BABBLE_POOL = 64


def _augmented_image(job):
    wav, params, seed, index, copy, babble, pitch_semitones = job
    rng = np.random.default_rng([seed, index, copy])
    samples = augment.degrade(load_audio(wav, params.sample_rate_hz), params.sample_rate_hz, rng, babble,
                              pitch_semitones)
    image, _ = image_from_samples(samples, params)
    image = augment.warp_frequency(image, rng.uniform(0.85, 1.15))
    return augment.mask(image, rng) if rng.random() < 0.5 else image


def augmented_copies(entries, indices, params, copies, seed, jobs=1, pitch_semitones=0.0):
    """``copies`` degraded versions of each listed example: speed, EQ, reverb, noise (babble made from
    other listed examples only), telephone and, with ``pitch_semitones``, a formant-preserving pitch
    shift on the waveform, then a vocal-tract-length warp and sometimes a SpecAugment mask on the image.
    Deterministic for a seed. Returns ``(images, indices)``: images is an iterator of (1, H, W) arrays
    made as they are consumed (never all in memory), indices the example each copy comes from."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(indices, size=min(BABBLE_POOL, len(indices)), replace=False)
    babble = [load_audio(entries[i]["wav"], params.sample_rate_hz) for i in pool]
    work = [(entries[i]["wav"], params, seed, int(i), copy, babble, pitch_semitones)
            for copy in range(copies) for i in indices]

    def images():
        if jobs > 1:
            with multiprocessing.get_context("fork").Pool(jobs) as workers:
                for image in workers.imap(_augmented_image, work, chunksize=32):
                    yield image[np.newaxis]
        else:
            for job in work:
                yield _augmented_image(job)[np.newaxis]
    return images(), np.tile(np.asarray(indices), copies)
