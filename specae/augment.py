"""Augmentation and degradation: the channel, noise, room and voice changes that real recordings
bring and the espeak corpus lacks. Every function takes a numpy Generator, so a seed fixes the result.

Waveform functions take and return float32 mono samples at ``rate_hz``; image functions take and
return a (n_mels, n_frames) image in [0, 1].
"""
import functools
import math

import numpy as np
import scipy.signal
import scipy.special

from specae.audio import resample, resample_poly
from specae.features import fit_frames

TELEPHONE_RATE_HZ = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
NOISE_KINDS = ("white", "pink", "babble")


def power(samples):
    return float(np.mean(np.square(samples, dtype=np.float64))) + 1e-20


def telephone(samples, rate_hz, mu_law=True):
    """Down to 8 kHz, the 300–3400 Hz band of a phone line, optionally 8-bit G.711 μ-law, and back."""
    narrow = scipy.signal.sosfilt(_telephone_band(), resample(samples, rate_hz, TELEPHONE_RATE_HZ)).astype(np.float32)
    if mu_law:
        peak = max(float(np.abs(narrow).max()), 1e-9)
        x = narrow / peak
        encoded = np.sign(x) * np.log1p(255.0 * np.abs(x)) / math.log(256.0)
        quantised = np.round(encoded * 127.0) / 127.0
        narrow = (np.sign(quantised) * np.expm1(np.abs(quantised) * math.log(256.0)) / 255.0 * peak).astype(np.float32)
    return resample(narrow, TELEPHONE_RATE_HZ, rate_hz)


@functools.lru_cache(maxsize=1)
def _telephone_band():
    """The phone line's band-pass (4th-order Butterworth, second-order sections), designed once: designing it took
    a tenth of make_dataset.py's time when it was done for every telephone copy (sosfilt reads it, writes nothing)."""
    return scipy.signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE_HZ, output="sos")


def coloured_noise(length, kind, rng, babble_sources=()):
    """White, pink (−3 dB per octave) or babble (a sum of other utterances) noise of unit power."""
    if kind == "white":
        noise = rng.standard_normal(length)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(length))
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
        noise = np.fft.irfft(spectrum, n=length)
    elif kind == "babble":
        if len(babble_sources) == 0:
            raise ValueError("babble noise needs other utterances to mix")
        noise = np.zeros(length)
        for index in rng.choice(len(babble_sources), size=min(5, len(babble_sources)), replace=False):
            source = np.asarray(babble_sources[index], dtype=np.float64)
            source = np.tile(source, int(math.ceil(length / len(source))))
            start = int(rng.integers(0, len(source) - length + 1))
            noise += source[start:start + length] / math.sqrt(power(source))
    else:
        raise ValueError("noise kind must be one of {}, not {!r}".format(NOISE_KINDS, kind))
    return (noise / math.sqrt(power(noise))).astype(np.float32)


def add_noise(samples, snr_db, kind, rng, babble_sources=()):
    """Add noise scaled so that signal power / noise power is ``snr_db``."""
    noise = coloured_noise(len(samples), kind, rng, babble_sources)
    scale = math.sqrt(power(samples) / 10.0 ** (snr_db / 10.0))
    return (samples + scale * noise).astype(np.float32)


def reverb(samples, rate_hz, rt60_s, rng, direct_to_reverb_db=3.0):
    """Convolve with a synthetic room: a direct path plus exponentially decaying noise (60 dB in rt60_s)."""
    length = max(1, int(rt60_s * rate_hz))
    t = np.arange(length) / rate_hz
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60_s)
    tail *= math.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / power(tail))
    response = tail
    response[0] += 1.0
    wet = scipy.signal.fftconvolve(samples, response)[:len(samples)]
    return (wet * math.sqrt(power(samples) / power(wet))).astype(np.float32)


def random_eq(samples, rate_hz, rng, max_db=9.0):
    """A smooth random gain curve over log-frequency (microphone and loudspeaker colour)."""
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate_hz)
    octave = np.log2(np.maximum(freqs, 50.0) / 50.0) / np.log2(rate_hz / 2.0 / 50.0)
    curve_db = np.zeros_like(octave)
    for k in range(1, 4):
        curve_db += rng.uniform(-1, 1) * np.cos(math.pi * k * octave + rng.uniform(0, 2 * math.pi))
    curve_db *= max_db / max(np.abs(curve_db).max(), 1e-9)
    return np.fft.irfft(spectrum * 10.0 ** (curve_db / 20.0), n=len(samples)).astype(np.float32)


