"""Is this a spoken digit? The autoencoder's reconstruction error as an anomaly score.

Shared, not in examples/anomaly/: predict.py --reject loads the detector it writes.

An autoencoder trained on digit spectrograms rebuilds digits well and other sounds less well, so the
mean squared error between an image and its reconstruction scores how unlike the training data a
clip is. `roc_auc` measures how well a score separates digits from other sounds; the threshold is a
quantile of the training digits' own scores, so it is chosen without looking at any non-digit sound
or any test clip. `non_digit_sounds` makes the other sounds locally: noise, tones, sweeps, chords,
arpeggios and espeak saying other words.
"""
import math
import os

import numpy as np

from specae import augment, checkpoints, features, synth
from specae.files import load_json
from specae.models import reconstruct_all

DETECTOR_FILE = "detector.json"
# Words that are not digits and do not contain one ("often", not "fourteen"; "tree" sounds like three).
OTHER_WORDS = ("hello", "yes", "stop", "go", "left", "right", "up", "down", "cat", "house", "water",
               "apple", "music", "table", "green", "morning", "computer", "window", "yellow", "banana",
               "please", "thank you", "goodbye", "weather", "orange", "happy", "dog", "coffee")
SOUND_KINDS = ("noise", "tone", "sweep", "chord", "arpeggio", "word")


def reconstruction_error(model, images, depth=None):
    """Per image: mean squared error between it and its reconstruction clipped to [0, 1] (an image
    holds nothing above its clip's maximum). ``images`` (N, 1, H, W); returns (N,) float64."""
    rebuilt = np.clip(reconstruct_all(model, images, depth), 0.0, 1.0)
    difference = rebuilt.astype(np.float64) - np.asarray(images, dtype=np.float64)
    return np.square(difference).reshape(len(difference), -1).mean(axis=1)


def roc_auc(anomaly_scores, normal_scores):
    """Probability that a random anomaly scores above a random normal example, ties counting half.

    This is the area under the ROC curve (the Mann–Whitney U statistic divided by the number of
    pairs), computed by sorting: O((m + n) log(m + n)), no curve needed.
    """
    anomaly_scores = np.asarray(anomaly_scores, dtype=np.float64)
    normal = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if anomaly_scores.size == 0 or normal.size == 0:
        raise ValueError("the AUC needs at least one anomaly and one normal score")
    below = np.searchsorted(normal, anomaly_scores, side="left")
    not_above = np.searchsorted(normal, anomaly_scores, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (anomaly_scores.size * normal.size))


def roc_curve(anomaly_scores, normal_scores):
    """``(false_positive_rate, true_positive_rate)`` for every threshold, from (0, 0) to (1, 1).

    Flagging scores >= t as anomalies: tpr = share of anomalies flagged, fpr = share of normal
    examples flagged. Equal scores move both rates at once (a diagonal step)."""
    anomaly_scores, normal_scores = np.asarray(anomaly_scores), np.asarray(normal_scores)
    thresholds = np.unique(np.concatenate([anomaly_scores, normal_scores]))[::-1]
    tpr = (anomaly_scores[None, :] >= thresholds[:, None]).mean(axis=1)
    fpr = (normal_scores[None, :] >= thresholds[:, None]).mean(axis=1)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


def rates_at(threshold, anomaly_scores, normal_scores):
    """``(share of anomalies rejected, share of normal examples rejected)`` for score > threshold."""
    return float(np.mean(np.asarray(anomaly_scores) > threshold)), float(np.mean(np.asarray(normal_scores) > threshold))


# ---- sounds that are not digits -------------------------------------------------------------------

