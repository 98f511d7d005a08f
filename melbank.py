"""Mel filterbank and log-mel spectrogram, vectorised with numpy/scipy.

This is the feature front end of the project.  Its defaults reproduce the
features of the original Spectrogram_Autoencoder (shun60s), which computed
them with ``pyfilterbank.melbank.compute_melmat``:

* 22050 Hz audio, ``n_fft = 1024``, ``hop_length = 256``, symmetric Hamming
  window, no centre padding, only full frames;
* 64 triangular mel bands between 50 Hz and 5000 Hz on the HTK mel scale,
  each triangle with peak 1 (not area-normalised);
* the filterbank is applied to the *magnitude* spectrum (not the power
  spectrum) and the result is converted with ``20 * log10``.

The module is written in the style of ``librosa.filters.mel`` but does not
depend on librosa.  Filterbanks and windows are cached per parameter set and
returned read-only, because the same parameters are used for thousands of
files.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import scipy.fft
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "hz_to_mel",
    "mel_to_hz",
    "mel_band_edges_hz",
    "mel_filterbank",
    "frame_signal",
    "stft_magnitude",
    "mel_spectrogram",
    "amplitude_to_db",
    "log_mel_spectrogram",
]

_HTK_MEL_FACTOR = 2595.0
_HTK_BREAK_HZ = 700.0


def hz_to_mel(frequencies_hz):
    """Convert frequencies in Hz to mels on the HTK mel scale.

    Parameters
    ----------
    frequencies_hz : float or array_like
        Frequencies in Hz.

    Returns
    -------
    mels : numpy.float64 or numpy.ndarray of float64
        ``2595 * log10(1 + frequencies_hz / 700)``, with the shape of the
        input (a NumPy scalar for scalar input).

    See Also
    --------
    mel_to_hz : The inverse conversion.

    Notes
    -----
    This is the HTK formula used by pyfilterbank and by
    ``librosa.hz_to_mel(..., htk=True)``; it is *not* the Slaney scale that
    librosa uses by default.

    Examples
    --------
    >>> bool(float(hz_to_mel(700.0)) == 2595.0 * np.log10(2.0))
    True
    >>> hz_to_mel([0.0, 1000.0]).round(2)
    array([  0.  , 999.99])
    """
    frequencies_hz = np.asarray(frequencies_hz, dtype=np.float64)
    return _HTK_MEL_FACTOR * np.log10(1.0 + frequencies_hz / _HTK_BREAK_HZ)


def mel_to_hz(mels):
    """Convert mels on the HTK mel scale to frequencies in Hz.

    Parameters
    ----------
    mels : float or array_like
        Mel values.

    Returns
    -------
    frequencies_hz : numpy.float64 or numpy.ndarray of float64
        ``700 * (10 ** (mels / 2595) - 1)``, with the shape of the input.

    See Also
    --------
    hz_to_mel : The inverse conversion.

    Examples
    --------
    >>> round(float(mel_to_hz(hz_to_mel(440.0))), 9)
    440.0
    """
    mels = np.asarray(mels, dtype=np.float64)
    return _HTK_BREAK_HZ * (10.0 ** (mels / _HTK_MEL_FACTOR) - 1.0)


def _check_positive_int(name, value):
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _check_mel_range(n_mels, fmin_hz, fmax_hz):
    n_mels = operator.index(n_mels)
    if n_mels < 1:
        raise ValueError(f"n_mels must be at least 1, got {n_mels}")
    fmin_hz = float(fmin_hz)
    fmax_hz = float(fmax_hz)
    if not fmin_hz >= 0.0:
        raise ValueError(f"fmin_hz must be non-negative, got {fmin_hz}")
    if not fmin_hz < fmax_hz:
        raise ValueError(
            f"fmin_hz must be below fmax_hz, got fmin_hz={fmin_hz}, "
            f"fmax_hz={fmax_hz}"
        )
    return n_mels, fmin_hz, fmax_hz


def mel_band_edges_hz(n_mels=64, fmin_hz=50.0, fmax_hz=5000.0):
    """Frequencies of the mel band edges and centres.

    Parameters
    ----------
    n_mels : int > 0
        Number of mel bands.
    fmin_hz : float >= 0
        Lower edge of the first band, in Hz.
    fmax_hz : float > fmin_hz
        Upper edge of the last band, in Hz.

    Returns
    -------
    edges_hz : numpy.ndarray, shape (n_mels + 2,), float64
        Frequencies equally spaced on the HTK mel scale from ``fmin_hz`` to
        ``fmax_hz``.  Band ``i`` rises from ``edges_hz[i]`` to its centre
        ``edges_hz[i + 1]`` and falls to ``edges_hz[i + 2]``.

    Raises
    ------
    ValueError
        If ``n_mels < 1``, ``fmin_hz < 0`` or ``fmin_hz >= fmax_hz``.

    Notes
    -----
    Same spacing as ``pyfilterbank.melbank.melfrequencies_mel_filterbank``.
    The two end points are set to ``fmin_hz`` and ``fmax_hz`` exactly rather
    than taken from the mel round trip.

    Examples
    --------
    >>> edges = mel_band_edges_hz(n_mels=3, fmin_hz=0.0, fmax_hz=4000.0)
    >>> edges.shape
    (5,)
    >>> edges[[0, -1]]
    array([   0., 4000.])
    """
    n_mels, fmin_hz, fmax_hz = _check_mel_range(n_mels, fmin_hz, fmax_hz)
    mels = np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2)
    edges_hz = mel_to_hz(mels)
    edges_hz[0], edges_hz[-1] = fmin_hz, fmax_hz
    return edges_hz


def _read_only(array):
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=32)
def _cached_mel_filterbank(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz,
                           dtype):
    edges_hz = mel_band_edges_hz(n_mels, fmin_hz, fmax_hz)
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    bin_hz = scipy.fft.rfftfreq(n_fft, d=1.0 / sample_rate_hz)

    rising = (bin_hz - lower[:, None]) / (centre - lower)[:, None]
    falling = (upper[:, None] - bin_hz) / (upper - centre)[:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))

    # A band narrower than the bin spacing can fall between two bins; it
    # would then be silent forever and give a constant -200 dB feature row.
    empty = ~weights.any(axis=1)
    if empty.any():
        nearest = np.abs(bin_hz[None, :] - centre[empty, None]).argmin(axis=1)
        weights[np.flatnonzero(empty), nearest] = 1.0

    return _read_only(weights.astype(dtype))


def mel_filterbank(sample_rate_hz=22050, n_fft=1024, n_mels=64, fmin_hz=50.0,
                   fmax_hz=5000.0, dtype=np.float32):
    """Triangular mel filterbank matrix for ``rfft`` spectra.

    Parameters
    ----------
    sample_rate_hz : float > 0
        Sampling rate of the audio, in Hz.
    n_fft : int > 0
        FFT length; the spectra have ``1 + n_fft // 2`` bins.
    n_mels : int > 0
        Number of mel bands.
    fmin_hz : float >= 0
        Lower edge of the first band, in Hz.
    fmax_hz : float, fmin_hz < fmax_hz <= sample_rate_hz / 2
        Upper edge of the last band, in Hz.
    dtype : numpy dtype
        Data type of the returned matrix.

    Returns
    -------
    weights : numpy.ndarray, shape (n_mels, 1 + n_fft // 2)
        Read-only filterbank.  Row ``i`` is the triangle of band ``i``
        (lowest band first) sampled at the ``rfft`` bin frequencies
        ``k * sample_rate_hz / n_fft``.  Multiply a magnitude spectrum of
        shape ``(1 + n_fft // 2,)`` by it to obtain the mel spectrum.

    Raises
    ------
    ValueError
        If ``sample_rate_hz <= 0``, ``n_fft < 1``, ``n_mels < 1``,
        ``fmin_hz < 0``, ``fmin_hz >= fmax_hz`` or
        ``fmax_hz > sample_rate_hz / 2``.

    See Also
    --------
    mel_band_edges_hz : The band edges and centres used here.

    Notes
    -----
    Band ``i`` with edges ``lo, c, hi = edges_hz[i:i + 3]`` has weight
    ``max(0, min((f - lo) / (c - lo), (hi - f) / (hi - c)))`` at bin
    frequency ``f``: 1 at the centre, 0 at and outside the edges.  The
    triangles are *not* area-normalised (unlike librosa's default
    ``norm="slaney"``), as in ``pyfilterbank.melbank.compute_melmat``.  Since
    the triangle is evaluated only at the bins, a row's largest value is 1
    only when a bin falls on the centre; it is otherwise the value at one of
    the two bins around the centre.

    If a band is so narrow that no bin lies strictly between its edges (low
    bands with a small ``n_fft``), its row would be all zero.  Such a row
    instead gets a single 1 at the bin nearest to the band centre, so that
    every band carries energy.  With the defaults this never happens.

    For odd ``n_fft`` the bin frequencies are the exact ``rfft``
    frequencies; pyfilterbank used ``linspace(0, sample_rate / 2, n_bins)``,
    which agrees only for even ``n_fft``.

    The result is cached per parameter set (``functools.lru_cache``), hence
    read-only; copy it before modifying.

    Examples
    --------
    >>> weights = mel_filterbank()
    >>> weights.shape, weights.dtype
    ((64, 513), dtype('float32'))
    >>> bool(weights.max() <= 1.0 and weights.min() >= 0.0)
    True
    """
    sample_rate_hz = float(sample_rate_hz)
    if not sample_rate_hz > 0.0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    n_fft = _check_positive_int("n_fft", n_fft)
    n_mels, fmin_hz, fmax_hz = _check_mel_range(n_mels, fmin_hz, fmax_hz)
    if fmax_hz > sample_rate_hz / 2.0:
        raise ValueError(
            f"fmax_hz={fmax_hz} exceeds the Nyquist frequency "
            f"sample_rate_hz / 2 = {sample_rate_hz / 2.0}"
        )
    return _cached_mel_filterbank(sample_rate_hz, n_fft, n_mels, fmin_hz,
                                  fmax_hz, np.dtype(dtype))


def _as_mono(signal):
    signal = np.asarray(signal)
    if signal.ndim != 1:
        raise ValueError(
            f"signal must be a 1-D (mono) array, got shape {signal.shape}"
        )
    return signal


def frame_signal(signal, n_fft=1024, hop_length=256):
    """Split a signal into overlapping full frames without copying.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Mono signal.
    n_fft : int > 0
        Frame length in samples.
    hop_length : int > 0
        Number of samples between the starts of consecutive frames.

    Returns
    -------
    frames : numpy.ndarray, shape (n_frames, n_fft)
        Read-only strided view of ``signal`` (same dtype), with
        ``n_frames = 1 + (n_samples - n_fft) // hop_length``.  Frame ``t``
        is ``signal[t * hop_length : t * hop_length + n_fft]``.

    Raises
    ------
    ValueError
        If ``signal`` is not 1-D, or ``n_fft`` or ``hop_length`` is not a
        positive integer.

    Notes
    -----
    As in the original project there is no centre padding, and trailing
    samples that do not fill a whole frame are dropped.  A signal shorter
    than ``n_fft`` (including an empty one) is not an error: it is
    zero-padded at the end to ``n_fft`` samples and gives exactly one frame,
    which is then a view of that padded copy.

    Examples
    --------
    >>> frame_signal(np.arange(10.0), n_fft=4, hop_length=3)
    array([[0., 1., 2., 3.],
           [3., 4., 5., 6.],
           [6., 7., 8., 9.]])
    >>> frame_signal(np.ones(2), n_fft=4, hop_length=3)
    array([[1., 1., 0., 0.]])
    """
    signal = _as_mono(signal)
    n_fft = _check_positive_int("n_fft", n_fft)
    hop_length = _check_positive_int("hop_length", hop_length)
    if signal.shape[0] < n_fft:
        signal = np.pad(signal, (0, n_fft - signal.shape[0]))
    return sliding_window_view(signal, n_fft)[::hop_length]


@functools.lru_cache(maxsize=32)
def _cached_window(window, n_fft):
    return _read_only(
        scipy.signal.get_window(window, n_fft, fftbins=False).astype(np.float32)
    )


def _window_array(window, n_fft):
    if isinstance(window, (str, tuple)):
        return _cached_window(window, n_fft)
    window = np.asarray(window, dtype=np.float32)
    if window.shape != (n_fft,):
        raise ValueError(
            f"window array must have shape ({n_fft},), got {window.shape}"
        )
    return window


def _windowed_spectrum(signal, n_fft, hop_length, window):
    """rfft of every windowed frame of a real mono signal: (n_frames, 1 + n_fft // 2) complex64."""
    signal = _as_mono(signal)
    if np.iscomplexobj(signal):
        raise ValueError("signal must be real-valued, got a complex array")
    frames = frame_signal(signal.astype(np.float32, copy=False), n_fft,
                          hop_length)
    return scipy.fft.rfft(frames * _window_array(window, frames.shape[1]),
                          axis=-1)


def stft_magnitude(signal, n_fft=1024, hop_length=256, window="hamming"):
    """Magnitude of the short-time Fourier transform.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Mono signal; computed in float32.
    n_fft : int > 0
        Frame and FFT length in samples.
    hop_length : int > 0
        Number of samples between frames.
    window : str, tuple or array_like, shape (n_fft,)
        Window specification for ``scipy.signal.get_window`` (evaluated
        *symmetric*, ``fftbins=False``), or the window samples themselves.

    Returns
    -------
    magnitude : numpy.ndarray, shape (n_frames, 1 + n_fft // 2), float32
        ``|rfft(window * frame)|`` for every frame of
        ``frame_signal(signal, n_fft, hop_length)``, time on axis 0.

    Raises
    ------
    ValueError
        If ``signal`` is not 1-D or is complex, if ``n_fft`` or
        ``hop_length`` is not a positive integer, or if a window array has
        the wrong length.

    Notes
    -----
    The original project used ``numpy.hamming(n_fft)``, the symmetric
    Hamming window.  ``get_window("hamming", n_fft, fftbins=False)`` is the
    same window (equal to within 1e-15), whereas scipy's default
    ``fftbins=True`` would give the periodic one.

    The signal is framed as in `frame_signal` (no centre padding, short
    signals zero-padded to one frame).  All frames are transformed by a
    single ``scipy.fft.rfft`` call.

    Examples
    --------
    >>> sr, n_fft = 22050, 1024
    >>> tone = np.sin(2 * np.pi * 1000.0 * np.arange(sr) / sr)
    >>> magnitude = stft_magnitude(tone, n_fft=n_fft, hop_length=256)
    >>> magnitude.shape, magnitude.dtype
    ((83, 513), dtype('float32'))
    >>> int(magnitude[0].argmax()) == round(1000.0 * n_fft / sr)
    True
    """
    return np.abs(_windowed_spectrum(signal, n_fft, hop_length, window))


def mel_spectrogram(signal, sample_rate_hz=22050, n_fft=1024, hop_length=256,
                    window="hamming", n_mels=64, fmin_hz=50.0, fmax_hz=5000.0):
    """Mel-weighted magnitude spectrogram.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Mono signal.
    sample_rate_hz : float > 0
        Sampling rate of ``signal``, in Hz.
    n_fft : int > 0
        Frame and FFT length in samples.
    hop_length : int > 0
        Number of samples between frames.
    window : str, tuple or array_like
        Analysis window, see `stft_magnitude`.
    n_mels : int > 0
        Number of mel bands.
    fmin_hz, fmax_hz : float
        Frequency range of the filterbank, see `mel_filterbank`.

    Returns
    -------
    mel : numpy.ndarray, shape (n_mels, n_frames), float32
        ``mel_filterbank(...) @ stft_magnitude(...).T``: frequency on axis 0
        (lowest band first), time on axis 1.

    Raises
    ------
    ValueError
        For a signal that is not 1-D or invalid parameters, see
        `stft_magnitude` and `mel_filterbank`.

    Notes
    -----
    The filterbank weights the *magnitude* spectrum, not the power
    spectrum, as in the original project.  Only the bins inside the
    filterbank's span are computed and multiplied (the others have zero
    weight), so the result equals ``weights @ stft_magnitude(...).T`` up to
    float32 rounding.  ``n_frames`` follows
    `frame_signal`: ``1 + (n_samples - n_fft) // hop_length``, and 1 for a
    signal shorter than ``n_fft``.

    Examples
    --------
    >>> mel = mel_spectrogram(np.zeros(22050))
    >>> mel.shape, mel.dtype
    ((64, 83), dtype('float32'))
    """
    weights = mel_filterbank(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz)
    first, stop, band = _filterbank_support(weights)
    spectrum = _windowed_spectrum(signal, n_fft, hop_length, window)
    return band @ np.abs(spectrum[:, first:stop]).T


_SUPPORTS = {}


def _filterbank_support(weights):
    """``(first, stop, weights[:, first:stop])``: the bins any band uses.

    Bins outside every triangle (above ``fmax_hz``, below ``fmin_hz``)
    contribute nothing, so `mel_spectrogram` takes the magnitude of and
    multiplies only these (with the defaults: 183 of 513 bins).  Cached per
    (read-only, cached) filterbank.
    """
    key = id(weights)
    cached = _SUPPORTS.get(key)
    if cached is None or cached[0] is not weights:
        used = np.flatnonzero(weights.any(axis=0))
        first, stop = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
        band = _read_only(np.ascontiguousarray(weights[:, first:stop]))
        if len(_SUPPORTS) >= 64:
            _SUPPORTS.clear()
        cached = _SUPPORTS[key] = (weights, first, stop, band)
    return cached[1:]


def amplitude_to_db(amplitude, amin=1e-10):
    """Convert an amplitude (magnitude) array to decibels.

    Parameters
    ----------
    amplitude : array_like
        Non-negative amplitudes.
    amin : float > 0
        Floor applied before the logarithm, so that silence maps to
        ``20 * log10(amin)`` (-200 dB by default) instead of ``-inf``.

    Returns
    -------
    db : numpy.ndarray, float32
        ``20 * log10(maximum(amplitude, amin))``, shape of the input.

    Raises
    ------
    ValueError
        If ``amin`` is not positive.

    Notes
    -----
    No reference level and no dynamic-range clipping are applied (unlike
    ``librosa.amplitude_to_db``'s ``ref`` and ``top_db``), as in the
    original project.

    Examples
    --------
    >>> amplitude_to_db([1.0, 10.0, 0.0]).round(3)
    array([   0.,   20., -200.], dtype=float32)
    """
    if not amin > 0:
        raise ValueError(f"amin must be positive, got {amin}")
    amplitude = np.asarray(amplitude, dtype=np.float32)
    return 20.0 * np.log10(np.maximum(amplitude, np.float32(amin)))


def log_mel_spectrogram(signal, sample_rate_hz=22050, n_fft=1024,
                        hop_length=256, window="hamming", n_mels=64,
                        fmin_hz=50.0, fmax_hz=5000.0, amin=1e-10):
    """Log-mel spectrogram in dB, the features of the original project.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Mono signal.
    sample_rate_hz, n_fft, hop_length, window, n_mels, fmin_hz, fmax_hz
        As in `mel_spectrogram`.
    amin : float > 0
        Amplitude floor, see `amplitude_to_db`.

    Returns
    -------
    log_mel : numpy.ndarray, shape (n_mels, n_frames), float32
        ``amplitude_to_db(mel_spectrogram(...), amin)``: frequency on
        axis 0 (lowest band first), time on axis 1.

    Raises
    ------
    ValueError
        For a signal that is not 1-D or invalid parameters.

    Examples
    --------
    >>> sr = 22050
    >>> tone = np.sin(2 * np.pi * 1000.0 * np.arange(sr // 2) / sr)
    >>> features = log_mel_spectrogram(tone, sample_rate_hz=sr)
    >>> features.shape, features.dtype
    ((64, 40), dtype('float32'))
    """
    mel = mel_spectrogram(signal, sample_rate_hz, n_fft, hop_length, window,
                          n_mels, fmin_hz, fmax_hz)
    return amplitude_to_db(mel, amin)
