"""Source separation by spectrogram masking: mixtures made on the fly, the U-Net, metrics.

Two tasks on 8 kHz audio, both as a mixture ``x = s1 + s2`` of two aligned signals:

* ``voices``: two different digits said by two different voices of one side of the data set, the
  second at a relative level drawn from −5…+5 dB, both starting within the first 0.1 s;
* ``noise``: one digit in white, pink or babble noise (other clips of the same side) at −5…+5 dB SNR.

The network (`UNet`, after Jansson et al. 2017, "Singing voice separation with deep U-Net convolutional
networks") sees the mixture's linear-frequency STFT magnitude ``X`` and gives one sigmoid mask ``m``:
``m ⊙ X`` estimates source 1, ``(1 − m) ⊙ X`` source 2, each resynthesised with the mixture's phase.
Which voice is "source 1" is arbitrary in a two-voice mixture, so its loss takes the better of the
two assignments (utterance-level permutation-invariant training, Kolbæk et al. 2017); in noise the
digit is always source 1.
"""
import math

import specae  # noqa: F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from specae import augment, fastconv
from specae.models import leaky_relu
from specae.audio import load_audio
from specae.inversion import istft, stft

RATE_HZ = 8000
N_FFT = 256
HOP = 64
WINDOW = "hamming"
KINDS = ("voices", "noise")
NOISE_KINDS = ("white", "pink", "babble")
LEVEL_DB = (-5.0, 5.0)
MAX_OFFSET_S = 0.1
BABBLE_POOL = 64


def load_clips(files, rate_hz=RATE_HZ):
    """The manifest entries' WAVs as float32 arrays at ``rate_hz`` (polyphase resampling)."""
    return [load_audio(entry["wav"], rate_hz) for entry in files]


def place(samples, length, rng, max_offset):
    """``samples`` starting at a random offset of at most ``max_offset`` in ``length`` zeros (its middle
    ``length`` samples when longer). Offsets stay small so that two digits overlap in time, as voices
    talking at once do: far apart in a silent second, a mask would only need to cut the time axis."""
    out = np.zeros(length, np.float32)
    if len(samples) >= length:
        start = (len(samples) - length) // 2
        out[:] = samples[start:start + length]
    else:
        start = int(rng.integers(0, min(max_offset, length - len(samples)) + 1))
        out[start:start + len(samples)] = samples
    return out


def scale_to_level(reference, other, level_db):
    """``other`` scaled so that ``10·log10(power(reference) / power(other)) == level_db``."""
    return (other * math.sqrt(augment.power(reference) / augment.power(other) / 10.0 ** (level_db / 10.0))).astype(
        np.float32)


def magnitude(signal):
    """Linear STFT magnitude (n_bins, n_frames), frequency on axis 0, float32."""
    return np.abs(stft(signal, N_FFT, HOP, WINDOW)).T.astype(np.float32)


def resynthesise(mask, mixture):
    """The signal of ``mask`` (n_bins, n_frames) applied to the mixture's STFT (its phase kept)."""
    spectrum = stft(mixture, N_FFT, HOP, WINDOW)
    return istft(spectrum * np.asarray(mask, np.float64).T, N_FFT, HOP, WINDOW).astype(np.float32)


