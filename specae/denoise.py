"""Denoising: noisy versions of a data set's clips, made once, and how much cleaner a model makes them.

Shared, not in examples/denoise/: the core cnn_autoencoderN.py train on these pairs with --denoise.

A denoising autoencoder sees the noisy image and is trained to give the clean one. The noisy images
are made from the data set's own clips (white, pink or babble noise from other clips of the same
split, at a random SNR) and written beside it as arrays aligned row for row with ``train_data`` and
``test_data``: the noise is drawn once, not per epoch, so that every run sees the same pairs.

A noisy image uses the clean clip's voiced span. The trimming rule (frames within ``trim_db`` of the
loudest) means nothing when noise fills every frame, and the pair must stay aligned frame by frame.
On the espeak corpus the trimmed part is under one frame per clip on average, so the noisy images
are what the front end makes of the noisy clip, up to that frame.
"""
import multiprocessing
import os

import numpy as np

from specae import augment, features
from specae.audio import AudioError, load_audio
from specae.files import load_json, load_npy, save_json, save_npy

NOISY_INDEX = "noisy.json"
SIDES = ("train", "test")
BABBLE_POOL = 64


class NoisyError(Exception):
    """A noisy-data folder that is missing, incomplete or made from another data set."""


def noisy_image(samples, span_frames, params, snr_db, kind, rng, babble=()):
    """The front-end image of ``samples`` plus noise at ``snr_db``, fitted over ``span_frames``."""
    noisy = augment.add_noise(samples, snr_db, kind, rng, babble)
    image, _ = features.scale_level(features.log_mel(noisy, params), params)
    start, stop = span_frames
    fitted = features.fit_frames(image[:, start:stop], params.n_frames, params.fit)
    if params.lifter:
        fitted = features.smooth_envelope(fitted, params.lifter)
    if params.band_norm:
        fitted = features.normalise_bands(fitted)
    return np.ascontiguousarray(fitted, dtype=np.float32)


def _load(wav, rate_hz):
    try:
        return load_audio(wav, rate_hz)
    except AudioError as error:
        raise NoisyError("{}: {}".format(wav, error))


def _noisy_job(job):
    wav, span, params, seed, side, row, snr_range, kinds, babble = job
    rng = np.random.default_rng([seed, SIDES.index(side), row])
    kind = kinds[int(rng.integers(len(kinds)))]
    snr_db = float(rng.uniform(*snr_range))
    samples = _load(wav, params.sample_rate_hz)
    return noisy_image(samples, span, params, snr_db, kind, rng, babble), kind, snr_db


def make_noisy(dataset_dir, manifest, out_dir, snr_range=(0.0, 20.0), kinds=augment.NOISE_KINDS, seed=0, jobs=1,
               progress=None):
    """Write ``{side}_noisy.npy`` (N, 1, n_mels, n_frames) for both sides and ``noisy.json`` (last).

    Row ``i`` is the noisy version of the manifest's file ``i`` of that side, which is row ``i`` of
    ``{side}_data.npy`` (augmented copies, if any, come after the files and get no noisy version).
    Babble is mixed from a pool of up to 64 clips of the same side, so no training voice is heard in the
    test noise. ``progress(side, done, total)`` is called as rows are made. Returns the index.
    """
    params = features.FeatureParams.from_dict(manifest["params"])
    if os.path.exists(os.path.join(out_dir, NOISY_INDEX)):  # until the new one is written, the folder is incomplete
        os.remove(os.path.join(out_dir, NOISY_INDEX))
    index = {"dataset": os.path.abspath(dataset_dir), "params": manifest["params"], "seed": seed,
             "snr_db": [float(v) for v in snr_range], "kinds": list(kinds)}
    for side in SIDES:
        files = manifest[side]["files"]
        missing = [key for key in ("wav", "span_frames") if files and key not in files[0]]
        if missing:
            raise NoisyError("{}: the {} files carry no {} (rebuild the data set)".format(
                os.path.join(dataset_dir, "manifest.json"), side, ", ".join(missing)))
        rng = np.random.default_rng([seed, SIDES.index(side)])
        sources = rng.choice(len(files), size=min(BABBLE_POOL, len(files)), replace=False)
        babble = [_load(files[i]["wav"], params.sample_rate_hz) for i in sources] if "babble" in kinds else []
        work = [(entry["wav"], entry["span_frames"], params, seed, side, row, tuple(snr_range), tuple(kinds), babble)
                for row, entry in enumerate(files)]
        results = []
        if jobs > 1 and len(work) > 2 * jobs:
            with multiprocessing.get_context("fork").Pool(jobs) as workers:
                for result in workers.imap(_noisy_job, work, chunksize=16):
                    results.append(result)
                    if progress:
                        progress(side, len(results), len(work))
        else:
            for job in work:
                results.append(_noisy_job(job))
                if progress:
                    progress(side, len(results), len(work))
        images = np.stack([image for image, _, _ in results])[:, np.newaxis] if results else \
            np.zeros((0, 1, params.n_mels, params.n_frames), np.float32)
        save_npy(os.path.join(out_dir, side + "_noisy.npy"), images)
        index[side] = {"count": len(results), "kind": [kind for _, kind, _ in results],
                       "snr_db": [round(snr, 3) for _, _, snr in results]}
    save_json(os.path.join(out_dir, NOISY_INDEX), index)
    return index