def change_speed(samples, factor):
    """Play ``factor`` times faster (pitch and tempo together, like a tape), by resampling."""
    up = 100
    down = int(round(up * factor))
    return resample_poly(samples, up, down).astype(np.float32)


def shift_pitch(samples, rate_hz, semitones, frame_length=1024, hop_length=256, envelope_quefrency_s=0.0015):
    """Move the fundamental and its harmonics by ``semitones`` while tempo and spectral envelope (the
    formants, i.e. the vocal tract) stay put: a higher or lower voice from the same speaker.

    A phase vocoder with a source-filter split per frame (after Laroche and Dolson, "New phase-vocoder
    techniques for pitch-shifting", 1999): the envelope is the cepstrally smoothed log magnitude
    (quefrencies below ``envelope_quefrency_s``, shorter than any pitch period); the excitation, the
    magnitude divided by it, is read at frequency ``f / factor`` and multiplied by the unchanged
    envelope at ``f``. Each output bin gets the instantaneous frequency of its source bin times the
    factor, accumulated frame by frame into its phase, so shifted harmonics stay coherent.
    """
    factor = 2.0 ** (semitones / 12.0)
    samples = np.asarray(samples, dtype=np.float64)
    _, _, spectrum = scipy.signal.stft(samples, fs=rate_hz, window="hann", nperseg=frame_length,
                                       noverlap=frame_length - hop_length, boundary="even")
    magnitude, phase = np.abs(spectrum), np.angle(spectrum)
    bins = np.arange(magnitude.shape[0])
    # Envelope: low quefrencies of the log magnitude (even cepstrum of a real spectrum).
    log_magnitude = np.log(magnitude + 1e-9)
    cepstrum = np.fft.irfft(log_magnitude, n=frame_length, axis=0)
    cut = max(1, int(envelope_quefrency_s * rate_hz))
    cepstrum[cut:frame_length - cut + 1] = 0.0
    log_envelope = np.fft.rfft(cepstrum, axis=0).real
    excitation = log_magnitude - log_envelope
    # Instantaneous frequency of every bin, in radians per sample.
    expected = 2.0 * np.pi * bins[:, np.newaxis] * hop_length / frame_length
    advance = np.diff(phase, axis=1, prepend=phase[:, :1]) - expected
    advance = (advance + np.pi) % (2.0 * np.pi) - np.pi
    frequency = (expected + advance) / hop_length
    source = bins / factor
    inside = source <= bins[-1]
    nearest = np.minimum(np.round(source).astype(np.int64), bins[-1])
    shifted_excitation = np.stack([np.interp(source, bins, column, right=-30.0) for column in excitation.T], 1)
    shifted_magnitude = np.exp(log_envelope + shifted_excitation) * inside[:, np.newaxis]
    shifted_phase = phase[nearest, :1] * factor + np.cumsum(frequency[nearest] * factor * hop_length, axis=1)
    _, output = scipy.signal.istft(shifted_magnitude * np.exp(1j * shifted_phase), fs=rate_hz, window="hann",
                                   nperseg=frame_length, noverlap=frame_length - hop_length, boundary=True)
    output = output[:len(samples)]
    if len(output) < len(samples):
        output = np.pad(output, (0, len(samples) - len(output)))
    return (output * math.sqrt(power(samples) / power(output))).astype(np.float32)


# numpy's clip ufunc itself: np.clip and ndarray.clip reach it through a Python wrapper that cost more than
# the clipping of a 64-value row (numpy 1.26); the same values, as np.clip hands the same arguments on.
_clip = np.core.umath.clip


def _cached_constant(make):
    """``make(size)``, made once per size and shared between calls (read only): the constant rows and
    columns that every varied training image reads."""
    @functools.lru_cache(maxsize=8)
    def cached(size):
        array = make(size)
        array.flags.writeable = False
        return array
    return cached


_positions = _cached_constant(lambda size: np.arange(size, dtype=np.float32)[:, None])  # 0 … size-1, a column
_from_centre = _cached_constant(lambda size: np.arange(size) - (size - 1) / 2.0)  # offsets from the middle
_rows = _cached_constant(lambda n_bands: np.arange(n_bands)[:, None])  # a grain level per pixel, by row
_band_slope = _cached_constant(lambda n_bands: np.linspace(-0.5, 0.5, n_bands)[:, None])  # a floor's tilt


