"""Spectrogram inversion: STFT inverse, mel → linear, Griffin-Lim and the front end undone."""
import numpy as np
import pytest
import scipy.optimize

import melbank
from specae import features, inversion
from specae.features import FeatureParams

RATE = 22050
PARAMS = FeatureParams()


def chirp(seconds=0.6, low_hz=200.0, high_hz=2500.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * (low_hz * t + (high_hz - low_hz) / (2 * seconds) * t ** 2))).astype(np.float32)


def test_stft_is_the_front_ends_and_istft_inverts_it_exactly():
    signal = chirp()
    spectrum = inversion.stft(signal)
    np.testing.assert_allclose(np.abs(spectrum), melbank.stft_magnitude(signal), rtol=1e-4, atol=1e-4)
    rebuilt = inversion.istft(spectrum)
    assert len(rebuilt) == (len(spectrum) - 1) * 256 + 1024
    np.testing.assert_allclose(rebuilt, signal[:len(rebuilt)], atol=1e-6)


def test_mel_to_linear_reaches_the_nnls_optimum():
    weights = np.asarray(melbank.mel_filterbank(RATE, 1024, 64, PARAMS.fmin_hz, PARAMS.fmax_hz), np.float64)
    magnitude = melbank.stft_magnitude(chirp()).astype(np.float64)
    mel = weights @ magnitude.T
    linear = inversion.mel_to_linear(mel, PARAMS, iterations=200)
    assert linear.shape == magnitude.shape and linear.min() >= 0.0
    assert inversion.spectral_convergence(mel, weights @ linear.T) < 1e-4
    # scipy's active-set NNLS on a few frames is the independent optimum: ours is as good.
    for frame in (3, 20, 40):
        _, best = scipy.optimize.nnls(weights, mel[:, frame])
        ours = np.linalg.norm(weights @ linear[frame] - mel[:, frame])
        assert ours <= best + 1e-3 * np.linalg.norm(mel[:, frame])
    # More projected-gradient steps never raise the residual.
    residuals = [np.linalg.norm(weights @ inversion.mel_to_linear(mel, PARAMS, n).T - mel) for n in (0, 5, 50)]
    assert residuals[0] >= residuals[1] >= residuals[2]


def test_griffin_lim_converges_on_a_known_signal():
    magnitude = np.abs(inversion.stft(chirp()))
    _, plain = inversion.griffin_lim(magnitude, iterations=60, momentum=0.0, trace=True)
    assert len(plain) == 61
    assert np.all(np.diff(plain) <= 1e-9), "plain Griffin-Lim never raises the inconsistency"
    assert plain[-1] < 0.25 * plain[0]
    _, fast = inversion.griffin_lim(magnitude, iterations=60, momentum=0.99, trace=True)
    assert fast[-1] < plain[-1], "momentum converges faster"
    # Starting from the true phase the spectrogram is already consistent: nothing to do.
    true_phase = np.angle(inversion.stft(chirp()))
    _, exact = inversion.griffin_lim(magnitude, iterations=3, momentum=0.0, init=true_phase, trace=True)
    assert max(exact) < 1e-6


def test_a_chirp_survives_log_mel_inversion_and_back():
    """Stated bound: spectral convergence of the mel magnitudes below 0.06 after 100 fast iterations."""
    signal = chirp()
    log_mel = features.log_mel(signal, PARAMS)
    audio = inversion.log_mel_to_audio(log_mel, PARAMS, iterations=100, momentum=0.99)
    assert abs(len(audio) - len(signal)) < PARAMS.hop_length
    again = features.log_mel(audio, PARAMS)
    assert inversion.spectral_convergence(10 ** (log_mel / 20), 10 ** (again / 20)) < 0.06
    # The level is absolute: the rebuilt chirp is as loud as the original, within 1 dB.
    assert 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) / np.mean(signal.astype(np.float64) ** 2)) == \
        pytest.approx(0.0, abs=1.0)


def test_image_round_trip_keeps_the_image_level_and_length():
    silence = np.zeros(RATE // 5, np.float32)
    signal = np.concatenate([silence, chirp(0.5, 300.0, 1800.0), silence])
    image, info = features.image_from_samples(signal, PARAMS)
    assert info["span_frames"][0] > 0  # the front end trimmed silence, which the inversion restores
    audio = inversion.image_to_audio(image, info, PARAMS, iterations=100)
    assert (len(audio) - PARAMS.n_fft) // PARAMS.hop_length + 1 == info["total_frames"]
    again, info_again = features.image_from_samples(audio, PARAMS)
    assert info_again["reference_db"] == pytest.approx(info["reference_db"], abs=1.0)
    assert all(abs(a - b) <= 1 for a, b in zip(info_again["span_frames"], info["span_frames"]))
    # Compared before the time fit: a span one frame longer stretches the whole image differently.
    held = 10 ** (inversion.image_to_log_mel(image, info, PARAMS) / 20)  # what the image holds
    original, rebuilt = (10 ** (features.log_mel(x, PARAMS) / 20) for x in (signal, audio))
    assert inversion.spectral_convergence(held, rebuilt) < 0.06
    # the resize to 64 frames and back blurs a fast chirp: most of the distance to the original
    assert inversion.spectral_convergence(original, held) < 0.12
    assert inversion.spectral_convergence(original, rebuilt) < 0.15


def test_image_to_log_mel_undoes_level_and_resize():
    """A steady tone: every frame alike, so the resize is exact and the dB come back to the floor."""
    # 8 periods per hop: every frame sees the same samples, so every column of the log-mel is equal.
    tone = (0.3 * np.sin(2 * np.pi * 8 * RATE / 256 * np.arange(RATE // 2) / RATE)).astype(np.float32)
    padded = np.concatenate([np.zeros(3000, np.float32), tone, np.zeros(3000, np.float32)])
    image, info = features.image_from_samples(padded, PARAMS)
    start, stop = info["span_frames"]
    log_mel_db = inversion.image_to_log_mel(image, info, PARAMS)
    expected = np.maximum(features.log_mel(padded, PARAMS), info["reference_db"] - PARAMS.floor_db)
    assert log_mel_db.shape == expected.shape
    # frames well inside the tone (the span's first and last frames are partly silent, and the
    # resize to 64 frames and back spreads them over a few neighbours)
    inside = slice(start + 5, stop - 5)
    assert np.ptp(expected[:, inside], axis=1).max() == 0.0
    np.testing.assert_allclose(log_mel_db[:, inside], expected[:, inside], atol=0.01)
    assert np.all(log_mel_db[:, :start] == info["reference_db"] - PARAMS.floor_db)
    with pytest.raises(ValueError, match="reference_db"):
        inversion.image_to_log_mel(image, {"span_frames": [0, 1], "total_frames": 1}, PARAMS)
