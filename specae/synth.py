"""Spoken-digit synthesis with espeak-ng, called through ctypes (no system espeak needed).

The library and its data come from the ``espeakng-loader`` wheel. espeak-ng keeps its state in
process globals, and some of that state survives from one utterance to the next (the flutter phase
and automatic gain of the wave generator, the noise generators' seeds). The same call would then
give different samples depending on what the process synthesised before. To make every utterance a
pure function of its arguments, :func:`synthesize` reloads the library (``dlclose`` + ``dlopen``,
about 0.3 ms) and initialises it afresh before each utterance, and seeds both of its random
generators. Consequences: the output does not depend on call order or worker scheduling, and
parallel synthesis must use processes, never threads. If some other module of the same process also
holds libespeak-ng open, the reload cannot reset it and this guarantee is lost.

Silence is not trimmed: espeak-ng puts only ~12 ms before and ~7 ms after a word (measured on the
digit words), less than the 50 ms margin a trim would keep.

A "speaker" is an English voice (accent) x a voice variant from ``espeak-ng-data/voices/!v`` plus a
pitch and pitch range, see :func:`speaker_grid`; or, from :func:`random_speakers`, a voice variant
written for it with randomly drawn formants, voicing source, breath and roughness
(:func:`random_variant`), which espeak-ng reads from a private copy of its data folder.
:func:`synthesize_corpus` writes ``{digit}_{speaker}_{rate}.wav`` for every speaker x speaking rate x
digit.
"""
import _ctypes
import atexit
import ctypes
import dataclasses
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import zlib

import numpy as np

SAMPLE_RATE_HZ = 22050
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's English languages (espeak-ng-data/lang/gmw/); english_voices() keeps those it accepts.
ENGLISH_VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450
PITCH_RANGE = (30, 70)        # inclusive bounds of the per-speaker pitch draw (espeak scale 0-100)
PITCH_RANGE_RANGE = (30, 90)  # inclusive bounds of the per-speaker pitch-range draw

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE, _ESPEAK_WORDGAP = 1, 3, 4, 7
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.c_void_p)


def _paths():
    try:
        import espeakng_loader
    except ImportError as error:
        raise RuntimeError("espeak-ng is not available: the 'espeakng-loader' package is not "
                           "installed (pip install espeakng-loader)") from error
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


