"""From a spectrogram image back to audio: undo the front end, mel to linear magnitude, Griffin-Lim.

Shared by three extensions: listen, vae (morph WAVs) and separation (its STFT).

The front end (`specae.features.image_from_samples`) maps a clip to a 64×64 image in [0, 1]. Three
of its steps lose information for good: the phase, the detail the mel bands average away, and
everything more than ``floor_db`` below the clip's maximum. The other steps are undone exactly with
what it records per clip (``reference_db``, ``span_frames``, ``total_frames``; kept in
``spectrogram/index.json`` and in the data set's ``manifest.json``):

1. `image_to_log_mel`: [0, 1] back to dB with ``reference_db``, the 64 frames back to the voiced span's
   length, the trimmed silence restored at the floor;
2. `mel_to_linear`: mel magnitudes to a non-negative linear magnitude spectrum (pseudo-inverse of
   the filterbank clipped at 0, refined by projected-gradient non-negative least squares);
3. `griffin_lim`: a phase consistent with that magnitude (Griffin & Lim 1984; with ``momentum`` the
   fast variant of Perraudin, Balazs & Søndergaard 2013).

The STFT here is the front end's own (`melbank.stft_magnitude`): symmetric window, no centre
padding, full frames only; `istft` is its least-squares inverse.
"""
import functools

import numpy as np
import scipy.fft

import melbank
from specae.features import FeatureParams, fit_frames

__all__ = ["stft", "istft", "griffin_lim", "spectral_convergence", "mel_to_linear", "image_to_log_mel",
           "log_mel_to_audio", "image_to_audio"]


def _window(window, n_fft):
    return melbank._window_array(window, n_fft).astype(np.float64)


def stft(signal, n_fft=1024, hop_length=256, window="hamming"):
    """Complex STFT with the front end's framing.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Mono signal.
    n_fft, hop_length : int
        Frame length and hop in samples.
    window : str or array_like
        As in `melbank.stft_magnitude`.

    Returns
    -------
    spectrum : numpy.ndarray, shape (n_frames, 1 + n_fft // 2), complex128
        ``rfft(window * frame)`` per frame; ``abs`` of it is `melbank.stft_magnitude`.
    """
    frames = melbank.frame_signal(np.asarray(signal, dtype=np.float64), n_fft, hop_length)
    return scipy.fft.rfft(frames * _window(window, n_fft), axis=-1)


@functools.lru_cache(maxsize=16)
def _overlap_index(n_frames, n_fft, hop_length):
    index = (np.arange(n_frames)[:, None] * hop_length + np.arange(n_fft)).ravel()
    index.setflags(write=False)  # cached and shared
    return index


def istft(spectrum, n_fft=1024, hop_length=256, window="hamming"):
    """Least-squares inverse of `stft`: the signal whose STFT is closest to ``spectrum``.

    Parameters
    ----------
    spectrum : array_like, shape (n_frames, 1 + n_fft // 2), complex
        Any complex spectrogram, consistent or not.
    n_fft, hop_length, window
        As in `stft`.

    Returns
    -------
    signal : numpy.ndarray, shape ((n_frames - 1) * hop_length + n_fft,), float64
        ``sum_t w(n - tH) y_t(n - tH) / sum_t w(n - tH)**2``, with ``y_t = irfft(spectrum[t])``
        (Griffin & Lim 1984). ``istft(stft(x))`` returns ``x`` exactly over the frames' extent.

    Notes
    -----
    The overlap-add is one ``numpy.bincount`` over all frames.
    The symmetric Hamming window never reaches zero, so the division is safe at the edges too.
    """
    spectrum = np.asarray(spectrum)
    n_frames = spectrum.shape[0]
    frames = scipy.fft.irfft(spectrum, n=n_fft, axis=-1) * _window(window, n_fft)
    summed = np.bincount(_overlap_index(n_frames, n_fft, hop_length), weights=frames.ravel())
    norm = np.bincount(_overlap_index(n_frames, n_fft, hop_length),
                       weights=np.tile(_window(window, n_fft) ** 2, n_frames))
    return summed / np.maximum(norm, 1e-12)


def spectral_convergence(reference, estimate):
    """``||reference - estimate||_F / ||reference||_F`` for magnitude spectrograms.

    Parameters
    ----------
    reference, estimate : array_like
        Non-negative arrays of the same shape.

    Returns
    -------
    float
        0 for a perfect match; 1 when ``estimate`` is all zero.
    """
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(reference - np.asarray(estimate, dtype=np.float64)) /
                 max(np.linalg.norm(reference), 1e-30))


