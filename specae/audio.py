"""Audio input and output: any WAV in, float32 mono at the pipeline's rate out."""
import functools
import math
import os

import numpy as np
import scipy.signal
import soundfile

from specae.files import atomic_path


class AudioError(Exception):
    """A file that cannot be used as audio; the message is the one-line reason."""


def read_audio(path):
    """Read a WAV (any bit depth, any channel count) as float32 mono samples in [-1, 1].

    Returns ``(samples, sample_rate_hz)``. Raises AudioError with a one-line reason for anything
    that is not usable audio: a missing, unreadable or empty file, a file that is not audio, no
    samples, or samples that are not finite.
    """
    try:
        samples, sample_rate_hz = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, ValueError, TypeError, OSError) as error:
        raise AudioError(_reason_unreadable(path, error))
    except MemoryError:
        raise AudioError("too large to read into memory")
    if samples.shape[0] == 0:
        raise AudioError("no samples")
    if not np.isfinite(samples).all():
        raise AudioError("contains NaN or infinite samples")
    # One channel: a view, no averaging pass (most files; this is the front end's hot path).
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return mono, int(sample_rate_hz)


def _reason_unreadable(path, error):
    """Why ``path`` could not be read: the file system's reason first, else the library's.
    Looked up only after a failure, so that a good file costs no extra system calls."""
    if os.path.islink(path) and not os.path.exists(path):
        return "broken symbolic link"
    if os.path.isdir(path):
        return "is a directory"
    if not os.path.exists(path):
        return "no such file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    if os.path.getsize(path) == 0:
        return "empty file"
    if isinstance(error, OSError) and not isinstance(error, soundfile.SoundFileError):
        return error.strerror or str(error)
    return "not a readable audio file ({})".format(_library_message(error))


def _library_message(error):
    """libsndfile's own reason, without the "Error opening '<path>': " prefix that repeats the path."""
    message = getattr(error, "error_string", None) or (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return " ".join(message.split()).rstrip(".")


def resample(samples, from_hz, to_hz):
    """Polyphase resampling (scipy.signal.resample_poly) between integer rates, float32 out."""
    if from_hz == to_hz:
        return samples
    return resample_poly(samples, int(to_hz), int(from_hz)).astype(np.float32, copy=False)


def resample_poly(samples, up, down):
    """``scipy.signal.resample_poly(samples, up, down)``, the same samples bit for bit, with its anti-aliasing
    filter designed once per ratio (``_lowpass``) instead of at every call."""
    divisor = math.gcd(up, down)
    up, down = up // divisor, down // divisor
    samples = np.asarray(samples)
    if up == down or samples.dtype.kind != "f":
        return scipy.signal.resample_poly(samples, up, down)
    return scipy.signal.resample_poly(samples, up, down, window=_lowpass(up, down, samples.dtype))


@functools.lru_cache(maxsize=64)
def _lowpass(up, down, dtype):
    """The filter scipy's resample_poly designs for ``up / down`` (in lowest terms) and samples of ``dtype``: a
    Kaiser-windowed (beta 5) low-pass FIR of 20 × max(up, down) + 1 taps, cut off at the lower Nyquist rate.
    scipy designs it at every call; for 22050 ↔ 8000 Hz (the telephone degradation, FSDD's recordings) that is
    8821 taps, and the designs took a fifth of make_dataset.py's time. Read-only: resample_poly copies it."""
    max_rate = max(up, down)
    taps = scipy.signal.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(dtype)
    taps.flags.writeable = False
    return taps


def load_audio(path, sample_rate_hz):
    """read_audio followed by resampling to ``sample_rate_hz``."""
    samples, file_rate_hz = read_audio(path)
    return resample(samples, file_rate_hz, sample_rate_hz)


def write_wav(path, samples, sample_rate_hz, subtype="PCM_16"):
    """Write mono float samples as a WAV file, atomically."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as temporary:
        soundfile.write(temporary, clipped, int(sample_rate_hz), subtype=subtype, format="WAV")
