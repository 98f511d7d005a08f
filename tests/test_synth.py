"""espeak-ng synthesis (specae.synth) and the make_wav.py command line."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import deterministic_prefix_draws
from specae import synth

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"^[0-9]_[^_]+_[0-9]+\.wav$")


def rms(samples):
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def fundamental_hz(samples):
    """The strongest periodicity between 60 and 400 Hz of the middle half of a word (autocorrelation)."""
    middle = samples[len(samples) // 4: 3 * len(samples) // 4].astype(np.float64)
    correlation = np.correlate(middle, middle, "full")[len(middle) - 1:]
    shortest, longest = synth.SAMPLE_RATE_HZ // 400, synth.SAMPLE_RATE_HZ // 60
    return synth.SAMPLE_RATE_HZ / (shortest + np.argmax(correlation[shortest:longest]))


def test_synthesize_gives_int16_speech():
    samples = synth.synthesize("seven", "en-us+f3", rate_wpm=160, pitch=50, pitch_range=50)
    assert synth.SAMPLE_RATE_HZ == 22050
    assert samples.dtype == np.int16 and samples.ndim == 1
    assert 0.2 * synth.SAMPLE_RATE_HZ < samples.size < 2 * synth.SAMPLE_RATE_HZ
    assert rms(samples) > 500 and np.abs(samples.astype(np.int32)).max() > 5000


def test_slower_rate_is_longer():
    slow = synth.synthesize("seven", "en-us", rate_wpm=80)
    fast = synth.synthesize("seven", "en-us", rate_wpm=260)
    assert slow.size > 1.3 * fast.size


def test_variants_and_pitch_change_the_audio():
    base = synth.synthesize("four", "en+m1")
    assert not np.array_equal(base, synth.synthesize("four", "en+f3"))
    assert not np.array_equal(base, synth.synthesize("four", "en+m1", pitch=80))


def test_output_does_not_depend_on_earlier_calls():
    first = synth.synthesize("three", "en-gb-x-rp+whisper", rate_wpm=120)
    synth.synthesize("hello world", "en-us+croak", rate_wpm=300, word_gap=20)
    again = synth.synthesize("three", "en-gb-x-rp+whisper", rate_wpm=120)
    assert np.array_equal(first, again)


def test_word_gap_and_free_text():
    plain = synth.synthesize("hello there", "en-us")
    gapped = synth.synthesize("hello there", "en-us", word_gap=30)
    assert gapped.size > plain.size + 0.2 * synth.SAMPLE_RATE_HZ


@pytest.mark.parametrize("voice", ["xx-nolanguage", "en-us+novariant"])
def test_unknown_voice_is_a_clear_error(voice):
    with pytest.raises(RuntimeError, match="refused voice"):
        synth.synthesize("one", voice)


def test_voices_and_variants_are_available():
    assert set(synth.english_voices()) == set(synth.ENGLISH_VOICES)
    variants = synth.variants()
    assert variants == sorted(variants) and {"f3", "m1", "whisper"} <= set(variants)


def test_speaker_grid_is_deterministic_and_named_safely():
    grid = synth.speaker_grid(48, seed=0)
    assert grid == synth.speaker_grid(48, seed=0)
    assert grid != synth.speaker_grid(48, seed=1)
    assert synth.speaker_grid(5, seed=0) == grid[:5]
    assert len(grid) == 48
    names = [speaker.name for speaker in grid]
    assert len(set(names)) == len(names)
    for speaker in grid:
        assert re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z0-9]+-p[0-9]+r[0-9]+", speaker.name)
        assert speaker.voice in synth.english_voices() and speaker.variant in synth.variants()
        assert 30 <= speaker.pitch <= 70 and 30 <= speaker.pitch_range <= 90


def test_speaker_grid_beyond_all_pairs_stays_unique():
    n_pairs = len(synth.english_voices()) * len(synth.variants())
    names = [speaker.name for speaker in synth.speaker_grid(n_pairs + 50, seed=3)]
    assert len(names) == n_pairs + 50 and len({name.lower() for name in names}) == len(names)
    assert all("_" not in name for name in names)


def test_random_speakers_are_deterministic_and_named_safely():
    speakers = deterministic_prefix_draws(synth.random_speakers)
    assert speakers == synth.random_speakers(20, seed=3) and speakers != synth.random_speakers(20, seed=1)
    assert len({speaker.definition for speaker in speakers}) == 20
    for speaker in speakers:
        assert re.fullmatch(r"[A-Za-z0-9]+-rv[0-9]{4}-p[0-9]+r[0-9]+", speaker.name)
        lines = speaker.definition.splitlines()
        assert lines[:2] == ["language variant", "name " + speaker.variant]
        assert sum(line.startswith("formant ") for line in lines) == 6


def test_random_voice_definitions_are_what_espeak_speaks(tmp_path):
    base = synth.random_speakers(1, seed=0)[0]
    low, high = (synth.Speaker(base.name + name, "en-us", base.variant, 50, 50,
                               definition="language variant\nname {}\npitch {} {}\n".format(base.variant, hz, hz + 20))
                 for name, hz in (("a", 80), ("b", 200)))
    written = synth.synthesize_corpus(tmp_path, [low, high], [160], jobs=1, progress=False)
    first, second = (soundfile.read(path, dtype="int16")[0] for path in written if os.path.basename(path).startswith("7_"))
    # the variant file's pitch line sets the voice's pitch (80 and 200 Hz at espeak's middle pitch setting)
    assert 75 < fundamental_hz(first) < 95 and 185 < fundamental_hz(second) < 220
    wheel_variants = os.listdir(os.path.join(synth.initialise().wheel_data_path, "voices", "!v"))
    assert base.variant not in wheel_variants and base.variant not in synth.variants()


def test_random_voices_beyond_espeaks_voice_list_and_across_processes(tmp_path):
    # espeak-ng lists at most 349 voices and variants: hundreds of drawn ones must all still be found
    for speaker in synth.random_speakers(300, seed=2):
        synth.initialise().add_variant(speaker.variant, speaker.definition)
        synth.synthesize("one", speaker.espeak_voice, 260, speaker.pitch, speaker.pitch_range)
    speakers = synth.random_speakers(4, seed=5)
    one = synth.synthesize_corpus(tmp_path / "one", speakers, [200], jobs=1, progress=False)
    two = synth.synthesize_corpus(tmp_path / "two", speakers, [200], jobs=2, progress=False)
    assert [os.path.basename(path) for path in one] == [os.path.basename(path) for path in two]
    assert all(Path(a).read_bytes() == Path(b).read_bytes() for a, b in zip(one, two))


def test_speaking_rates():
    assert synth.speaking_rates() == [80, 100, 120, 140, 160, 180, 200, 220, 240, 260]
    assert synth.speaking_rates(1, 150, 200) == [150]
    with pytest.raises(ValueError):
        synth.speaking_rates(500, 80, 100)


def make_wav(out, *extra):
    return subprocess.run([sys.executable, str(ROOT / "make_wav.py"), "--out", str(out),
                           "--speakers", "2", "--rates", "2", "--rates-per-speaker", "0", "--seed", "5", "--jobs", "2",
                           *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)


def read_dir(directory):
    return {path.name: path.read_bytes() for path in sorted(Path(directory).iterdir())}


def test_make_wav_end_to_end(tmp_path):
    first, second = make_wav(tmp_path / "a"), make_wav(tmp_path / "b", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "40 files" in first.stdout and len(first.stdout.strip().splitlines()) == 1
    files = read_dir(tmp_path / "a")
    assert len(files) == 40
    assert all(NAME.match(name) for name in files)
    for name in list(files)[:5]:
        info = soundfile.info(str(tmp_path / "a" / name))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert files == read_dir(tmp_path / "b")

    # One process instead of a pool gives the same bytes: nothing depends on worker scheduling.
    speakers = synth.speaker_grid(2, seed=5)
    rates = synth.speaking_rates(2, 80, 260)
    paths = synth.synthesize_corpus(tmp_path / "c", speakers, rates, jobs=1, seed=5,
                                    progress=False)
    assert paths == sorted(paths) and len(paths) == 40
    assert files == read_dir(tmp_path / "c")


def test_make_wav_reports_errors_in_one_line(tmp_path):
    result = make_wav(tmp_path / "bad", "--min-rate", "10")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "error" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_make_wav_help():
    result = subprocess.run([sys.executable, str(ROOT / "make_wav.py"), "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and "--speakers" in result.stdout


def test_rates_per_speaker_draws_a_fixed_subset_per_speaker(tmp_path):
    speakers = synth.speaker_grid(6, seed=0)
    rates = synth.speaking_rates(10)
    chosen = [synth.rates_of_speaker(speaker, rates, 2, seed=0) for speaker in speakers]
    assert all(len(subset) == 2 and set(subset) <= set(rates) for subset in chosen)
    assert chosen == [synth.rates_of_speaker(speaker, rates, 2, seed=0) for speaker in speakers]
    assert len({tuple(subset) for subset in chosen}) > 1
    assert synth.rates_of_speaker(speakers[0], rates, None, seed=0) == rates
    paths = synth.synthesize_corpus(tmp_path, speakers[:3], rates, jobs=1, progress=False, rates_per_speaker=1)
    assert len(paths) == 30
    for speaker, subset in zip(speakers[:3], chosen[:3]):
        own = [p for p in paths if "_{}_".format(speaker.name) in p]
        (rate,) = synth.rates_of_speaker(speaker, rates, 1, seed=0)
        assert len(own) == 10 and all(p.endswith("_{}.wav".format(rate)) for p in own)
