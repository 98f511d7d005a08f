"""Augmentation and degradation: each transform does what its name says, to a measured tolerance."""
import json

import numpy as np
import pytest

import melbank
from conftest import run_script
from specae import augment, features
from specae.dataset import augmented_copies

RATE = 22050


def tone(freq_hz, seconds=0.5, rate=RATE):
    return (0.5 * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def band_power(samples, rate, low_hz, high_hz):
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    return spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() / spectrum.sum()


def peak_hz(samples, rate=RATE):
    return np.fft.rfftfreq(len(samples), 1.0 / rate)[np.abs(np.fft.rfft(samples)).argmax()]


@pytest.mark.parametrize("kind", augment.NOISE_KINDS)
@pytest.mark.parametrize("snr_db", [0.0, 7.5, 20.0])
def test_noise_is_added_at_the_requested_snr(kind, snr_db):
    rng = np.random.default_rng(0)
    clean = tone(440)
    others = [tone(f, 0.3) for f in (200, 300, 500, 700, 900, 1100)]
    noisy = augment.add_noise(clean, snr_db, kind, rng, others)
    noise = noisy - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.01)


def test_pink_noise_falls_3_db_per_octave():
    noise = augment.coloured_noise(2 ** 18, "pink", np.random.default_rng(1))
    low, high = band_power(noise, RATE, 500, 1000), band_power(noise, RATE, 1000, 2000)
    assert 10 * np.log10(low / high) == pytest.approx(0.0, abs=0.3)  # equal power per octave
    white = augment.coloured_noise(2 ** 18, "white", np.random.default_rng(1))
    assert 10 * np.log10(band_power(white, RATE, 1000, 2000) / band_power(white, RATE, 500, 1000)) == \
        pytest.approx(3.0, abs=0.3)


def test_telephone_keeps_only_the_phone_band():
    sweep = np.random.default_rng(2).standard_normal(RATE).astype(np.float32) * 0.1
    phone = augment.telephone(sweep, RATE)
    assert len(phone) == len(sweep)
    assert band_power(phone, RATE, 4000, RATE / 2) < 1e-3
    assert band_power(phone, RATE, 0, 150) < 1e-2
    assert band_power(phone, RATE, 400, 3300) > 0.9