def griffin_lim(magnitude, n_fft=1024, hop_length=256, window="hamming", iterations=100, momentum=0.99,
                init="random", rng=None, trace=False):
    """A signal whose STFT magnitude is close to ``magnitude``.

    Parameters
    ----------
    magnitude : array_like, shape (n_frames, 1 + n_fft // 2)
        Target STFT magnitude, time on axis 0 (as `melbank.stft_magnitude`).
    n_fft, hop_length, window
        The STFT, as in `stft`.
    iterations : int >= 0
        Projections onto the consistent spectrograms and back onto the target magnitude.
    momentum : float in [0, 1)
        0 is the original Griffin-Lim; Perraudin et al. recommend 0.99 ("fast Griffin-Lim").
    init : {"random", "zeros"} or array_like
        The initial phase: uniform random, all zero, or given (radians, shape of ``magnitude``).
    rng : numpy.random.Generator, optional
        For ``init="random"``; default ``numpy.random.default_rng(0)`` so the result is repeatable.
    trace : bool
        Also return the inconsistency after each iteration.

    Returns
    -------
    signal : numpy.ndarray, shape ((n_frames - 1) * hop_length + n_fft,), float32
    inconsistency : list of float
        Only with ``trace=True``: ``spectral_convergence(magnitude, |stft(signal_k)|)`` for the
        signal after iterations 0 (the initial phase alone), 1, ..., ``iterations``.

    Notes
    -----
    Each iteration is ``t_k = P1(P2(c_{k-1}))``, ``c_k = t_k + momentum * (t_k - t_{k-1})``, with
    ``P2`` the STFT of the least-squares `istft` (nearest consistent spectrogram) and ``P1`` the
    replacement of the magnitude by the target. With ``momentum=0`` the inconsistency never rises
    (Griffin & Lim 1984).
    """
    magnitude = np.asarray(magnitude, dtype=np.float64)
    if not 0.0 <= momentum < 1.0:
        raise ValueError("momentum must be in [0, 1), got {}".format(momentum))
    if isinstance(init, str):
        if init == "random":
            phase = (rng or np.random.default_rng(0)).uniform(-np.pi, np.pi, magnitude.shape)
        elif init == "zeros":
            phase = np.zeros(magnitude.shape)
        else:
            raise ValueError("init must be 'random', 'zeros' or an array of phases, not {!r}".format(init))
    else:
        phase = np.asarray(init, dtype=np.float64)
    spectrum = magnitude * np.exp(1j * phase)
    previous = spectrum
    transform = functools.partial(stft, n_fft=n_fft, hop_length=hop_length, window=window)
    inverse = functools.partial(istft, n_fft=n_fft, hop_length=hop_length, window=window)
    history = []
    for _ in range(iterations):
        rebuilt = transform(inverse(spectrum))
        if trace:
            history.append(spectral_convergence(magnitude, np.abs(rebuilt)))
        # exp(i·angle) of an exact zero is 1: harmless, the magnitude there is the target's anyway.
        projected = magnitude * np.exp(1j * np.angle(rebuilt))
        spectrum = projected + momentum * (projected - previous)
        previous = projected
    signal = inverse(previous)
    if trace:
        history.append(spectral_convergence(magnitude, np.abs(transform(signal))))
        return signal.astype(np.float32), history
    return signal.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _mel_inverse(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz):
    weights = np.asarray(melbank.mel_filterbank(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz), np.float64)
    used = np.flatnonzero(weights.any(axis=0))
    first, stop = int(used[0]), int(used[-1]) + 1
    band = weights[:, first:stop]
    pinv = np.linalg.pinv(band)
    # 1 / Lipschitz constant of the least-squares gradient: the largest step that never diverges.
    step = 1.0 / np.linalg.norm(band, 2) ** 2
    return weights.shape[1], first, stop, band, pinv, step