def interpolation_matrix(source, size, zero_outside=False):
    """The ``(size, len(source))`` matrix of linear interpolation: column j holds the weights with which
    the positions of the input make the value at the fractional position ``source[j]``, the hat function
    max(0, 1 - |position - source[j]|). Positions beyond the ends read the end value, or silence (an empty
    column) with ``zero_outside``. A matrix, so that a shift, a stretch or a warp costs one small product.
    A batch of sources, ``(B, n)``, gives the ``(B, size, n)`` matrices of its rows (``vary_batch``)."""
    clipped = _clip(np.asarray(source, dtype=np.float32), 0, size - 1)
    # 1 - |position - source|, at least 0; in place, as a varied training image makes two of these
    matrix = np.subtract(_positions(size), clipped[..., None, :])
    np.abs(matrix, out=matrix)
    np.subtract(np.float32(1.0), matrix, out=matrix)
    np.maximum(matrix, np.float32(0.0), out=matrix)
    if zero_outside:
        matrix *= ((source >= 0) & (source <= size - 1))[..., None, :]
    return matrix


def interpolate_axis(image, source, axis, zero_outside=False):
    """Read ``image`` at the fractional positions ``source`` along ``axis`` (0 or 1; linear interpolation).
    Positions beyond the ends read the end value, or silence (0) with ``zero_outside``."""
    matrix = interpolation_matrix(source, image.shape[axis], zero_outside)
    image = np.asarray(image, dtype=np.float32)
    return image @ matrix if axis == 1 else matrix.T @ image


def warp_frequency(image, alpha):
    """Vocal-tract-length perturbation on the mel image: band b takes the value at band b·alpha. ``image``
    (n_bands, n_frames), or a batch of them (B, n_bands, n_frames) warped alike."""
    n_bands = image.shape[-2]
    return interpolation_matrix(np.arange(n_bands) * alpha, n_bands).T @ np.asarray(image, dtype=np.float32)


def mask(image, rng, max_bands=8, max_frames=8):
    """SpecAugment-style: one band range and one frame range set to the floor (0)."""
    masked = image.copy()
    width = int(rng.integers(0, max_bands + 1))
    start = int(rng.integers(0, image.shape[0] - width + 1))
    masked[start:start + width] = 0.0
    width = int(rng.integers(0, max_frames + 1))
    start = int(rng.integers(0, image.shape[1] - width + 1))
    masked[:, start:start + width] = 0.0
    return masked


def shift_and_stretch_time(image, shift_frames, factor):
    """Move the image ``shift_frames`` later in time and stretch it ``factor`` times longer about its
    centre (linear interpolation); what comes in from outside is silence (0)."""
    return interpolate_axis(image, _stretched_frames(image.shape[1], shift_frames, factor), axis=1, zero_outside=True)


def _stretched_frames(n_frames, shift_frames, factor):
    """The input frame that each output frame reads for a shift and a stretch about the centre (scalars,
    or (B, 1) columns for a batch)."""
    return (_from_centre(n_frames) - shift_frames) / factor + (n_frames - 1) / 2.0


def stretch_words(images, frames):
    """Each image's word (its frames above silence) stretched or squeezed about the image's centre, where
    the front end puts it, to ``frames`` frames: one length for every word, as the training variations
    draw it half the time (VARY_LENGTH_FRAMES). ``images`` (n_bands, n_frames) or (B, n_bands, n_frames),
    each image with its own factor."""
    n_frames = images.shape[-1]
    lengths = np.maximum(1, np.count_nonzero(np.maximum.reduce(images, axis=-2) > 0, axis=-1))
    source = _stretched_frames(n_frames, 0.0, (frames / lengths)[..., None])
    return np.asarray(images, dtype=np.float32) @ interpolation_matrix(source, n_frames, zero_outside=True)


def word_frames(image):
    """The indices of the frames that hold the word: those above the image's silence (0)."""
    return np.flatnonzero(np.maximum.reduce(image, axis=0) > 0)