class _Espeak:
    """The process's espeak-ng library, reloaded to a fresh state by :meth:`reset`."""

    def __init__(self):
        self.library_path, self.data_path = _paths()
        self.wheel_data_path = self.data_path
        self.own_variant = None
        self.variant_dir = os.path.join(self.data_path, "voices", "!v")
        self.lib = None
        self.chunks = []
        # Kept on the instance so that the C side never calls a garbage-collected trampoline.
        self.callback = _SYNTH_CALLBACK(self._collect)
        self.libc = ctypes.CDLL(None)
        self.reset()

    def _collect(self, wav, n_samples, events):
        if n_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).astype(np.int16))
        return 0

    def reset(self):
        """Unload and reload the library so that no state is left from earlier utterances."""
        if self.lib is not None:
            self.lib.espeak_Terminate()
            _ctypes.dlclose(self.lib._handle)
            self.lib = None
        lib = ctypes.CDLL(self.library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(), 0)
        if rate != SAMPLE_RATE_HZ:
            raise RuntimeError(f"espeak-ng initialisation failed or gave {rate} Hz instead of "
                               f"{SAMPLE_RATE_HZ} Hz (data path {self.data_path})")
        lib.espeak_SetSynthCallback(self.callback)
        self.lib = lib

    def private_data_path(self, adopt=None):
        """Move the engine onto a private data folder for variants of our own and return its path: links to
        every file of the wheel's espeak-ng-data, with a real ``voices/!v`` folder whose own entries are
        links too, so the wheel's folder is never written to. Made on the first call and removed when this
        process exits; worker processes ``adopt`` their parent's."""
        if adopt is None and self.data_path == self.wheel_data_path:
            adopt = tempfile.mkdtemp(prefix="specae-espeak-")
            atexit.register(shutil.rmtree, adopt, ignore_errors=True)
            _link_tree(self.wheel_data_path, adopt, keep=("voices", "!v"))
        if adopt is not None:
            self.data_path, self.variant_dir = adopt, os.path.join(adopt, "voices", "!v")
            self.own_variant = None
            self.reset()
        return self.data_path

    def add_variant(self, name, definition):
        """Make the voice variant ``name`` (the text of an espeak-ng variant file) available to set_voice, in
        the private data folder. espeak-ng lists at most 349 voices and variants and ignores the rest, so each
        process keeps only the variant it wrote last: the one it is speaking with."""
        self.private_data_path()
        if self.own_variant is not None:
            os.unlink(os.path.join(self.variant_dir, self.own_variant))
        with open(os.path.join(self.variant_dir, name), "w") as file:
            file.write(definition)
        self.own_variant = name

    def set_voice(self, name):
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise RuntimeError(f"espeak-ng refused voice {name!r}")

    def set_parameter(self, parameter, value):
        if self.lib.espeak_SetParameter(parameter, int(value), 0) != 0:
            raise RuntimeError(f"espeak-ng refused parameter {parameter} = {value}")

    def speak(self, text, rand_seed):
        self.libc.srand(rand_seed & 0xFFFFFFFF)
        self.lib.espeak_ng_SetRandSeed(rand_seed)
        self.chunks = []
        data = text.encode()
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
        if status != 0 or self.lib.espeak_Synchronize() != 0:
            raise RuntimeError(f"espeak-ng failed to synthesise {text!r} (status {status})")
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        self.chunks = []
        return audio


def _link_tree(source, target, keep):
    """Link every entry of ``source`` into ``target``, except that the folders on the path ``keep`` (e.g.
    voices, then !v inside it) are made as real folders whose own entries are linked in turn."""
    os.makedirs(target, exist_ok=True)
    for entry in os.listdir(source):
        if keep and entry == keep[0]:
            _link_tree(os.path.join(source, entry), os.path.join(target, entry), keep[1:])
        else:
            os.symlink(os.path.join(source, entry), os.path.join(target, entry))


_ENGINE = None


def initialise():
    """Load and initialise espeak-ng once in this process; return the engine. Idempotent."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Espeak()
    return _ENGINE


def variants():
    """Names of the voice variants (files in espeak-ng-data/voices/!v), sorted."""
    directory = os.path.join(initialise().wheel_data_path, "voices", "!v")
    return sorted(name for name in os.listdir(directory)
                  if os.path.isfile(os.path.join(directory, name)))


_ENGLISH = None


def english_voices():
    """The names of ENGLISH_VOICES that espeak-ng accepts, in that order."""
    global _ENGLISH
    if _ENGLISH is None:
        engine = initialise()
        accepted = []
        for voice in ENGLISH_VOICES:
            try:
                engine.set_voice(voice)
            except RuntimeError:
                continue
            accepted.append(voice)
        if not accepted:
            raise RuntimeError("espeak-ng accepts none of the English voices")
        _ENGLISH = accepted
    return list(_ENGLISH)


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def synthesize(text, voice="en-us", rate_wpm=175, pitch=50, pitch_range=50, word_gap=0,
               rand_seed=0):
    """Synthesise ``text`` and return mono int16 samples at SAMPLE_RATE_HZ (22050 Hz).

    ``voice`` is an espeak-ng voice name, optionally with a variant: ``"en-us+f3"``. ``rate_wpm`` is
    the speaking rate in words per minute (80-450), ``pitch`` and ``pitch_range`` are on espeak's
    0-100 scale, ``word_gap`` is extra silence between words in units of 10 ms, ``rand_seed`` seeds
    the noise of breathy/whispered variants. The result depends only on the arguments. Raises
    RuntimeError when espeak-ng refuses the voice or the variant does not exist.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    _check_int("rate_wpm", rate_wpm, MIN_RATE_WPM, MAX_RATE_WPM)
    _check_int("pitch", pitch, 0, 100)
    _check_int("pitch_range", pitch_range, 0, 100)
    _check_int("word_gap", word_gap, 0, 1000)
    engine = initialise()
    language, plus, variant = voice.partition("+")
    # espeak-ng silently falls back to the plain voice for an unknown variant: check it here.
    if plus and not os.path.isfile(os.path.join(engine.variant_dir, variant)):
        raise RuntimeError(f"espeak-ng refused voice {voice!r}: no variant {variant!r} in "
                           f"{engine.variant_dir}")
    engine.reset()
    engine.set_voice(voice)
    engine.set_parameter(_ESPEAK_RATE, rate_wpm)
    engine.set_parameter(_ESPEAK_PITCH, pitch)
    engine.set_parameter(_ESPEAK_RANGE, pitch_range)
    engine.set_parameter(_ESPEAK_WORDGAP, word_gap)
    audio = engine.speak(text, int(rand_seed))
    if audio.size == 0:
        raise RuntimeError(f"espeak-ng produced no audio for {text!r} with voice {voice!r}")
    return audio