def _envelope(length, rate_hz, attack_s=0.01, release_s=0.05):
    """Rise and fall at the ends so that no sound starts or stops with a click."""
    envelope = np.ones(length)
    attack, release = min(length // 2, int(attack_s * rate_hz)), min(length // 2, int(release_s * rate_hz))
    envelope[:attack] = np.linspace(0.0, 1.0, attack, endpoint=False)
    if release:
        envelope[-release:] = np.linspace(1.0, 0.0, release)
    return envelope


def _note(frequency_hz, seconds, rate_hz, partials=6):
    """A plucked-string-like note: harmonics falling as 1/k, decaying exponentially."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    tone = sum(np.sin(2 * np.pi * k * frequency_hz * t) / k for k in range(1, partials + 1)
               if k * frequency_hz < rate_hz / 2)
    return tone * np.exp(-3.0 * t / seconds) * _envelope(len(t), rate_hz, 0.005, 0.02)


def _midi_hz(note):
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def make_sound(kind, rng, rate_hz=synth.SAMPLE_RATE_HZ):
    """One random non-digit sound of ``kind`` (see SOUND_KINDS) as float32 samples; ``(name, samples)``."""
    seconds = float(rng.uniform(0.3, 1.0))
    length = int(seconds * rate_hz)
    t = np.arange(length) / rate_hz
    if kind == "noise":
        colour = ("white", "pink")[int(rng.integers(2))]
        samples, name = augment.coloured_noise(length, colour, rng) * _envelope(length, rate_hz), colour + " noise"
    elif kind == "tone":
        frequency = float(rng.uniform(150.0, 3000.0))
        samples = np.sin(2 * np.pi * frequency * t) * _envelope(length, rate_hz)
        name = "{:.0f} Hz tone".format(frequency)
    elif kind == "sweep":
        low, high = sorted(rng.uniform(100.0, 3500.0, size=2))
        if rng.random() < 0.5:
            low, high = high, low
        phase = 2 * np.pi * (low * t + (high - low) / (2 * seconds) * t ** 2)
        samples, name = np.sin(phase) * _envelope(length, rate_hz), "sweep {:.0f}-{:.0f} Hz".format(low, high)
    elif kind == "chord":
        root = int(rng.integers(45, 70))
        intervals = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10))[int(rng.integers(4))]
        samples = sum(_note(_midi_hz(root + i), seconds, rate_hz) for i in intervals)
        name = "chord on MIDI {}".format(root)
    elif kind == "arpeggio":
        root = int(rng.integers(50, 72))
        steps = (0, 4, 7, 12, 7, 4) if rng.random() < 0.5 else (0, 3, 7, 12, 15, 12)
        step_s = seconds / len(steps)
        samples = np.concatenate([_note(_midi_hz(root + s), step_s, rate_hz) for s in steps])
        name = "arpeggio on MIDI {}".format(root)
    elif kind == "word":
        word = OTHER_WORDS[int(rng.integers(len(OTHER_WORDS)))]
        voices = synth.english_voices()
        variants = synth.variants()
        voice = "{}+{}".format(voices[int(rng.integers(len(voices)))], variants[int(rng.integers(len(variants)))])
        samples = synth.synthesize(word, voice, int(rng.integers(100, 240)), int(rng.integers(30, 71)),
                                   int(rng.integers(30, 91)), rand_seed=int(rng.integers(2 ** 31))) / 32768.0
        name = "'{}' ({})".format(word, voice)
    else:
        raise ValueError("sound kind must be one of {}, not {!r}".format(SOUND_KINDS, kind))
    samples = np.asarray(samples, dtype=np.float64)
    # a random level: the front end is level-independent, but the clip should not be
    samples *= 10.0 ** (rng.uniform(-30.0, -6.0) / 20.0) / max(float(np.abs(samples).max()), 1e-9)
    return name, samples.astype(np.float32)


def non_digit_sounds(per_kind, seed=0, kinds=SOUND_KINDS, rate_hz=synth.SAMPLE_RATE_HZ):
    """``per_kind`` sounds of every kind: a list of ``(kind, name, samples)``, the same for a seed."""
    sounds = []
    for kind in kinds:
        rng = np.random.default_rng([seed, SOUND_KINDS.index(kind)])
        sounds.extend((kind,) + make_sound(kind, rng, rate_hz) for _ in range(per_kind))
    return sounds


# ---- the detector: an autoencoder, a depth and a threshold ---------------------------------------

class Detector:
    """Scores images with an autoencoder's reconstruction error; above ``threshold`` is "not a digit"."""

    def __init__(self, model, info, depth, threshold):
        self.model, self.info, self.depth, self.threshold = model, info, depth, float(threshold)
        self.params = features.FeatureParams.from_dict(info["feature_params"])

    def scores(self, images):
        """Scores of (N, n_mels, n_frames) or (N, 1, n_mels, n_frames) images."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[:, np.newaxis]
        return reconstruction_error(self.model, images, self.depth)


def load_detector(path):
    """The Detector described by a detector.json written by anomaly_report.py (``path`` is the file or
    its folder). Raises FileNotFoundError or ValueError with a one-line reason."""
    if os.path.isdir(path):
        path = os.path.join(path, DETECTOR_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no such detector (make anomaly writes it)".format(path))
    try:
        description = load_json(path)
        # stored relative to the detector's folder, so that the two can move together
        model_dir = os.path.join(os.path.dirname(os.path.abspath(path)), description["autoencoder"])
        model, info = checkpoints.load_autoencoder(model_dir)
        threshold = float(description["threshold"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError("{}: not a detector description ({})".format(path, " ".join(str(error).split())))
    if not math.isfinite(threshold):
        raise ValueError("{}: threshold {} is not a number".format(path, threshold))
    return Detector(model, info, description.get("depth"), threshold)


DEFAULT_DETECTOR = os.path.join("result", "anomaly", DETECTOR_FILE)


def score_files(paths, detector, jobs=1):
    """``{path: score}`` for the files the front end can read (the others are left out)."""
    usable, images = [], []
    for path, image, _ in features.images_from_files(paths, detector.params, jobs=jobs):
        if image is not None:
            usable.append(path)
            images.append(image)
    return dict(zip(usable, detector.scores(images))) if usable else {}