class Mixtures(chainer.dataset.DatasetMixin):
    """``count`` mixtures of the clips of one side, each a function of ``(seed, index)`` alone.

    Parameters
    ----------
    clips : list of numpy.ndarray
        Mono float32 clips at `RATE_HZ` (`load_clips`).
    speakers, digits : sequence
        Per clip: who says it and which digit.
    count : int
        Mixtures in the set.
    seed : int
        Fixes every draw (kind, clips, offsets, level, noise).
    noise_fraction : float in [0, 1]
        Share of the ``noise`` task; the rest are ``voices``.
    seconds : float
        Length of every mixture.

    Notes
    -----
    `get_example` returns what the network trains on: ``X`` (1, n_bins, n_frames) and the two
    references' magnitudes (2, n_bins, n_frames), scaled by the mixture's largest value, and 1.0 where
    either assignment of the references is allowed (``voices``). `signals` returns the waveforms.
    """

    def __init__(self, clips, speakers, digits, count, seed, noise_fraction=1 / 3, seconds=1.0):
        self.clips, self.speakers, self.digits = clips, np.asarray(speakers), np.asarray(digits)
        self.count, self.seed, self.noise_fraction = count, seed, noise_fraction
        self.length = int(round(seconds * RATE_HZ))
        pool = np.random.default_rng([seed, 1 << 20]).choice(len(clips), min(BABBLE_POOL, len(clips)), replace=False)
        self.babble = [clips[i] for i in pool]

    def __len__(self):
        return self.count

    def signals(self, index):
        """``(mixture, source1, source2, meta)``: waveforms with ``mixture == source1 + source2``, peak 0.9."""
        rng = np.random.default_rng([self.seed, index])
        kind = "noise" if rng.random() < self.noise_fraction else "voices"
        first = int(rng.integers(len(self.clips)))
        shift = int(MAX_OFFSET_S * RATE_HZ)
        s1 = place(self.clips[first], self.length, rng, shift)
        level_db = float(rng.uniform(*LEVEL_DB))
        meta = {"kind": kind, "level_db": level_db, "clips": [first], "digits": [int(self.digits[first])]}
        if kind == "voices":
            others = np.flatnonzero((self.speakers != self.speakers[first]) & (self.digits != self.digits[first]))
            second = int(others[rng.integers(len(others))])
            s2 = scale_to_level(s1, place(self.clips[second], self.length, rng, shift), level_db)
            meta["clips"].append(second)
            meta["digits"].append(int(self.digits[second]))
        else:
            noise_kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
            s2 = scale_to_level(s1, augment.coloured_noise(self.length, noise_kind, rng, self.babble), level_db)
            meta["noise"] = noise_kind
        mixture = s1 + s2
        gain = 0.9 / max(float(np.abs(mixture).max()), 1e-9)
        return mixture * gain, s1 * gain, s2 * gain, meta

    def get_example(self, index):
        mixture, s1, s2, meta = self.signals(index)
        x = magnitude(mixture)
        scale = 1.0 / max(float(x.max()), 1e-9)
        references = np.stack([magnitude(s1), magnitude(s2)]) * scale
        return x[np.newaxis] * scale, references, np.float32(meta["kind"] == "voices")


def _up(link, h, size):
    """``link``'s transposed convolution to exactly ``size`` (H, W): each stride-2 convolution rounds its
    input size up, so the way back must be told which of two sizes to make."""
    return fastconv.deconvolution_2d(h, link.W, link.b, link.stride, link.pad, outsize=size)


class UNet(chainer.Chain):
    """Jansson et al.'s U-Net, scaled down: 5×5 convolutions of stride 2 with batch normalisation and leaky
    ReLU (slope 0.2) halve the spectrogram ``len(channels)`` times; 5×5 transposed convolutions double it
    back, with batch normalisation, ReLU and 50 % dropout in the first ``dropout_layers``, each taking the
    encoder's output of the same size beside its input (skip connections, unless ``skips=False``); the
    last gives a sigmoid mask of the input's size, for any input size.
    """

    def __init__(self, channels=(8, 16, 32, 64), skips=True, dropout_layers=2, slope=0.2):
        super().__init__()
        self.channels, self.skips, self.dropout_layers, self.slope = tuple(channels), skips, dropout_layers, slope
        widths = (1,) + tuple(channels)
        depth = len(channels)
        grow = 2 if skips else 1
        with self.init_scope():
            self.down = chainer.ChainList(*[fastconv.Convolution2D(widths[i], widths[i + 1], 5, stride=2, pad=2)
                                            for i in range(depth)])
            self.down_norms = chainer.ChainList(*[L.BatchNormalization(c) for c in channels])
            # up[k] goes from level depth-k to depth-k-1; all but the first also take the skip
            self.up = chainer.ChainList(*[
                L.Deconvolution2D(widths[i + 1] * (1 if i == depth - 1 else grow), widths[i], 5, stride=2, pad=2)
                for i in reversed(range(depth))])
            self.up_norms = chainer.ChainList(*[L.BatchNormalization(widths[i]) for i in reversed(range(1, depth))])

    def forward(self, x):
        """Mask in (0, 1) of the shape of ``x`` (N, 1, F, T)."""
        sizes, skips, h = [], [], x
        for conv, norm in zip(self.down, self.down_norms):
            sizes.append(h.shape[2:])
            h = leaky_relu(norm(conv(h)), self.slope)
            skips.append(h)
        for k, deconv in enumerate(self.up):
            if k > 0 and self.skips:
                h = F.concat([h, skips[-1 - k]], axis=1)
            h = _up(deconv, h, sizes[-1 - k])
            if k < len(self.up_norms):
                h = F.relu(self.up_norms[k](h))
                if k < self.dropout_layers:
                    h = F.dropout(h, 0.5)
        return F.sigmoid(h)