@dataclasses.dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: espeak voice (accent) + variant, with its pitch and pitch range. ``definition``
    is the text of the variant file when the variant is not one of espeak-ng's own."""
    name: str
    voice: str
    variant: str
    pitch: int
    pitch_range: int
    definition: str = ""

    @property
    def espeak_voice(self):
        return f"{self.voice}+{self.variant}"


def _safe(name):
    return re.sub(r"[^A-Za-z0-9]", "", name)


def speaker_grid(n_speakers=48, seed=0):
    """``n_speakers`` distinct speakers, a deterministic function of ``(n_speakers, seed)``.

    All (English voice, variant) pairs are shuffled with ``numpy.random.default_rng(seed)``; speaker
    i takes pair i (cycling through the shuffled pairs again when more speakers than pairs are
    asked for) and then draws a pitch in PITCH_RANGE and a pitch range in PITCH_RANGE_RANGE from the
    same generator. So ``speaker_grid(k, seed)`` is a prefix of ``speaker_grid(n, seed)`` for k < n.
    Names look like ``enus-f3-p47r62``: only letters, digits and hyphens, no underscore.
    """
    _check_int("n_speakers", n_speakers, 1, 10 ** 6)
    pairs = [(voice, variant) for voice in english_voices() for variant in variants()]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))
    speakers, names = [], set()
    for index in range(n_speakers):
        voice, variant = pairs[order[index % len(pairs)]]
        while True:  # redraw on the (rare, only when cycling) clash of a whole name
            pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
            pitch_range = int(rng.integers(PITCH_RANGE_RANGE[0], PITCH_RANGE_RANGE[1] + 1))
            name = f"{_safe(voice)}-{_safe(variant)}-p{pitch}r{pitch_range}"
            if name.lower() not in names:  # also unique on case-insensitive file systems
                break
        names.add(name.lower())
        speakers.append(Speaker(name, voice, variant, pitch, pitch_range))
    return speakers


# Ranges of the random voice definitions, in the units of espeak-ng's voice files (docs/voices.md of
# espeak-ng): formant frequency, height and width in percent of the default voice's, for formants 0-5
# (the higher ones are left as they are); breath (aspiration noise on each formant) 0-4; flutter (pitch
# jitter) and roughness (irregular glottal pulses); consonant loudness in percent. klatt 0 is espeak's own
# wave synthesiser, 1-6 its Klatt synthesiser with different voicing sources.
RANDOM_FORMANT_FREQUENCY = (85, 115)
RANDOM_FORMANT_HEIGHT = (70, 130)
RANDOM_FORMANT_WIDTH = (70, 160)
RANDOM_BREATH = (0, 4)
RANDOM_FLUTTER = (0, 80)
RANDOM_ROUGHNESS = (0, 4)
RANDOM_CONSONANTS = (70, 140)
RANDOM_KLATT = (0, 1, 2, 3, 4, 5, 6)
RANDOM_MALE_SHARE = 0.7
MALE_PITCH_HZ, FEMALE_PITCH_HZ = (70, 120), (140, 210)  # base pitch drawn here; the top 25-70 Hz above