def warp_time(image, anchor, moved):
    """SpecAugment's time warp inside the word: frame ``anchor`` of the word (the frames above silence)
    moves to ``moved`` and the parts before and after it are stretched or squeezed linearly to fill the
    word's span again, so one part of the word (a person's long vowel) grows at the cost of the other."""
    loud = word_frames(image)
    if loud.size < 3:
        return image
    first, last = float(loud[0]), float(loud[-1])
    anchor, moved = np.clip([anchor, moved], first + 1, last - 1)
    frames = np.arange(image.shape[1], dtype=np.float32)
    source = np.where(frames <= moved, first + (frames - first) * (anchor - first) / (moved - first),
                      anchor + (frames - moved) * (last - anchor) / (last - moved))
    source = np.where((frames < first) | (frames > last), frames, source)
    return interpolate_axis(image, source, axis=1)


def random_time_warp(image, rng, max_fraction):
    """:func:`warp_time` with the anchor drawn in the word and moved by up to ``max_fraction`` of its length."""
    loud = word_frames(image)
    if loud.size < 3:
        return image
    length = float(loud[-1] - loud[0])
    anchor = rng.uniform(loud[0] + 1, loud[-1] - 1)
    return warp_time(image, anchor, anchor + rng.uniform(-max_fraction, max_fraction) * length)


# Ranges of `vary_image`: a word a few frames off centre (trimming a noisy recording moves it), a
# speaker 20 % slower or faster, a vocal tract 10 % longer or shorter; half the words lose their weak
# edges to a stricter trim, half get a recording's noise floor with the margins its author left.
VARY_SHIFT_FRAMES = 6
VARY_STRETCH = (0.8, 1.25)
VARY_WARP = (0.9, 1.1)
VARY_MASK_PROBABILITY = 0.5
VARY_TRIM_PROBABILITY = 0.5
VARY_TRIM_DB = (15.0, 40.0)
VARY_NOISE_PROBABILITY = 0.5
VARY_NOISE_DB = (-45.0, -20.0)
VARY_NOISE_MARGIN_FRAMES = 10
# Measured on FSDD and not kept (docs/human.md, section 2), off: a microphone's colour (−1.9 points) and
# the hiss frames dropped (−0.8). Off, they draw nothing, so the variation's random stream is unchanged.
VARY_COLOUR_PROBABILITY = 0.0
VARY_COLOUR_DB = 8.0
VARY_FRICATIVE_PROBABILITY = 0.0
VARY_FRICATIVE_DB = (25.0, 60.0)
# Measured on FSDD and not kept (docs/human.md, section 2), off: a piecewise-linear time warp within
# the word (−1.9 points).
VARY_TIME_WARP_PROBABILITY = 0.0
VARY_TIME_WARP_FRACTION = 0.2
# Half the words stretched to a length drawn alike for every digit instead, so that a word's length says
# little of its digit: a person's "eight" is as long as his "three" or "six" (30 frames), the synthetic
# "eight" the shortest word (23; docs/human.md, section 2: the answers "8" down by a quarter).
VARY_LENGTH_PROBABILITY = 0.5
VARY_LENGTH_FRAMES = (24.0, 40.0)


def trim_edges(image, trim_db, span_db=80.0):
    """Trim the word again, stricter: the frames at its edges more than ``trim_db`` below its loudest
    frame become silence and what is left is centred again. A weak first or last consonant (the /θ/
    of "three", the /f/ of "four") that a noisy recording or its author's cut leaves out goes the same
    way. ``span_db`` is the dB range of the image's 0 to 1 (the front end's floor)."""
    frame_peak = np.maximum.reduce(image, axis=0)
    loud = np.flatnonzero(frame_peak > np.maximum.reduce(frame_peak) - trim_db / span_db)
    if loud.size == 0:
        return image
    return fit_frames(image[:, int(loud[0]):int(loud[-1]) + 1], image.shape[1], "pad")


def fricative_frames(image, span_db=80.0, voicing_bands=20, quiet_db=15.0, lowest_peak_band=24):
    """The frames of a hiss without a voice (/s/, /f/, /θ/, the /ks/ of "six"): their loudest band lies in
    the upper part of the image and the lowest ``voicing_bands`` stay ``quiet_db`` below it."""
    frame_peak = image.max(axis=0)
    unvoiced = image[:voicing_bands].max(axis=0) < frame_peak - quiet_db / span_db
    return unvoiced & (image.argmax(axis=0) >= lowest_peak_band) & (frame_peak > 0.0)