@pytest.mark.parametrize("up, down", [(160, 441), (441, 160), (100, 96), (100, 112), (3, 1), (7, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resampling_with_the_filter_designed_once_equals_scipys(up, down, dtype):
    """specae.audio.resample_poly keeps scipy's filter per ratio: the same samples, bit for bit."""
    import scipy.signal
    from specae import audio
    samples = np.random.default_rng(up * down).standard_normal(5000).astype(dtype)
    for _ in range(2):                                   # designed, then taken from the cache
        ours, scipys = audio.resample_poly(samples, up, down), scipy.signal.resample_poly(samples, up, down)
        assert ours.dtype == scipys.dtype and ours.shape == scipys.shape
        np.testing.assert_array_equal(ours.view(np.uint8), scipys.view(np.uint8))


def test_speed_change_scales_pitch_and_length():
    faster = augment.change_speed(tone(500, 1.0), 1.2)
    assert len(faster) == pytest.approx(RATE / 1.2, abs=2)
    assert peak_hz(faster) == pytest.approx(600, abs=2)


def vowel(f0_hz, seconds=0.8, rate=RATE):
    """Harmonics of f0 under a fixed two-formant envelope (500 and 1500 Hz)."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = lambda f: np.exp(-((f - 500) / 200) ** 2) + 0.6 * np.exp(-((f - 1500) / 300) ** 2) + 0.02  # noqa: E731
    return sum(envelope(k * f0_hz) * np.sin(2 * np.pi * k * f0_hz * t)
               for k in range(1, 60) if k * f0_hz < 9000).astype(np.float32)


def f0_by_autocorrelation(samples, rate=RATE):
    core = samples[2048:-2048].astype(np.float64)
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(core, 2 * len(core))) ** 2)[:len(core)]
    low, high = int(rate / 400), int(rate / 60)
    return rate / (low + np.argmax(autocorrelation[low:high]))


def envelope_db(samples, rate=RATE):
    """Power in 24 mel bands of 100–5000 Hz, in dB."""
    core = samples[2048:-2048]
    spectrum = np.abs(np.fft.rfft(core * np.hanning(len(core)), 8192)) ** 2
    return 10 * np.log10(melbank.mel_filterbank(rate, 8192, 24, 100, 5000) @ spectrum + 1e-12)


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 4.0])
def test_pitch_shift_moves_f0_and_keeps_tempo_and_formants(semitones):
    original = vowel(150.0)
    shifted = augment.shift_pitch(original, RATE, semitones)
    assert len(shifted) == len(original) and shifted.dtype == np.float32
    assert f0_by_autocorrelation(shifted) == pytest.approx(150.0 * 2 ** (semitones / 12), rel=0.01)
    assert augment.power(shifted) == pytest.approx(augment.power(original), rel=1e-3)
    # The formants stay: the envelope moves less than under a speed change with the same pitch change.
    kept = np.abs(envelope_db(shifted) - envelope_db(original)).mean()
    moved = np.abs(envelope_db(augment.change_speed(original, 2 ** (semitones / 12))) - envelope_db(original)).mean()
    assert kept < 0.75 * moved


def test_reverb_keeps_length_and_power_and_spreads_in_time():
    click = np.zeros(RATE, np.float32)
    click[1000] = 1.0
    wet = augment.reverb(click, RATE, 0.5, np.random.default_rng(3))
    assert len(wet) == len(click)
    assert np.mean(wet ** 2) == pytest.approx(np.mean(click ** 2), rel=1e-4)
    energy = np.cumsum(wet[1000:].astype(np.float64) ** 2)
    assert energy[int(0.05 * RATE)] / energy[-1] < 0.95 and energy[int(0.5 * RATE)] / energy[-1] > 0.99


def test_frequency_warp_moves_a_band_and_identity_at_one():
    image = np.zeros((64, 8), np.float32)
    image[40] = 1.0
    np.testing.assert_array_equal(augment.warp_frequency(image, 1.0), image)
    warped = augment.warp_frequency(image, 1.25)
    assert warped[:, 0].argmax() == 32


@pytest.mark.parametrize("zero_outside", [False, True])
def test_interpolation_reads_the_image_as_numpy_interp_does(zero_outside):
    rng = np.random.default_rng(11)
    image = rng.random((64, 48)).astype(np.float32)
    for axis, size in ((1, 48), (0, 64)):
        source = np.sort(rng.uniform(-5.0, size + 5.0, 40))
        source[:3] = (0.0, size - 1.0, 7.0)  # the ends and a whole position
        outside = dict(left=0.0, right=0.0) if zero_outside else {}
        lines = image if axis == 1 else image.T
        expected = np.stack([np.interp(source, np.arange(size), line, **outside) for line in lines])
        got = augment.interpolate_axis(image, source, axis, zero_outside=zero_outside)
        # float32 positions: a weight is exact to about 4e-6 at position 64
        np.testing.assert_allclose(got if axis == 1 else got.T, expected, atol=1e-5)


def test_noise_grain_has_the_distribution_of_the_mean_of_k_bin_powers():
    table = augment.noise_grain_table(64)
    assert table.shape == (64, augment.NOISE_GRAIN_LEVELS) and (np.diff(table, axis=1) >= 0).all()
    bins = np.linspace(1.0, 6.0, 64)
    # Gamma(k, 1/k): mean 1, variance 1/k; and its quantiles against gamma draws (Kolmogorov-Smirnov)
    np.testing.assert_allclose(table.mean(axis=1), 1.0, rtol=0.01)
    np.testing.assert_allclose(table.var(axis=1), 1.0 / bins, rtol=0.06)
    for band in (0, 63):
        draws = np.sort(np.random.default_rng(band).gamma(bins[band], 1.0 / bins[band], 20000))
        table_cdf = np.searchsorted(table[band], draws, side="right") / table.shape[1]
        assert np.abs(table_cdf - (np.arange(1, draws.size + 1) / draws.size)).max() < 0.02


def test_mask_zeroes_one_band_range_and_one_frame_range():
    masked = augment.mask(np.ones((64, 64), np.float32), np.random.default_rng(4), 8, 8)
    zero_rows = np.flatnonzero((masked == 0).all(axis=1))
    zero_columns = np.flatnonzero((masked == 0).all(axis=0))
    for zeros in (zero_rows, zero_columns):
        assert len(zeros) <= 8 and (len(zeros) == 0 or np.all(np.diff(zeros) == 1))
    untouched = np.delete(np.delete(masked, zero_rows, axis=0), zero_columns, axis=1)
    assert (untouched == 1).all()


def test_time_shift_by_whole_frames_is_a_roll_with_silence_coming_in():
    image = np.random.default_rng(5).random((8, 64)).astype(np.float32)
    later = augment.shift_and_stretch_time(image, 5, 1.0)
    np.testing.assert_allclose(later[:, 5:], image[:, :-5], atol=1e-6)
    assert (later[:, :5] == 0).all()
    earlier = augment.shift_and_stretch_time(image, -3, 1.0)
    np.testing.assert_allclose(earlier[:, :-3], image[:, 3:], atol=1e-6)
    assert (earlier[:, -3:] == 0).all()


def test_time_stretch_scales_a_word_about_the_centre():
    image = np.zeros((4, 64), np.float32)
    image[:, 22:42] = 1.0  # a 20-frame word about frame 31.5, the centre
    longer = augment.shift_and_stretch_time(image, 0, 1.5)
    shorter = augment.shift_and_stretch_time(image, 0, 0.5)
    for stretched, length in ((longer, 30), (shorter, 10)):
        voiced = np.flatnonzero(stretched[0] > 0.5)
        assert abs(len(voiced) - length) <= 1
        assert abs(voiced.mean() - 31.5) <= 0.5


def test_words_stretched_to_one_length_image_by_image_and_as_a_batch():
    rng = np.random.default_rng(8)
    images = np.zeros((5, 6, 64), np.float32)
    for image, length in zip(images, (10, 17, 24, 33, 40)):  # words centred as the front end centres them
        start = (64 - length) // 2
        image[:, start:start + length] = rng.uniform(0.2, 1.0, (6, length))
    batch = augment.stretch_words(images, 32)
    for image, stretched in zip(images, batch):
        n = augment.word_frames(image).size
        np.testing.assert_allclose(stretched, augment.shift_and_stretch_time(image, 0.0, 32 / n), atol=1e-6)
        np.testing.assert_allclose(augment.stretch_words(image, 32), stretched, atol=1e-6)
        # 32 frames, plus the interpolation's ramp into silence: up to one input frame at each end
        assert 31 <= augment.word_frames(stretched).size <= 33 + 2 * 32 / n
    silent = np.zeros((1, 6, 64), np.float32)  # no word: stays silence, no division by zero
    np.testing.assert_array_equal(augment.stretch_words(silent, 32), silent)


def test_frequency_warp_of_a_batch_warps_each_image_alike():
    images = np.random.default_rng(9).random((3, 64, 20)).astype(np.float32)
    batch = augment.warp_frequency(images, 0.92)
    for image, warped in zip(images, batch):
        np.testing.assert_allclose(warped, augment.interpolate_axis(image, np.arange(64) * 0.92, axis=0), atol=1e-6)


def test_time_warp_lengthens_one_part_of_the_word_and_keeps_its_span():
    image = np.zeros((4, 64), np.float32)
    image[:, 20:30] = 0.3  # a consonant, 10 frames
    image[:, 30:44] = 0.9  # a vowel, 14 frames: the word spans frames 20-43
    longer_vowel = augment.warp_time(image, anchor=30.0, moved=25.0)
    for warped, consonant_frames in ((longer_vowel, 5), (augment.warp_time(image, 30.0, 30.0), 10)):
        loud = np.flatnonzero(warped[0] > 0.15)
        assert loud[0] == 20 and loud[-1] == 43
        assert abs(int((warped[0, 20:44] < 0.6).sum()) - consonant_frames) <= 1
    np.testing.assert_array_equal(augment.warp_time(image, 30.0, 30.0), image)
    np.testing.assert_array_equal(longer_vowel[:, :20], 0)


@pytest.mark.parametrize("trim_db, frames_left", [(12.0, 16), (25.0, 16), (40.0, 30)])
def test_trimming_again_equals_the_front_end_trimming_the_word_at_that_level(trim_db, frames_left):
    # a word of 30 frames: a vowel (16 frames at 0-8 dB below the peak) between weak consonants
    # (32-40 dB below), centred by the front end at its default 40 dB
    rng = np.random.default_rng(int(trim_db))
    word = rng.uniform(0.5, 0.6, (64, 30)).astype(np.float32)
    word[:, 8:24] += 0.4
    params = features.FeatureParams()
    start, stop = features.voiced_span(word, params)
    centred = features.fit_frames(word[:, start:stop], 64, "pad")
    stricter = features.FeatureParams(trim_db=trim_db)
    start, stop = features.voiced_span(word, stricter)
    expected = features.fit_frames(word[:, start:stop], 64, "pad")
    np.testing.assert_array_equal(augment.trim_edges(centred, trim_db, span_db=params.floor_db), expected)
    assert (expected.max(axis=0) > 0).sum() == frames_left


def test_noise_floor_has_its_level_and_margins_and_the_recording_is_centred_again():
    image = np.zeros((64, 64), np.float32)
    image[:, 20:40] = 1.0  # a word at the image's peak, 20 frames
    before, after, level_db = 8, 2, -30.0
    noisy = augment.add_noise_floor(image, np.random.default_rng(3), level_db, before, after)
    recording = np.flatnonzero(noisy.max(axis=0) > 0)
    length = 20 + before + after
    assert recording[0] == (64 - length) // 2 and recording[-1] == recording[0] + length - 1
    word = recording[0] + before
    np.testing.assert_allclose(noisy[:, word:word + 20], 1.0, atol=0.01)  # 30 dB above the noise
    margin = np.concatenate([noisy[:, recording[0]:word], noisy[:, word + 20:recording[-1] + 1]], axis=1)
    mean_power_db = 10 * np.log10(np.mean(10 ** ((margin - 1.0) * 80.0 / 10.0)))
    assert abs(mean_power_db - level_db) < 0.5
    # margins of 10 frames: the recording spans frames 12-51, its first margin 12-21
    tilted = augment.add_noise_floor(image, np.random.default_rng(3), level_db, 10, 10, tilt_db=12.0)
    low, high = (10 * np.log10(np.mean(10 ** ((tilted[bands, 12:22] - 1.0) * 80.0 / 10.0)))
                 for bands in (slice(0, 16), slice(48, 64)))
    assert 7.0 < high - low < 11.0  # the centres of the two quarters lie 3/4 of the 12 dB apart


def test_hiss_frames_are_found_lowered_and_trimmed_away_at_the_word_edge():
    image = np.zeros((64, 64), np.float32)
    image[:, 20:36] = np.linspace(0.9, 0.5, 64)[:, None]  # a vowel: strongest in the low bands
    image[40:, 36:44] = 0.8  # a final /s/: energy in the upper bands only, the low ones at the floor
    image[:40, 36:44] = 0.1
    image[40:, 10:14] = 0.85  # a hiss at the start, then 6 frames of silence, as in "s-ix"
    hiss = augment.fricative_frames(image, span_db=80.0)
    np.testing.assert_array_equal(np.flatnonzero(hiss), np.r_[10:14, 36:44])
    # lowered 50 dB, the hiss falls more than the front end's 40 dB below the vowel's peak: trimmed away,
    # and the vowel alone is centred again, exactly as the front end would centre it
    dropped = augment.drop_fricatives(image, 50.0, span_db=80.0)
    np.testing.assert_array_equal(dropped, features.fit_frames(image[:, 20:36], 64, "pad"))
    # lowered 10 dB, the hiss stays (30 dB below the peak), 10 dB weaker
    kept = augment.drop_fricatives(image, 10.0, span_db=80.0)
    np.testing.assert_allclose(kept[40:, kept.max(axis=0) > 0].max(), 0.85 - 10.0 / 80.0, rtol=1e-6)
    assert (kept.max(axis=0) > 0).sum() == (image.max(axis=0) > 0).sum()  # no frame trimmed
    voiced_only = np.zeros((64, 64), np.float32)
    voiced_only[:, 20:36] = 0.7
    assert augment.drop_fricatives(voiced_only, 50.0) is voiced_only  # nothing to drop: the image as it is


def test_colour_moves_each_band_of_the_word_by_its_gain_and_leaves_the_floor_alone():
    image = np.zeros((64, 64), np.float32)
    image[:, 20:40] = np.linspace(0.3, 0.7, 64)[:, None]  # a word 24-56 dB above the 80 dB floor
    gain_db = augment.random_colour_db(64, np.random.default_rng(4), 8.0)
    assert abs(np.abs(gain_db).max() - 8.0) < 1e-9
    # three cosines over the band axis: a smooth curve, at most a few turns, not noise
    assert np.count_nonzero(np.diff(np.sign(np.diff(gain_db)))) <= 5
    coloured = augment.colour_spectrum(image, gain_db, span_db=80.0)
    np.testing.assert_allclose((coloured[:, 20:40] - image[:, 20:40]) * 80.0, np.repeat(gain_db[:, None], 20, 1),
                               atol=1e-4)
    assert not coloured[:, :20].any() and not coloured[:, 40:].any()
    loud = augment.colour_spectrum(np.full((64, 4), 0.98, np.float32), np.full(64, 8.0), span_db=80.0)
    assert loud.max() == 1.0  # clipped at the image's peak, as the front end clips


def test_image_variations_are_reproducible_and_different_each_draw():
    image = np.random.default_rng(6).random((64, 64)).astype(np.float32)
    first = augment.vary_image(image, np.random.default_rng([1, 2, 0]))
    np.testing.assert_array_equal(first, augment.vary_image(image, np.random.default_rng([1, 2, 0])))
    second = augment.vary_image(image, np.random.default_rng([1, 2, 1]))
    assert first.shape == image.shape and first.dtype == np.float32
    assert not np.allclose(first, second) and not np.allclose(first, image)
    assert first.min() >= 0 and first.max() <= 1


def test_length_stretch_gives_every_word_a_length_in_the_drawn_range_whatever_its_own(monkeypatch):
    # only the length stretch left on: the word's length afterwards no longer tells a 16- from a 44-frame word
    for name, value in (("VARY_TRIM_PROBABILITY", 0.0), ("VARY_NOISE_PROBABILITY", 0.0), ("VARY_SHIFT_FRAMES", 0),
                        ("VARY_WARP", (1.0, 1.0)), ("VARY_MASK_PROBABILITY", 0.0), ("VARY_LENGTH_PROBABILITY", 1.0)):
        monkeypatch.setattr(augment, name, value)
    low, high = augment.VARY_LENGTH_FRAMES
    for own_length in (16, 30, 44):
        image = np.zeros((8, 64), np.float32)
        image[:, 32 - own_length // 2:32 - own_length // 2 + own_length] = 0.8
        lengths = [int((augment.vary_image(image, np.random.default_rng([own_length, i]))[0] > 0.4).sum())
                   for i in range(40)]
        assert low - 1 <= min(lengths) and max(lengths) <= high + 1
        assert max(lengths) - min(lengths) >= (high - low) / 2  # drawn, not fixed


def test_envelope_smoothing_removes_harmonic_ripple():
    bands = np.arange(64)
    envelope = 0.5 + 0.3 * np.cos(2 * np.pi * bands / 64)
    ripple = 0.1 * np.cos(2 * np.pi * bands / 3)
    image = np.tile((envelope + ripple)[:, np.newaxis], (1, 4)).astype(np.float32)
    smoothed = features.smooth_envelope(image, 12)
    assert np.abs(smoothed[8:56, 0] - envelope[8:56]).max() < 0.03
    np.testing.assert_allclose(features.smooth_envelope(image, 64), image, atol=1e-6)


def test_augmented_copies_are_deterministic_and_differ_from_the_originals(tiny_corpus):
    index = json.loads((tiny_corpus / "spectrogram" / "index.json").read_text())
    entries, params = index["files"], features.FeatureParams()
    first, sources = augmented_copies(entries, [0, 1, 2], params, copies=2, seed=7)
    first = np.stack(list(first))
    again, _ = augmented_copies(entries, [0, 1, 2], params, copies=2, seed=7, jobs=2)
    assert first.shape == (6, 1, 64, 64) and sources.tolist() == [0, 1, 2, 0, 1, 2]
    np.testing.assert_array_equal(first, np.stack(list(again)))
    original = np.load(tiny_corpus / "spectrogram" / entries[0]["npy"])
    assert not np.allclose(first[0], original, atol=0.05)
    pitched, _ = augmented_copies(entries, [0, 1, 2], params, copies=2, seed=7, pitch_semitones=3.0)
    pitched = np.stack(list(pitched))
    assert pitched.shape == first.shape and not np.array_equal(pitched, first)


def test_degraded_set_and_augmented_dataset(tiny_corpus, tmp_path):
    run_script("examples/robustness/make_degraded.py", "--dataset", tiny_corpus / "DataSet", "--out", tmp_path / "degraded")
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    names = sorted(entry["wav"].rsplit("/", 1)[1] for entry in manifest["test"]["files"])
    for condition in ("telephone", "noise", "reverb", "voice", "mixed"):
        assert sorted(p.name for p in (tmp_path / "degraded" / condition).iterdir()) == names
    run_script("make_dataset.py", "--spec", tiny_corpus / "spectrogram", "--out", tmp_path / "DataSet",
               "--test-ratio", 0.25, "--augment", 1, "--jobs", 1)
    train = np.load(tmp_path / "DataSet" / "train_data.npy")
    labels = np.load(tmp_path / "DataSet" / "train_label.npy")
    plain = np.load(tiny_corpus / "DataSet" / "train_data.npy")
    assert train.shape == (120, 1, 64, 64)
    np.testing.assert_array_equal(train[:60], plain)
    np.testing.assert_array_equal(labels[60:], labels[:60])
    test = np.load(tmp_path / "DataSet" / "test_data.npy")
    np.testing.assert_array_equal(test, np.load(tiny_corpus / "DataSet" / "test_data.npy"))


def _word_images(rng, count):
    """Spectrogram-like images in [0, 1]: a word of random length and place in silence, some edge cases."""
    images = np.zeros((count, 64, 64), np.float32)
    for k in range(count):
        length = int(rng.integers(1, 65))
        start = int(rng.integers(0, 64 - length + 1))
        images[k, :, start:start + length] = rng.random((64, length)) ** 2
    images[0] = 0.0                              # silence: no frame to trim, no word for the noise floor
    images[1] = rng.random((64, 64))             # a word as long as the image
    images[2, :, 30] = 1.0                       # one loud frame
    images[2, :, :30] = 0.0
    images[2, :, 31:] = 0.0
    return images


def test_varying_a_batch_gives_the_images_varied_one_by_one_bit_for_bit():
    """augment.vary_batch against augment.vary_image, each image with a generator seeded alike: the same
    draws in the same order and the same arithmetic, so the same bits (the training scripts vary their
    batches this way; a resumed run and every result measured before depend on it)."""
    rng = np.random.default_rng(21)
    images = _word_images(rng, 90)
    for span_db in (80.0, 60.0):
        for start in range(0, len(images), 30):
            chunk = images[start:start + 30]
            seeds = [[7, start, k] for k in range(len(chunk))]
            one_by_one = np.stack([augment.vary_image(image, np.random.default_rng(seed), span_db)
                                   for image, seed in zip(chunk, seeds)])
            batched = augment.vary_batch(chunk, [np.random.default_rng(seed) for seed in seeds], span_db)
            assert batched.dtype == np.float32 and batched.shape == chunk.shape
            np.testing.assert_array_equal(batched.view(np.uint32), one_by_one.view(np.uint32))
    assert augment.vary_batch(images[:1], [np.random.default_rng(0)]).shape == (1, 64, 64)


def test_varying_a_batch_with_a_variation_that_is_off_by_default_goes_one_by_one(monkeypatch):
    monkeypatch.setattr(augment, "VARY_COLOUR_PROBABILITY", 0.5)
    images = _word_images(np.random.default_rng(22), 8)
    one_by_one = np.stack([augment.vary_image(image, np.random.default_rng(k)) for k, image in enumerate(images)])
    batched = augment.vary_batch(images, [np.random.default_rng(k) for k in range(len(images))])
    np.testing.assert_array_equal(batched, one_by_one)