def random_variant(name, rng):
    """The text of an espeak-ng voice variant file with every timbre setting drawn from ``rng``."""
    def draw(bounds):
        return int(rng.integers(bounds[0], bounds[1] + 1))
    male = rng.random() < RANDOM_MALE_SHARE
    base = draw(MALE_PITCH_HZ if male else FEMALE_PITCH_HZ)
    lines = ["language variant", f"name {name}", "gender " + ("male" if male else "female"),
             f"klatt {int(rng.choice(RANDOM_KLATT))}", f"pitch {base} {base + draw((25, 70))}"]
    for formant in range(6):
        lines.append(f"formant {formant} {draw(RANDOM_FORMANT_FREQUENCY)} {draw(RANDOM_FORMANT_HEIGHT)} "
                     f"{draw(RANDOM_FORMANT_WIDTH)}")
    if rng.random() < 0.5:  # half the voices breathe
        lines.append("breath " + " ".join(str(draw(RANDOM_BREATH)) for _ in range(8)))
    lines += [f"flutter {draw(RANDOM_FLUTTER)}", f"roughness {draw(RANDOM_ROUGHNESS)}",
              f"consonants {draw(RANDOM_CONSONANTS)} {draw(RANDOM_CONSONANTS)}"]
    return "\n".join(lines) + "\n"


def random_speakers(n_speakers=48, seed=0):
    """``n_speakers`` speakers with voice definitions of their own (:func:`random_variant`), each with an
    English voice (accent), pitch and pitch range drawn as in :func:`speaker_grid`; a deterministic
    function of ``(n_speakers, seed)``, and ``random_speakers(k, seed)`` is a prefix of
    ``random_speakers(n, seed)``. Names look like ``enus-rv0007-p47r62``."""
    _check_int("n_speakers", n_speakers, 1, 10 ** 6)
    voices = english_voices()
    speakers = []
    for index in range(n_speakers):
        rng = np.random.default_rng([seed, index])
        voice = voices[int(rng.integers(len(voices)))]
        variant = f"rv{index:04d}"
        pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
        pitch_range = int(rng.integers(PITCH_RANGE_RANGE[0], PITCH_RANGE_RANGE[1] + 1))
        speakers.append(Speaker(f"{_safe(voice)}-{variant}-p{pitch}r{pitch_range}", voice, variant, pitch,
                                pitch_range, definition=random_variant(variant, rng)))
    return speakers


def speaking_rates(n_rates=10, low_wpm=80, high_wpm=260):
    """``n_rates`` evenly spaced speaking rates in words per minute, as distinct ints."""
    _check_int("n_rates", n_rates, 1, MAX_RATE_WPM - MIN_RATE_WPM + 1)
    _check_int("low_wpm", low_wpm, MIN_RATE_WPM, MAX_RATE_WPM)
    _check_int("high_wpm", high_wpm, low_wpm, MAX_RATE_WPM)
    rates = [int(rate) for rate in np.rint(np.linspace(low_wpm, high_wpm, n_rates))]
    if len(set(rates)) != len(rates):
        raise ValueError(f"{n_rates} distinct integer rates do not fit in "
                         f"[{low_wpm}, {high_wpm}] wpm")
    return rates


def wav_name(digit, speaker, rate_wpm):
    return f"{digit}_{speaker.name}_{rate_wpm}.wav"