def drop_fricatives(image, drop_db, span_db=80.0, retrim_db=40.0):
    """The word as an 8 kHz recording gives it: a fricative's energy lies mostly above 4 kHz, where such a
    recording has none, so FSDD's "six" is mostly its vowel (1.8 hiss frames of 18 for one speaker,
    12.8 for espeak's). The fricative frames are lowered by ``drop_db`` and the word is trimmed again at
    the front end's level (``retrim_db``, its default 40 dB) and centred."""
    hiss = fricative_frames(image, span_db)
    if not hiss.any():
        return image
    dropped = image.copy()
    dropped[:, hiss] = np.clip(dropped[:, hiss] - drop_db / span_db, 0.0, 1.0)
    return trim_edges(dropped, retrim_db, span_db)


def colour_spectrum(image, gain_db, span_db=80.0):
    """The word as another microphone, room or line colours it: ``gain_db`` (one value per band) added to
    every pixel above the floor. The floor stays where it is: colour does not lift digital silence."""
    coloured = image + np.asarray(gain_db, dtype=np.float32)[:, None] / span_db
    return np.where(image > 0.0, np.clip(coloured, 0.0, 1.0), image).astype(image.dtype)


def random_colour_db(n_bands, rng, max_db):
    """A smooth random gain over the bands, ±``max_db`` at most: three cosines of random weight and phase
    across the band axis, as ``random_eq`` draws over log-frequency for the waveform."""
    position = np.linspace(0.0, 1.0, n_bands)
    curve = sum(rng.uniform(-1, 1) * np.cos(math.pi * k * position + rng.uniform(0, 2 * math.pi))
                for k in range(1, 4))
    return curve * max_db / max(np.abs(curve).max(), 1e-9)


# The grain of a noise floor's pixel: the mean of k exponentially distributed FFT-bin powers, a
# Gamma(k, 1/k) variable, read from this many of its quantiles (a look-up per pixel; drawing the gamma
# variables themselves had taken most of the variation's time).
NOISE_GRAIN_LEVELS = 256


@functools.lru_cache(maxsize=4)
def noise_grain_table(n_bands, levels=NOISE_GRAIN_LEVELS):
    """``(n_bands, levels)`` float32: the quantiles (j + 1/2) / levels of Gamma(k, 1/k) for each band, k
    from 1 in the lowest band to 6 in the highest (a mel band spans more FFT bins higher up)."""
    bins = np.linspace(1.0, 6.0, n_bands)[:, None]
    quantiles = (np.arange(levels) + 0.5) / levels
    return (scipy.special.gammaincinv(bins, quantiles) / bins).astype(np.float32)


def add_noise_floor(image, rng, level_db, before, after, tilt_db=0.0, span_db=80.0):
    """A recording's noise floor, drawn on the image: noise ``level_db`` below the image's 1 (its
    loudest point), tilted by ``tilt_db`` from the lowest band to the highest, added (as power) over the
    word and ``before`` / ``after`` frames of it, the whole centred again as the front end centres a
    recording whose author started it early and stopped it late. Each pixel's noise power has the
    distribution of the mean of k exponentially distributed bin powers (`noise_grain_table`), so it has
    the grain of a real noise spectrogram, not a flat level."""
    n_bands, n_frames = image.shape
    loud = word_frames(image)
    if loud.size == 0:
        return image
    start, stop = _floor_span(loud, before, after, n_frames)
    table = noise_grain_table(n_bands)
    grain = table[_rows(n_bands), rng.integers(0, table.shape[1], (n_bands, stop - start))]
    return fit_frames(_floor(image[:, start:stop], level_db, tilt_db, grain, span_db), n_frames, "pad")


def _floor_span(loud, before, after, n_frames):
    """The frames a noise floor covers: the word's (``loud``) and ``before`` / ``after`` more, in the image."""
    return max(0, int(loud[0]) - before), min(n_frames, int(loud[-1]) + 1 + after)


def _floor(word, level_db, tilt_db, grain, span_db):
    """``word`` (..., n_bands, n) with its noise floor added as power and clipped to 0…1, before re-centring:
    ``grain`` the pixels' grain (`noise_grain_table`), ``level_db`` and ``tilt_db`` numbers or, for a batch,
    (K, 1, 1) columns."""
    band_db = level_db + tilt_db * _band_slope(word.shape[-2])
    noise_power = (10.0 ** (band_db / 10.0)).astype(np.float32) * grain
    # a pixel v is (v - 1) * span_db dB, its power exp((v - 1) * log_power_span); the floor (0) is silence
    log_power_span = np.float32(math.log(10.0) / 10.0 * span_db)
    word_power = np.subtract(word, np.float32(1.0))
    word_power *= log_power_span
    np.exp(word_power, out=word_power)
    summed = np.where(word > 0, word_power, np.float32(0.0))
    summed += noise_power
    np.log(summed, out=summed)  # then 1 + log / log_power_span, clipped to 0…1, in place (a training image draws it)
    summed /= log_power_span
    summed += np.float32(1.0)
    return _clip(summed, 0.0, 1.0, out=summed)


