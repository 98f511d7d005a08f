"""Tests for melbank: a naive reference, filter shape and framing rules."""

import doctest
import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

import melbank

SR = 22050
N_FFT = 1024
HOP = 256
N_MELS = 64
FMIN = 50.0
FMAX = 5000.0
N_BINS = N_FFT // 2 + 1


# --- independent naive reference (deliberately loops, float64) -------------

def _ref_hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _ref_mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def _ref_filterbank(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX):
    mel_lo, mel_hi = _ref_hz_to_mel(fmin), _ref_hz_to_mel(fmax)
    step = (mel_hi - mel_lo) / (n_mels + 1)
    edges = [_ref_mel_to_hz(mel_lo + j * step) for j in range(n_mels + 2)]
    weights = np.zeros((n_mels, n_fft // 2 + 1))
    for i in range(n_mels):
        lo, centre, hi = edges[i], edges[i + 1], edges[i + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if lo <= f <= centre:
                weights[i, k] = (f - lo) / (centre - lo)
            elif centre < f <= hi:
                weights[i, k] = (hi - f) / (hi - centre)
    return weights


def _ref_log_mel(signal, sr=SR, n_fft=N_FFT, hop=HOP):
    weights = _ref_filterbank(sr, n_fft)
    window = np.hamming(n_fft)
    n_frames = 1 + (len(signal) - n_fft) // hop
    out = np.empty((weights.shape[0], n_frames))
    for t in range(n_frames):
        frame = np.asarray(signal[t * hop:t * hop + n_fft], dtype=np.float64)
        magnitude = np.abs(np.fft.fft(frame * window))[:n_fft // 2 + 1]
        out[:, t] = 20.0 * np.log10(np.maximum(weights @ magnitude, 1e-10))
    return out


def _chirp(seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return scipy.signal.chirp(t, f0=60.0, t1=seconds, f1=4800.0,
                              method="logarithmic")


def _assert_close_db(actual, expected):
    assert actual.shape == expected.shape
    audible = expected > -100.0
    assert audible.mean() > 0.9
    np.testing.assert_allclose(actual[audible], expected[audible], atol=2e-2)
    # float32 FFT error is relative to the largest bin of the frame, so bands
    # far below the frame's peak (chirp leakage) can be off by a few 1e-3 dB.
    strong = audible & (expected > expected.max(axis=0) - 60.0)
    assert strong.mean() > 0.5
    np.testing.assert_allclose(actual[strong], expected[strong], atol=1e-3)


# --- agreement with the reference ------------------------------------------

def test_filterbank_matches_naive_reference():
    np.testing.assert_allclose(melbank.mel_filterbank(), _ref_filterbank(),
                               atol=1e-6)


def test_log_mel_matches_naive_reference_on_noise():
    signal = np.random.default_rng(0).uniform(-1.0, 1.0, SR)
    _assert_close_db(melbank.log_mel_spectrogram(signal), _ref_log_mel(signal))


def test_log_mel_matches_naive_reference_on_chirp():
    signal = _chirp()
    _assert_close_db(melbank.log_mel_spectrogram(signal), _ref_log_mel(signal))


def test_log_mel_matches_reference_with_trailing_partial_frame():
    signal = np.random.default_rng(1).normal(size=N_FFT + 3 * HOP + 100)
    expected = _ref_log_mel(signal)
    assert expected.shape == (N_MELS, 4)
    _assert_close_db(melbank.log_mel_spectrogram(signal), expected)


# --- mel scale ---------------------------------------------------------------

def test_known_mel_values():
    assert melbank.hz_to_mel(0.0) == 0.0
    assert melbank.hz_to_mel(700.0) == pytest.approx(2595.0 * np.log10(2.0))
    assert melbank.hz_to_mel(1000.0) == pytest.approx(999.99, abs=0.01)
    assert melbank.mel_to_hz(2595.0 * np.log10(2.0)) == pytest.approx(700.0)


def test_mel_conversion_keeps_shape_and_is_float64():
    freqs = np.array([[0.0, 100.0], [1000.0, 8000.0]], dtype=np.float32)
    mels = melbank.hz_to_mel(freqs)
    assert mels.shape == (2, 2) and mels.dtype == np.float64
    assert melbank.mel_to_hz(mels).shape == (2, 2)
    assert np.ndim(melbank.hz_to_mel(440.0)) == 0


@given(st.floats(min_value=0.0, max_value=1e5))
def test_hz_mel_round_trip(freq_hz):
    back = melbank.mel_to_hz(melbank.hz_to_mel(freq_hz))
    assert back == pytest.approx(freq_hz, rel=1e-9, abs=1e-9)


@given(st.floats(min_value=0.0, max_value=5000.0))
def test_mel_hz_round_trip(mels):
    back = melbank.hz_to_mel(melbank.mel_to_hz(mels))
    assert back == pytest.approx(mels, rel=1e-9, abs=1e-9)


def test_band_edges_are_equally_spaced_in_mel():
    edges = melbank.mel_band_edges_hz(N_MELS, FMIN, FMAX)
    assert edges.shape == (N_MELS + 2,)
    assert edges[0] == FMIN and edges[-1] == FMAX
    steps = np.diff(melbank.hz_to_mel(edges))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


# --- filterbank shape ----------------------------------------------------------

@pytest.fixture(scope="module")
def bank():
    weights = melbank.mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX)
    edges = melbank.mel_band_edges_hz(N_MELS, FMIN, FMAX)
    bin_hz = np.arange(N_BINS) * SR / N_FFT
    return weights, edges, bin_hz


def test_filterbank_shape_dtype_and_range(bank):
    weights, _, _ = bank
    assert weights.shape == (N_MELS, N_BINS)
    assert weights.dtype == np.float32
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    assert (weights.max(axis=1) > 0.0).all()


def test_filterbank_is_zero_outside_band_edges(bank):
    weights, edges, bin_hz = bank
    for i in range(N_MELS):
        outside = (bin_hz <= edges[i]) | (bin_hz >= edges[i + 2])
        assert not weights[i, outside].any(), f"band {i}"


def test_filterbank_peaks_next_to_centre(bank):
    # The triangles are sampled, and the falling side is slightly longer in
    # Hz than the rising one, so when the centre is almost midway between
    # two bins the farther bin may carry marginally more weight.
    weights, edges, bin_hz = bank
    centres = edges[1:-1]
    nearest = np.abs(bin_hz[None, :] - centres[:, None]).argmin(axis=1)
    peak = weights.argmax(axis=1)
    below = np.searchsorted(bin_hz, centres) - 1
    assert np.isin(peak - below, [0, 1]).all()
    rows = np.arange(N_MELS)
    assert (weights[rows, nearest] >= 0.99 * weights[rows, peak]).all()
    assert (peak == nearest).mean() > 0.95


def test_filterbank_supports_cover_range_without_gap(bank):
    weights, _, bin_hz = bank
    inside = (bin_hz > FMIN) & (bin_hz < FMAX)
    assert weights[:, inside].any(axis=0).all()
    assert not weights[:, ~inside].any()


def test_centre_frequencies_increase(bank):
    weights, edges, bin_hz = bank
    assert (np.diff(edges) > 0).all()
    centroid = (weights * bin_hz).sum(axis=1) / weights.sum(axis=1)
    assert (np.diff(centroid) > 0).all()


def test_narrow_bands_get_nearest_bin():
    # 128 bands over 0-1000 Hz with 86 Hz bins: many triangles fall between
    # bins, which would leave all-zero rows.
    sr, n_fft = 22050, 256
    weights = melbank.mel_filterbank(sr, n_fft, n_mels=128, fmin_hz=0.0,
                                     fmax_hz=1000.0)
    edges = melbank.mel_band_edges_hz(128, 0.0, 1000.0)
    bin_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    naive = _ref_filterbank(sr, n_fft, 128, 0.0, 1000.0)
    empty = ~naive.any(axis=1)
    assert empty.any()
    assert (weights.max(axis=1) > 0.0).all()
    nearest = np.abs(bin_hz[None, :] - edges[1:-1, None]).argmin(axis=1)
    for i in np.flatnonzero(empty):
        expected = np.zeros(n_fft // 2 + 1)
        expected[nearest[i]] = 1.0
        np.testing.assert_array_equal(weights[i], expected)
    np.testing.assert_allclose(weights[~empty], naive[~empty], atol=1e-6)


def test_filterbank_is_cached_and_read_only():
    weights = melbank.mel_filterbank()
    assert melbank.mel_filterbank(dtype="float32") is weights
    with pytest.raises(ValueError):
        weights[0, 0] = 2.0
    assert melbank.mel_filterbank(dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("tone_hz", [440.0, 1000.0, 3000.0])
def test_pure_tone_peaks_in_nearest_band(tone_hz):
    signal = np.sin(2.0 * np.pi * tone_hz * np.arange(SR) / SR)
    mel = melbank.mel_spectrogram(signal)
    centres = melbank.mel_band_edges_hz()[1:-1]
    assert (mel.argmax(axis=0) == np.abs(centres - tone_hz).argmin()).all()


# --- framing -------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n_samples=st.integers(0, 3000), n_fft=st.integers(1, 700),
       hop_length=st.integers(1, 400))
def test_frame_count_and_content(n_samples, n_fft, hop_length):
    signal = np.arange(1.0, n_samples + 1.0)
    frames = melbank.frame_signal(signal, n_fft, hop_length)
    n_frames = 1 + (max(n_samples, n_fft) - n_fft) // hop_length
    assert frames.shape == (n_frames, n_fft)
    padded = np.concatenate([signal, np.zeros(max(0, n_fft - n_samples))])
    last = (n_frames - 1) * hop_length
    np.testing.assert_array_equal(frames[-1], padded[last:last + n_fft])
    np.testing.assert_array_equal(frames[0], padded[:n_fft])


def test_short_signal_gives_one_zero_padded_frame():
    frames = melbank.frame_signal(np.ones(100), n_fft=N_FFT, hop_length=HOP)
    assert frames.shape == (1, N_FFT)
    assert frames[0, :100].sum() == 100 and not frames[0, 100:].any()
    assert melbank.log_mel_spectrogram(np.ones(100)).shape == (N_MELS, 1)
    assert melbank.log_mel_spectrogram(np.array([])).shape == (N_MELS, 1)


def test_frames_are_a_read_only_view():
    signal = np.arange(4096.0)
    frames = melbank.frame_signal(signal)
    assert np.shares_memory(frames, signal)
    assert not frames.flags.writeable
    with pytest.raises(ValueError):
        frames[0, 0] = 1.0


def test_hamming_window_is_numpy_symmetric_hamming():
    window = scipy.signal.get_window("hamming", N_FFT, fftbins=False)
    np.testing.assert_allclose(window, np.hamming(N_FFT), rtol=0, atol=1e-15)


def test_window_array_is_accepted():
    signal = np.random.default_rng(2).normal(size=4000)
    np.testing.assert_allclose(
        melbank.stft_magnitude(signal, window=np.hamming(N_FFT)),
        melbank.stft_magnitude(signal, window="hamming"), rtol=1e-6)


# --- output contract ---------------------------------------------------------

def test_output_dtypes_and_shapes():
    signal = np.random.default_rng(3).normal(size=SR).astype(np.float64)
    n_frames = 1 + (SR - N_FFT) // HOP
    magnitude = melbank.stft_magnitude(signal)
    assert magnitude.shape == (n_frames, N_BINS)
    assert magnitude.dtype == np.float32
    for features in (melbank.mel_spectrogram(signal),
                     melbank.log_mel_spectrogram(signal)):
        assert features.shape == (N_MELS, n_frames)
        assert features.dtype == np.float32


def test_amplitude_to_db():
    db = melbank.amplitude_to_db(np.array([1.0, 10.0, 1e-3, 0.0]))
    assert db.dtype == np.float32
    np.testing.assert_allclose(db, [0.0, 20.0, -60.0, -200.0], atol=1e-4)
    assert melbank.amplitude_to_db([0.0], amin=1e-5)[0] == pytest.approx(-100)


# --- errors --------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(fmax_hz=12000.0), "Nyquist"),
    (dict(fmin_hz=-1.0), "fmin_hz must be non-negative"),
    (dict(fmin_hz=5000.0, fmax_hz=5000.0), "fmin_hz must be below fmax_hz"),
    (dict(fmin_hz=6000.0, fmax_hz=5000.0), "fmin_hz must be below fmax_hz"),
    (dict(n_mels=0), "n_mels must be at least 1"),
    (dict(n_fft=0), "n_fft must be a positive integer"),
    (dict(sample_rate_hz=0), "sample_rate_hz must be positive"),
])
def test_filterbank_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        melbank.mel_filterbank(**kwargs)


def test_signal_must_be_one_dimensional():
    with pytest.raises(ValueError, match="1-D"):
        melbank.log_mel_spectrogram(np.zeros((2, 4096)))
    with pytest.raises(ValueError, match="1-D"):
        melbank.frame_signal(np.float64(1.0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_fft=0), "n_fft must be a positive integer"),
    (dict(hop_length=0), "hop_length must be a positive integer"),
])
def test_frame_signal_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        melbank.frame_signal(np.zeros(4096), **kwargs)


def test_other_errors():
    with pytest.raises(ValueError, match="amin must be positive"):
        melbank.amplitude_to_db([1.0], amin=0.0)
    with pytest.raises(ValueError, match="real-valued"):
        melbank.stft_magnitude(np.zeros(2048, dtype=complex))
    with pytest.raises(ValueError, match="window array must have shape"):
        melbank.stft_magnitude(np.zeros(2048), window=np.ones(10))


def test_docstring_examples():
    result = doctest.testmod(melbank, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