def _write_wav(path, samples):
    """Write 16-bit PCM mono WAV atomically: temporary file beside it, then os.replace."""
    import soundfile
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".tmp-{name}.{os.getpid()}")
    try:
        soundfile.write(temporary, samples, SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _speaker_task(task):
    """Write every rate x digit of one speaker; one task per speaker (runs in a worker)."""
    out_dir, speaker, rates, seed = task
    if speaker.definition:
        initialise().add_variant(speaker.variant, speaker.definition)
    paths = []
    for rate in rates:
        for digit, word in enumerate(DIGIT_WORDS):
            path = os.path.join(out_dir, wav_name(digit, speaker, rate))
            # Noise seed from the file name and the corpus seed only: independent of scheduling.
            rand_seed = zlib.crc32(f"{seed}:{os.path.basename(path)}".encode()) & 0x7FFFFFFF
            samples = synthesize(word, speaker.espeak_voice, rate, speaker.pitch,
                                 speaker.pitch_range, rand_seed=rand_seed)
            _write_wav(path, samples)
            paths.append(path)
    return paths


def _init_worker(private_data_path=None):
    engine = initialise()
    if private_data_path is not None:
        engine.private_data_path(adopt=private_data_path)


def rates_of_speaker(speaker, rates, rates_per_speaker, seed):
    """The rates one speaker uses: all of them, or ``rates_per_speaker`` drawn for that speaker."""
    if rates_per_speaker is None or rates_per_speaker >= len(rates):
        return list(rates)
    rng = np.random.default_rng([seed, zlib.crc32(speaker.name.encode())])
    return sorted(int(rate) for rate in rng.choice(rates, size=rates_per_speaker, replace=False))


def synthesize_corpus(out_dir, speakers, rates, jobs=None, seed=0, progress=True, rates_per_speaker=None):
    """Write ``{digit}_{speaker}_{rate}.wav`` for every speaker x rate x digit into ``out_dir``.

    With ``rates_per_speaker`` each speaker uses only that many of ``rates``, drawn per speaker:
    for a fixed number of files, many speakers at few rates each give more voices to learn from.

    16-bit PCM mono WAV at 22050 Hz, each written atomically. ``jobs`` worker processes (default
    os.cpu_count(); 1 runs in this process) take one speaker each at a time. ``seed`` seeds the
    per-file noise of breathy variants. The same arguments give byte-identical files. Returns the
    sorted list of written paths.
    """
    speakers, rates = list(speakers), [int(rate) for rate in rates]
    if not speakers or not rates:
        raise ValueError("need at least one speaker and one rate")
    names = [speaker.name for speaker in speakers]
    if len({name.lower() for name in names}) != len(names):
        raise ValueError("speaker names must be unique")
    if any(not re.fullmatch(r"[A-Za-z0-9-]+", name) for name in names):
        raise ValueError("speaker names may only contain letters, digits and hyphens")
    if len(set(rates)) != len(rates):
        raise ValueError("rates must be distinct")
    for rate in rates:
        _check_int("rate", rate, MIN_RATE_WPM, MAX_RATE_WPM)
    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    os.makedirs(out_dir, exist_ok=True)
    if rates_per_speaker is not None and rates_per_speaker < 1:
        raise ValueError("rates per speaker must be at least 1")
    tasks = [(out_dir, speaker, rates_of_speaker(speaker, rates, rates_per_speaker, seed), seed)
             for speaker in speakers]
    jobs = min(jobs, len(tasks))

    from tqdm import tqdm
    paths = []
    if jobs == 1:
        with tqdm(total=len(tasks), unit="speaker", disable=not progress, file=sys.stderr) as bar:
            for task in tasks:
                paths.extend(_speaker_task(task))
                bar.update()
    else:
        # The pool is made before tqdm starts its monitor thread, so no thread is forked.
        # Voices of our own: the workers share this process's private data folder, removed when it exits.
        private = initialise().private_data_path() if any(speaker.definition for speaker in speakers) else None
        with multiprocessing.Pool(jobs, initializer=_init_worker, initargs=(private,)) as pool:
            with tqdm(total=len(tasks), unit="speaker", disable=not progress,
                      file=sys.stderr) as bar:
                for written in pool.imap_unordered(_speaker_task, tasks):
                    paths.extend(written)
                    bar.update()
    return sorted(paths)