class Separator(chainer.Chain):
    """The U-Net with its loss: L1 between ``m ⊙ X`` and source 1 plus ``(1 − m) ⊙ X`` and source 2, per
    example the smaller over the two assignments where ``pit`` is 1."""

    def __init__(self, unet):
        super().__init__()
        with self.init_scope():
            self.unet = unet

    def forward(self, x, references, pit):
        mask = self.unet(x)
        first, second = mask * x, (1 - mask) * x
        y1, y2 = references[:, :1], references[:, 1:]
        axes = (1, 2, 3)
        direct = F.mean(F.absolute(first - y1), axis=axes) + F.mean(F.absolute(second - y2), axis=axes)
        swapped = F.mean(F.absolute(first - y2), axis=axes) + F.mean(F.absolute(second - y1), axis=axes)
        loss = F.mean(F.where(pit.astype(bool), F.minimum(direct, swapped), direct))
        chainer.report({"loss": loss}, self)
        return loss


def masks(unet, spectrograms, batchsize=16):
    """The U-Net's masks (N, F, T) of mixture magnitudes (N, 1, F, T), in inference mode."""
    out = []
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for start in range(0, len(spectrograms), batchsize):
            out.append(unet(np.asarray(spectrograms[start:start + batchsize], np.float32)).array[:, 0])
    return np.concatenate(out)


def ideal_ratio_mask(source1, source2):
    """``|S1| / (|S1| + |S2|)`` from the two sources' waveforms: the best this kind of mask can do."""
    a, b = magnitude(source1), magnitude(source2)
    return a / np.maximum(a + b, 1e-12)


def si_sdr(reference, estimate, clamp_db=None):
    """Scale-invariant SDR in dB (Le Roux et al. 2019): ``10·log10(|αs|² / |αs − ŝ|²)`` with ``α = ŝ·s / |s|²``.

    Parameters
    ----------
    reference, estimate : array_like, shape (..., n_samples)
    clamp_db : float, optional
        Clip the result to ``[-clamp_db, clamp_db]`` (a silent estimate is −∞ dB, a perfect one +∞).

    Returns
    -------
    float or numpy.ndarray of shape (...)
    """
    s = np.asarray(reference, np.float64)
    e = np.asarray(estimate, np.float64)
    alpha = np.sum(e * s, axis=-1, keepdims=True) / np.sum(s * s, axis=-1, keepdims=True)
    target = alpha * s
    signal, error = np.sum(target ** 2, axis=-1), np.sum((target - e) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(signal > 0, 10 * np.log10(signal) - 10 * np.log10(error), -np.inf)
    return value if clamp_db is None else np.clip(value, -clamp_db, clamp_db)


CLAMP_DB = 60.0


def sdr(reference, estimate, clamp_db=CLAMP_DB):
    """BSS Eval SDR in dB (a 512-tap distortion filter allowed; fast_bss_eval) of one estimate per row,
    clipped to ±``clamp_db`` (the library fails on a silent estimate without it)."""
    import fast_bss_eval.numpy as fast_bss_eval  # its top-level dispatcher needs torch for si_sdr
    reference = np.atleast_2d(np.asarray(reference, np.float64))
    estimate = np.atleast_2d(np.asarray(estimate, np.float64))
    return np.array([float(fast_bss_eval.sdr(r[None], e[None], clamp_db=clamp_db)[0])
                     for r, e in zip(reference, estimate)])


def best_assignment(references, estimates):
    """``(0, 1)`` or ``(1, 0)``: which estimate goes with each reference, by the larger total SI-SDR."""
    direct = si_sdr(references[0], estimates[0]) + si_sdr(references[1], estimates[1])
    swapped = si_sdr(references[0], estimates[1]) + si_sdr(references[1], estimates[0])
    return (0, 1) if direct >= swapped else (1, 0)
