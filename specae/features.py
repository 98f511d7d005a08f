"""The front end: a waveform becomes one fixed-size log-mel image.

One code path serves training (make_spectrogram.py) and inference (predict.py, evaluate.py); the
parameters travel with every spectrogram set, data set and model as ``FeatureParams.to_dict()``.
"""
import dataclasses
import functools
import multiprocessing

import numpy as np
import scipy.fft

import melbank
from specae.audio import AudioError, load_audio

LEVELS = ("clip_max", "fixed")
FITS = ("resize", "pad")


@dataclasses.dataclass(frozen=True)
class FeatureParams:
    """Everything that decides what a spectrogram image looks like.

    Defaults follow the original (22050 Hz, NFFT 1024, hop 256, hamming, 64 mel bands from 50 Hz,
    20·log10 magnitude, 64×64) except where noted: the band stops at 4000 Hz because telephone audio
    has nothing above it; the level is relative to each clip's own maximum (the original's fixed
    ±45 dB window made the image depend on recording level); leading and trailing silence is trimmed
    and the word centred in silence (64 frames, 0.74 s; a longer word keeps its middle) instead of
    padding short clips with random noise. Centring keeps each word's duration and the relative length
    of its sounds; resizing every word to 64 frames (``fit="resize"``, the former default) made a
    person's long vowel look like synthetic "eight" and cost 4.9 points on human speech (docs/human.md).
    """

    sample_rate_hz: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    window: str = "hamming"
    n_mels: int = 64
    fmin_hz: float = 50.0
    fmax_hz: float = 4000.0
    n_frames: int = 64
    level: str = "clip_max"
    floor_db: float = 80.0
    fixed_range_db: tuple = (-45.0, 45.0)
    trim_db: float = 40.0
    fit: str = "pad"
    lifter: int = 0
    band_norm: bool = False
    noise_subtraction: float = 0.0

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError("level must be one of {}, not {!r}".format(LEVELS, self.level))
        if self.fit not in FITS:
            raise ValueError("fit must be one of {}, not {!r}".format(FITS, self.fit))
        object.__setattr__(self, "fixed_range_db", tuple(float(v) for v in self.fixed_range_db))

    def to_dict(self):
        """The JSON form stored in index.json, manifest.json and model.json."""
        values = dataclasses.asdict(self)
        values["fixed_range_db"] = list(self.fixed_range_db)
        return values

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError("unknown feature parameters: {}".format(", ".join(unknown)))
        return cls(**values)

    def mismatch(self, other):
        """Names of the parameters on which two parameter sets differ (empty when they agree)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(name for name in mine if mine[name] != theirs[name])


# Below this the clip is treated as silence rather than stretched up to full scale.
_SILENCE_REFERENCE_DB = -60.0


def log_mel(samples, params):
    """(n_mels, n_frames) log-mel spectrogram in dB of mono samples at params.sample_rate_hz, each band's
    noise floor subtracted where ``params.noise_subtraction`` says so (`subtract_noise_floor`)."""
    centred = samples - samples.mean(dtype=np.float64).astype(np.float32)
    log_mel_db = melbank.log_mel_spectrogram(
        centred, sample_rate_hz=params.sample_rate_hz, n_fft=params.n_fft,
        hop_length=params.hop_length, window=params.window, n_mels=params.n_mels,
        fmin_hz=params.fmin_hz, fmax_hz=params.fmax_hz)
    if params.noise_subtraction:
        log_mel_db = subtract_noise_floor(log_mel_db, params.noise_subtraction)
    return log_mel_db


def scale_level(log_mel_db, params):
    """Map dB to [0, 1]; returns ``(image, reference_db)`` where 1 stands for ``reference_db``."""
    if params.level == "clip_max":
        reference_db = max(float(log_mel_db.max()), _SILENCE_REFERENCE_DB)
        low_db = reference_db - params.floor_db
    else:
        low_db, reference_db = params.fixed_range_db
    image = (log_mel_db - low_db) / (reference_db - low_db)
    return np.clip(image, 0.0, 1.0).astype(np.float32), reference_db


def voiced_span(image, params):
    """``(start, stop)`` frames between the first and last frame within trim_db of the loudest."""
    if params.trim_db is None or params.trim_db <= 0:
        return 0, image.shape[1]
    frame_peak = image.max(axis=0)
    threshold = frame_peak.max() - params.trim_db / level_span_db(params)
    loud = np.flatnonzero(frame_peak > threshold)
    if loud.size == 0:
        return 0, image.shape[1]
    return int(loud[0]), int(loud[-1]) + 1


def level_span_db(params):
    """How many dB the image's 0 to 1 spans."""
    if params.level == "clip_max":
        return params.floor_db
    low_db, high_db = params.fixed_range_db
    return high_db - low_db