def mel_to_linear(mel, params=FeatureParams(), iterations=50):
    """Non-negative linear magnitudes that the filterbank maps (nearly) onto ``mel``.

    Parameters
    ----------
    mel : array_like, shape (n_mels, n_frames)
        Mel magnitudes (not dB), as `melbank.mel_spectrogram`.
    params : FeatureParams
        The filterbank: ``sample_rate_hz``, ``n_fft``, ``n_mels``, ``fmin_hz``, ``fmax_hz``.
    iterations : int >= 0
        Projected-gradient steps of non-negative least squares after the clipped pseudo-inverse;
        0 keeps the clipped pseudo-inverse.

    Returns
    -------
    magnitude : numpy.ndarray, shape (n_frames, 1 + n_fft // 2), float64
        Time on axis 0, ready for `griffin_lim`. Bins outside the filterbank's span are 0.

    Notes
    -----
    ``min ||W x - m||² subject to x >= 0`` for all frames at once: the clipped minimum-norm
    solution ``max(0, pinv(W) m)`` starts ``x ← max(0, x - W^T (W x - m) / ||W||²)``, which lowers
    the residual at every step. Frames are independent, so the iteration is one matrix product per
    step over all of them, instead of ``scipy.optimize.nnls`` frame by frame.
    """
    n_bins, first, stop, band, pinv, step = _mel_inverse(params.sample_rate_hz, params.n_fft, params.n_mels,
                                                          params.fmin_hz, params.fmax_hz)
    mel = np.asarray(mel, dtype=np.float64)
    solution = np.maximum(pinv @ mel, 0.0)
    for _ in range(iterations):
        solution = np.maximum(solution - step * (band.T @ (band @ solution - mel)), 0.0)
    magnitude = np.zeros((mel.shape[1], n_bins))
    magnitude[:, first:stop] = solution.T
    return magnitude


def image_to_log_mel(image, info, params=FeatureParams()):
    """Undo the front end's level scaling and time fitting: the image back to the clip's dB.

    Parameters
    ----------
    image : array_like, shape (n_mels, params.n_frames)
        An image of `image_from_samples` or a reconstruction of one (clipped to [0, 1] here).
    info : dict
        ``reference_db``, ``span_frames`` and ``total_frames`` of the clip, as `image_from_samples`
        returns them (and index.json and manifest.json keep them per file).
    params : FeatureParams
        The front end that made the image.

    Returns
    -------
    log_mel_db : numpy.ndarray, shape (n_mels, total_frames), float64
        dB as `melbank.log_mel_spectrogram`, except that everything at or below the image's floor
        comes back at the floor (``reference_db - floor_db``), including the trimmed silence.

    Raises
    ------
    ValueError
        For ``band_norm`` images (each band's mean is gone), or when ``info`` lacks a field.
    """
    if params.band_norm:
        raise ValueError("band-normalised images cannot be inverted: each band's level was removed")
    missing = [key for key in ("reference_db", "span_frames", "total_frames") if key not in info]
    if missing:
        raise ValueError("no {} for this clip (rebuild the spectrograms and data set)".format(", ".join(missing)))
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    start, stop = (int(v) for v in info["span_frames"])
    total = int(info["total_frames"])
    length = stop - start
    if params.fit == "resize":
        voiced = fit_frames(image, length, "resize")
    else:  # pad: the span was centred in silence (or its centre cropped); take it back out
        voiced = np.zeros((image.shape[0], length), np.float32)
        if length <= params.n_frames:
            offset = (params.n_frames - length) // 2
            voiced[:] = image[:, offset:offset + length]
        else:
            offset = (length - params.n_frames) // 2
            voiced[:, offset:offset + params.n_frames] = image
    clip = np.zeros((image.shape[0], total), np.float64)
    clip[:, start:stop] = voiced
    reference_db = float(info["reference_db"])
    if params.level == "clip_max":
        low_db = reference_db - params.floor_db
    else:
        low_db, reference_db = params.fixed_range_db
    return low_db + clip * (reference_db - low_db)


def log_mel_to_audio(log_mel_db, params=FeatureParams(), iterations=100, momentum=0.99, nnls_iterations=50,
                     rng=None):
    """dB mel spectrogram (n_mels, n_frames) → float32 samples at ``params.sample_rate_hz``."""
    magnitude = mel_to_linear(10.0 ** (np.asarray(log_mel_db, np.float64) / 20.0), params, nnls_iterations)
    return griffin_lim(magnitude, params.n_fft, params.hop_length, params.window, iterations, momentum, rng=rng)


def image_to_audio(image, info, params=FeatureParams(), iterations=100, momentum=0.99, nnls_iterations=50,
                   rng=None):
    """A front-end image (or a reconstruction of one) → float32 samples, at the clip's own level and length.

    See `image_to_log_mel` for ``info`` and `griffin_lim` for ``iterations`` and ``momentum``.
    """
    return log_mel_to_audio(image_to_log_mel(image, info, params), params, iterations, momentum,
                            nnls_iterations, rng)