def load_noisy(noisy_dir, manifest):
    """``(arrays, index)``: ``train_noisy`` and ``test_noisy`` of a make_noisy.py folder, checked
    against the data set they must pair with (front end and number of files per side)."""
    path = os.path.join(noisy_dir, NOISY_INDEX)
    if not os.path.exists(path):
        raise NoisyError("{}: no {} (make it with make_noisy.py)".format(noisy_dir, NOISY_INDEX))
    index = load_json(path)
    if index.get("params") != manifest["params"]:
        raise NoisyError("{}: made with other feature parameters than the data set".format(path))
    arrays = {}
    for side in SIDES:
        expected = len(manifest[side]["files"])
        array_path = os.path.join(noisy_dir, side + "_noisy.npy")
        try:
            arrays[side + "_noisy"] = load_npy(array_path)
        except (OSError, ValueError) as error:
            raise NoisyError("{}: cannot be read ({})".format(array_path, " ".join(str(error).split())))
        if len(arrays[side + "_noisy"]) != expected or index[side]["count"] != expected:
            raise NoisyError("{}: {} noisy rows for the data set's {} {} files (made from another data set?)".format(
                array_path, len(arrays[side + "_noisy"]), expected, side))
    return arrays, index


def image_db(images, params):
    """Images in [0, 1] as dB relative to each clip's maximum (0 dB at 1, -floor_db at 0)."""
    return (np.asarray(images, dtype=np.float64) - 1.0) * params.floor_db


def log_spectral_distance(estimate, clean, params):
    """Per clip: the root-mean-square dB difference over the bands, averaged over the clip's frames.

    Images are (N, ..., n_mels, n_frames); returns an (N,) array in dB. Frames where the clean image is
    0 in every band are left out: with words centred in silence (``fit="pad"``) they are padding, not
    part of the clip, and averaging over them would make a short word look cleaner than a long one."""
    difference = image_db(estimate, params) - image_db(clean, params)
    per_frame = np.sqrt(np.mean(np.square(difference), axis=-2)).reshape(len(difference), -1)
    in_clip = (np.asarray(clean) != 0).any(axis=-2).reshape(len(difference), -1)
    in_clip[~in_clip.any(axis=1)] = True  # an all-silent clean image: every frame counts
    return (per_frame * in_clip).sum(axis=1) / in_clip.sum(axis=1)


def spectrogram_snr(estimate, clean, params):
    """Per clip: ``10·log10(Σ clean² / Σ (estimate − clean)²)`` over the mel magnitudes (N,) in dB."""
    to_amplitude = lambda images: 10.0 ** (image_db(images, params) / 20.0)  # noqa: E731
    clean_amplitude = to_amplitude(clean).reshape(len(clean), -1)
    error = to_amplitude(estimate).reshape(len(clean), -1) - clean_amplitude
    return 10.0 * np.log10(np.sum(clean_amplitude ** 2, axis=1) / np.maximum(np.sum(error ** 2, axis=1), 1e-30))