def fit_frames(image, n_frames, fit):
    """Bring the time axis to ``n_frames``: linear resize, or centre in silence (crop if longer)."""
    n_bands, length = image.shape
    if fit == "resize":
        if length == n_frames:
            return image
        if length == 1:
            return np.repeat(image, n_frames, axis=1)
        position = np.linspace(0.0, length - 1, n_frames)
        left = np.minimum(position.astype(np.int64), length - 2)
        weight = (position - left).astype(np.float32)
        return image[:, left] * (1.0 - weight) + image[:, left + 1] * weight
    fitted = np.zeros((n_bands, n_frames), dtype=np.float32)
    if length >= n_frames:
        start = (length - n_frames) // 2
        fitted[:] = image[:, start:start + n_frames]
    else:
        start = (n_frames - length) // 2
        fitted[:, start:start + length] = image
    return fitted


def smooth_envelope(image, n_coefficients):
    """Keep the first ``n_coefficients`` cepstral coefficients of every frame (DCT over the bands):
    the spectral envelope stays, the harmonics of the voice's pitch go."""
    cepstrum = scipy.fft.dct(image, axis=0, norm="ortho")
    cepstrum[n_coefficients:] = 0.0
    return np.clip(scipy.fft.idct(cepstrum, axis=0, norm="ortho"), 0.0, 1.0).astype(np.float32)


def normalise_bands(image):
    """Subtract each band's mean over time (a fixed channel colour is a constant per band), centre at 0.5."""
    return np.clip(image - image.mean(axis=1, keepdims=True) + 0.5, 0.0, 1.0).astype(np.float32)


# The noise floor of a band: this percentile of its magnitude over the clip's frames. A recording keeps
# some pauses, breath or room between its words' edges; a tenth of the frames is what is left of them
# in FSDD's tightly cut clips.
_NOISE_PERCENTILE = 10.0


def subtract_noise_floor(log_mel_db, factor):
    """Spectral subtraction (Boll 1979) per mel band: ``factor`` times the band's noise floor is taken
    from its magnitude in every frame, and what falls below 80 dB under the frame's own level stays
    there. A synthetic voice's digital silence has no floor to take; a recording's steady hiss or hum
    goes, so that its word stands on the dark background a synthetic word stands on."""
    magnitude = np.power(10.0, log_mel_db / 20.0)
    floor = np.percentile(magnitude, _NOISE_PERCENTILE, axis=1, keepdims=True)
    cleaned = np.maximum(magnitude - factor * floor, magnitude * 1e-4)
    return (20.0 * np.log10(cleaned)).astype(np.float32)


def image_from_samples(samples, params):
    """Mono samples at params.sample_rate_hz → ``(image, info)``.

    ``image`` is float32 (n_mels, n_frames) in [0, 1], low frequencies first. ``info`` keeps what
    is needed to map the image back to dB and to the clip's own duration: ``reference_db``,
    ``span_frames`` (start and stop frame of the voiced part) and ``total_frames``.
    """
    log_mel_db = log_mel(samples, params)
    image, reference_db = scale_level(log_mel_db, params)
    start, stop = voiced_span(image, params)
    fitted = fit_frames(image[:, start:stop], params.n_frames, params.fit)
    if params.lifter:
        fitted = smooth_envelope(fitted, params.lifter)
    if params.band_norm:
        fitted = normalise_bands(fitted)
    info = {"reference_db": reference_db, "span_frames": [start, stop],
            "total_frames": int(log_mel_db.shape[1])}
    return np.ascontiguousarray(fitted, dtype=np.float32), info


