"""File names, labels and atomic output.

Every output of the pipeline is written to a temporary file beside its target and renamed into place,
so an interrupted stage never leaves a half-written file that a later stage would trust.
"""
import contextlib
import json
import os
import re
import tempfile

import numpy as np

# Pannous, Free Spoken Digit Dataset and AudioMNIST all name files "{digit}_{speaker}_{anything}.wav".
_LABELLED_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[^_]+?)(?:_(?P<rest>.*))?$")
AUDIO_SUFFIXES = (".wav", ".wave")
TEMPORARY_PREFIX = ".tmp-"  # atomic_path's temporaries; a file with it is never an output


def _file_mode():
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp makes its file private (0600); an output gets the mode that open() would have given it.
_FILE_MODE = _file_mode()


class LabelError(ValueError):
    """A file name that carries no ``{digit}_`` label."""


def parse_name(path):
    """Return ``(digit, speaker, rest)`` from a ``{digit}_{speaker}_{rest}.wav`` file name.

    ``rest`` is ``None`` when the name has no third field; ``speaker`` is ``"unknown"`` for a bare
    ``{digit}_.wav``. Raises LabelError when the name does not start with ``{digit}_``.
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    match = _LABELLED_NAME.match(stem)
    if match is None:
        raise LabelError("no '{digit}_' label at the start of the file name")
    return int(match["digit"]), match["speaker"] or "unknown", match["rest"]


def rate_of(rest):
    """The speaking-rate field of a Pannous-style name as an int, or None when it is not a number."""
    if rest is None:
        return None
    head = rest.split("_")[0]
    return int(head) if head.isdigit() else None


def list_audio_files(paths):
    """Expand files and directories into a sorted list of candidate audio paths.

    Directories are searched recursively for names ending in .wav; a path named explicitly is kept
    even when it is not a regular file, so that the reader can say what is wrong with it.
    """
    found = []
    for path in paths:
        if os.path.isdir(path) and not path.lower().endswith(AUDIO_SUFFIXES):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, name) for name in names
                             if name.lower().endswith(AUDIO_SUFFIXES))
                found.extend(os.path.join(root, name) for name in dirs
                             if name.lower().endswith(AUDIO_SUFFIXES))
        else:
            found.append(path)
    return sorted(found)


def labelled_audio_files(paths):
    """``(labels, skipped)`` for the audio files under ``paths`` (`list_audio_files`): ``labels`` maps each one
    whose name starts with ``{digit}_`` to its ``(digit, speaker)``; ``skipped`` holds ``(path, reason)`` for
    the others, in path order."""
    labels, skipped = {}, []
    for path in list_audio_files(paths):
        try:
            digit, speaker, _ = parse_name(path)
        except LabelError as error:
            skipped.append((path, str(error)))
            continue
        labels[path] = digit, speaker
    return labels, skipped


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=suffix, dir=directory)
    os.close(handle)
    os.chmod(temporary, _FILE_MODE)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def remove_stale_temporaries(directory):
    """Delete the ``.tmp-*`` files that a killed run of the stage writing ``directory`` left behind.

    Call it when a stage starts, before it writes anything: only one process writes a stage's folder.
    """
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(TEMPORARY_PREFIX) and os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
            removed.append(name)
    return removed


def save_npy(path, array):
    with atomic_path(path) as temporary:
        np.save(temporary, array)


def write_npy(path, array):
    """``np.save`` to ``path`` atomically, cheaper than `save_npy` for thousands of small arrays.

    The temporary name is fixed (``.tmp-`` + the file's name, beside it) instead of drawn by mkstemp:
    each target has one writer, and a name in the ``.tmp-*`` pattern is swept by
    `remove_stale_temporaries` when a killed stage starts again.
    """
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, ".tmp-" + name)
    with open(temporary, "wb") as stream:
        np.save(stream, array)
    os.replace(temporary, path)


def save_npy_rows(path, rows, count, row_shape, dtype):
    """Write ``count`` arrays of ``row_shape`` from the iterable ``rows`` as one ``.npy`` of shape
    ``(count, *row_shape)``, atomically, one row at a time: the same file as ``np.save`` of the
    stacked array, without ever holding it in memory."""
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (int(count),) + tuple(int(n) for n in row_shape)}
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            # the public writer of the header np.save writes for such a small one (NumPy 1 and 2 alike)
            np.lib.format.write_array_header_1_0(stream, header)
            written = 0
            for row in rows:
                row = np.asarray(row, dtype=dtype)
                if row.shape != tuple(row_shape):
                    raise ValueError("{}: row {} has shape {}, expected {}".format(path, written, row.shape,
                                                                                 tuple(row_shape)))
                stream.write(row.tobytes())
                written += 1
            if written != count:
                raise ValueError("{}: {} rows written, {} announced".format(path, written, count))


def load_npy(path, mmap_mode=None):
    try:
        return np.load(path, allow_pickle=False, mmap_mode=mmap_mode)
    except ValueError as error:
        if mmap_mode is not None and "Python objects" in str(error):
            # The reason np.load gives without a memory map: the same refusal, the same words.
            raise ValueError("Object arrays cannot be loaded when allow_pickle=False") from None
        raise


def save_json(path, obj):
    with atomic_path(path) as temporary:
        with open(temporary, "w") as stream:
            json.dump(obj, stream, indent=1, sort_keys=True)
            stream.write("\n")


def load_json(path):
    with open(path) as stream:
        return json.load(stream)


def save_figure(figure, path, **kwargs):
    with atomic_path(path) as temporary:
        figure.savefig(temporary, **kwargs)