@functools.lru_cache(maxsize=8)
def _log_range(factors):
    """np.log of a (low, high) range of factors, once per range."""
    return tuple(np.log(factors))


def vary_image(image, rng, span_db=80.0):
    """A fresh random variation of a training image, drawn at every epoch (the classifiers'
    ``--vary-images``): half the time a stricter trim, half the time a recording's noise floor, then a
    time shift, a time stretch (half the time to a length drawn alike for every digit), vocal-tract warp
    and, half the time, a SpecAugment mask. The degraded copies of make_dataset.py are fixed once; these
    change from sweep to sweep. ``span_db`` is the dB range of the image's 0 to 1
    (`features.level_span_db`). The hiss drop, the colour and the time warp come where switched on
    (VARY_FRICATIVE_PROBABILITY, VARY_COLOUR_PROBABILITY, VARY_TIME_WARP_PROBABILITY; off by default)."""
    if VARY_FRICATIVE_PROBABILITY and rng.random() < VARY_FRICATIVE_PROBABILITY:
        image = drop_fricatives(image, rng.uniform(*VARY_FRICATIVE_DB), span_db)
    if VARY_COLOUR_PROBABILITY and rng.random() < VARY_COLOUR_PROBABILITY:
        image = colour_spectrum(image, random_colour_db(len(image), rng, rng.uniform(0.0, VARY_COLOUR_DB)), span_db)
    if rng.random() < VARY_TRIM_PROBABILITY:
        image = trim_edges(image, rng.uniform(*VARY_TRIM_DB), span_db)
    if rng.random() < VARY_NOISE_PROBABILITY:
        margins = rng.integers(0, VARY_NOISE_MARGIN_FRAMES + 1, 2)
        image = add_noise_floor(image, rng, rng.uniform(*VARY_NOISE_DB), int(margins[0]), int(margins[1]),
                                tilt_db=rng.uniform(-10.0, 10.0), span_db=span_db)
    if VARY_TIME_WARP_PROBABILITY and rng.random() < VARY_TIME_WARP_PROBABILITY:
        image = random_time_warp(image, rng, VARY_TIME_WARP_FRACTION)
    shift = rng.uniform(-VARY_SHIFT_FRAMES, VARY_SHIFT_FRAMES)
    factor = math.exp(rng.uniform(*_log_range(VARY_STRETCH)))  # drawn either way: the draws after it stay put
    if VARY_LENGTH_PROBABILITY and rng.random() < VARY_LENGTH_PROBABILITY:
        factor = rng.uniform(*VARY_LENGTH_FRAMES) / max(1, word_frames(image).size)
    varied = shift_and_stretch_time(image, shift, factor)
    varied = warp_frequency(varied, rng.uniform(*VARY_WARP))
    return mask(varied, rng) if rng.random() < VARY_MASK_PROBABILITY else varied


def degrade(samples, rate_hz, rng, babble_sources=(), pitch_semitones=0.0):
    """A random chain of what a real recording may add; each step is applied with some probability.
    ``pitch_semitones`` > 0 adds a formant-preserving pitch shift of up to that many semitones."""
    if rng.random() < 0.5:
        samples = change_speed(samples, rng.uniform(0.88, 1.12))
    if pitch_semitones > 0 and rng.random() < 0.5:
        samples = shift_pitch(samples, rate_hz, rng.uniform(-pitch_semitones, pitch_semitones))
    if rng.random() < 0.5:
        samples = random_eq(samples, rate_hz, rng)
    if rng.random() < 0.3:
        samples = reverb(samples, rate_hz, rng.uniform(0.15, 0.6), rng)
    if rng.random() < 0.6:
        kinds = NOISE_KINDS if len(babble_sources) else NOISE_KINDS[:2]
        samples = add_noise(samples, rng.uniform(5.0, 30.0), kinds[int(rng.integers(len(kinds)))], rng,
                            babble_sources)
    if rng.random() < 0.4:
        samples = telephone(samples, rate_hz)
    return samples