def image_from_file(path, params):
    """Read any WAV, resample to params.sample_rate_hz and return ``(image, info)``."""
    return image_from_samples(load_audio(path, params.sample_rate_hz), params)


def add_feature_arguments(parser):
    """Command-line options for the parameters a user may want to change."""
    defaults = FeatureParams()
    group = parser.add_argument_group("front end")
    group.add_argument("--fmin-hz", type=float, default=defaults.fmin_hz)
    group.add_argument("--fmax-hz", type=float, default=defaults.fmax_hz,
                       help="top of the mel band (default %(default)s; the original used 5000)")
    group.add_argument("--level", choices=LEVELS, default=defaults.level,
                       help="dB relative to each clip's maximum, or the original's fixed window")
    group.add_argument("--floor-db", type=float, default=defaults.floor_db,
                       help="dynamic range below the clip maximum kept in the image")
    group.add_argument("--trim-db", type=float, default=defaults.trim_db,
                       help="frames this far below the loudest count as silence; 0 disables trimming")
    group.add_argument("--fit", choices=FITS, default=defaults.fit,
                       help="resize the time axis to 64 frames, or centre in silence and crop")
    group.add_argument("--lifter", type=int, default=defaults.lifter, metavar="N",
                       help="keep N cepstral coefficients per frame (spectral envelope only); 0 keeps all")
    group.add_argument("--band-norm", action="store_true", help="subtract each band's mean over time")
    group.add_argument("--noise-subtraction", type=float, default=defaults.noise_subtraction, metavar="FACTOR",
                       help="subtract FACTOR times each band's noise floor (its 10th percentile over the "
                            "clip) from its magnitude; 0 (default) leaves the spectrogram as it is")


def params_from_args(args):
    return FeatureParams(fmin_hz=args.fmin_hz, fmax_hz=args.fmax_hz, level=args.level,
                         floor_db=args.floor_db, trim_db=args.trim_db, fit=args.fit,
                         lifter=args.lifter, band_norm=args.band_norm,
                         noise_subtraction=args.noise_subtraction)


def _image_or_reason(job):
    path, params = job
    try:
        image, info = image_from_file(path, params)
    except AudioError as error:
        return path, None, str(error)
    except ValueError as error:  # e.g. a malformed header that soundfile accepts but cannot decode
        return path, None, _one_line(error)
    except Exception as error:  # one strange file must not end a run over thousands: name it and go on
        return path, None, "cannot be processed ({}: {})".format(type(error).__name__, _one_line(error))
    return path, image, info


def _one_line(error):
    lines = str(error).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(error).__name__


def _consumed(consume, job):
    path, image, info = _image_or_reason(job)
    if image is None:
        return path, None, info
    return path, consume(path, image), info


def images_from_files(paths, params, jobs=1, consume=None):
    """Yield ``(path, image, info)`` per path in order; ``image`` is None and ``info`` the reason
    when the file cannot be used. ``jobs`` > 1 spreads the files over worker processes.

    ``consume(path, image)``, when given, runs where the image was made (in the worker) and its
    result, which must not be None, is yielded in place of the image: e.g. writing the image to a
    file there, so that the parent process neither receives nor writes it."""
    work = [(path, params) for path in paths]
    function = _image_or_reason if consume is None else functools.partial(_consumed, consume)
    if jobs <= 1 or len(work) < 2 * jobs:
        yield from map(function, work)
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(function, work, chunksize=max(1, min(64, len(work) // (8 * jobs))))