def vary_batch(images, rngs, span_db=80.0):
    """``vary_image`` of a batch: ``images`` (B, n_mels, n_frames) float32, ``rngs`` one Generator per image.
    Each image draws from its own generator what ``vary_image`` would draw, in the same order; the array
    work between the draws runs on all the images it concerns at once, with the same numpy operations
    element by element, so the result equals ``[vary_image(image, rng, span_db) for image, rng in
    zip(images, rngs)]`` bit for bit (tests/test_augment.py) at a fraction of the cost: most of
    ``vary_image``'s time is numpy's overhead per call on 64 x 64 arrays. The variations that are off by
    default (hiss, colour, time warp) are not batched: with any of them on, the images go one by one."""
    images = np.array(images, dtype=np.float32)       # a copy: varied in place below
    if VARY_FRICATIVE_PROBABILITY or VARY_COLOUR_PROBABILITY or VARY_TIME_WARP_PROBABILITY:
        return np.stack([vary_image(image, rng, span_db) for image, rng in zip(images, rngs)])
    batch, n_bands, n_frames = images.shape
    # 1. half the time a stricter trim, image by image (cheap: a few calls)
    for b, rng in enumerate(rngs):
        if rng.random() < VARY_TRIM_PROBABILITY:
            images[b] = trim_edges(images[b], rng.uniform(*VARY_TRIM_DB), span_db)
    # 2. half the time a recording's noise floor: drawn image by image, computed for those images together
    word = np.maximum.reduce(images, axis=1) > 0                               # word_frames, as a mask
    table = noise_grain_table(n_bands)
    noisy, levels, spans = [], [], []
    grain = np.ones_like(images)                   # (outside the spans it is not used)
    for b, rng in enumerate(rngs):
        if rng.random() < VARY_NOISE_PROBABILITY:
            margins = rng.integers(0, VARY_NOISE_MARGIN_FRAMES + 1, 2)
            level_db, tilt_db = rng.uniform(*VARY_NOISE_DB), rng.uniform(-10.0, 10.0)
            loud = np.flatnonzero(word[b])
            if loud.size == 0:
                continue                                  # silence: add_noise_floor leaves it and draws no grain
            start, stop = _floor_span(loud, int(margins[0]), int(margins[1]), n_frames)
            grain[b, :, start:stop] = table[_rows(n_bands), rng.integers(0, table.shape[1], (n_bands, stop - start))]
            noisy.append(b)
            levels.append((level_db, tilt_db))
            spans.append((start, stop))
    if noisy:
        levels = np.array(levels)[:, :, None, None]
        floors = _floor(images[noisy], levels[:, 0], levels[:, 1], grain[noisy], span_db)
        for b, floor, (start, stop) in zip(noisy, floors, spans):
            images[b] = fit_frames(floor[:, start:stop], n_frames, "pad")
    # 3. time shift and stretch, half the words to a common length: one matrix product for the batch
    word_sizes = (np.maximum.reduce(images, axis=1) > 0).sum(axis=1)
    shifts, factors = np.zeros((batch, 1)), np.zeros((batch, 1))
    for b, rng in enumerate(rngs):
        shifts[b] = rng.uniform(-VARY_SHIFT_FRAMES, VARY_SHIFT_FRAMES)
        factors[b] = math.exp(rng.uniform(*_log_range(VARY_STRETCH)))
        if VARY_LENGTH_PROBABILITY and rng.random() < VARY_LENGTH_PROBABILITY:
            factors[b] = rng.uniform(*VARY_LENGTH_FRAMES) / max(1, int(word_sizes[b]))
    source = _stretched_frames(n_frames, shifts, factors)
    images = np.matmul(images, interpolation_matrix(source, n_frames, zero_outside=True))
    # 4. vocal-tract warp: band k reads band k * alpha
    alphas = np.array([[rng.uniform(*VARY_WARP)] for rng in rngs])
    images = np.matmul(interpolation_matrix(np.arange(n_bands) * alphas, n_bands).transpose(0, 2, 1), images)
    # 5. half the time a SpecAugment mask
    for b, rng in enumerate(rngs):
        if rng.random() < VARY_MASK_PROBABILITY:
            images[b] = mask(images[b], rng)
    return images
