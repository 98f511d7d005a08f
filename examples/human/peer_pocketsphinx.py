#!/usr/bin/env python
"""The peer on human speech: off-the-shelf PocketSphinx, scored on labelled WAVs as evaluate.py scores ours.

PocketSphinx 5.1.1 from its pip wheel, with the US-English acoustic model and dictionary that ship inside
it, searching a JSGF grammar of the ten digit words only (one word per recording, as our recogniser answers
one of ten): what a user could pick instead of this project, with no training of any kind. Each recording
is read as mono, resampled to the model's 16 kHz, given 0.2 s of silence on each side (the decoder needs
some silence around a word cut tight, as FSDD's are) and decoded whole. A recording for which the decoder
returns no word counts as wrong.

Prints per-digit and per-speaker accuracy and ``accuracy 0.7620 (2286/3000)``, writes ``confusion.png`` and
``report.json`` under ``--out`` (specae.scoring, the same counts as evaluate.py). A benchmark-only peer:
pocketsphinx is in requirements-peer.txt and ``make human-peer`` runs this in .venv-bench; nothing in the
pipeline imports it.
"""
import argparse
import importlib.metadata
import multiprocessing
import os
import sys

import numpy as np

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
from specae import errors, scoring  # noqa: E402
from specae.audio import AudioError, load_audio  # noqa: E402
from specae.files import labelled_audio_files  # noqa: E402
from specae.synth import DIGIT_WORDS  # noqa: E402

SAMPLE_RATE_HZ = 16000  # the bundled acoustic model's rate
PAD_S = 0.2
GRAMMAR = "#JSGF V1.0;\ngrammar digits;\npublic <digit> = {};\n".format(" | ".join(DIGIT_WORDS))


def decoder_input(samples, pad_s=PAD_S, rate_hz=SAMPLE_RATE_HZ):
    """16-bit PCM bytes of ``samples`` (float, at ``rate_hz``) with ``pad_s`` of silence on each side."""
    pad = np.zeros(int(round(pad_s * rate_hz)), np.float32)
    padded = np.concatenate([pad, np.asarray(samples, np.float32), pad])
    return (np.clip(padded, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def digit_of(hypothesis):
    """The digit that a hypothesis string names (one of DIGIT_WORDS), else scoring.NO_ANSWER."""
    words = hypothesis.split()
    return DIGIT_WORDS.index(words[0]) if len(words) == 1 and words[0] in DIGIT_WORDS else scoring.NO_ANSWER


_decoder = None  # one per worker process: loading the model takes longer than a recording


def _make_decoder():
    from pocketsphinx import Decoder
    decoder = Decoder(lm=None, loglevel="FATAL", samprate=SAMPLE_RATE_HZ)
    decoder.add_jsgf_string("digits", GRAMMAR)
    decoder.activate_search("digits")
    return decoder


def recognise(path):
    """``(path, digit or NO_ANSWER, hypothesis)``, or ``(path, None, reason)`` for a file that is not usable audio."""
    global _decoder
    try:
        samples = load_audio(path, SAMPLE_RATE_HZ)
    except AudioError as error:
        return path, None, str(error)
    if _decoder is None:
        _decoder = _make_decoder()
    _decoder.start_utt()
    _decoder.process_raw(decoder_input(samples), False, True)  # no_search=False, full_utt=True
    _decoder.end_utt()
    hypothesis = _decoder.hyp()
    text = hypothesis.hypstr.strip() if hypothesis is not None else ""
    return path, digit_of(text), text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--out", default=os.path.join("result", "human_peer"), help="where to write the report")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        print("error: pocketsphinx is not installed: it is a benchmark-only peer (requirements-peer.txt); "
              "run make human-peer, which installs it into .venv-bench", file=sys.stderr)
        return 1

    labels, skipped = labelled_audio_files(args.paths)
    paths = sorted(labels)
    if args.jobs > 1 and len(paths) > 1:
        with multiprocessing.get_context("spawn").Pool(min(args.jobs, len(paths))) as pool:
            answers = pool.map(recognise, paths, chunksize=16)
    else:
        answers = [recognise(path) for path in paths]
    usable = [(path, digit, text) for path, digit, text in answers if digit is not None]
    skipped += [(path, reason) for path, digit, reason in answers if digit is None]
    errors.report_skipped(skipped)
    if not usable:
        return errors.no_usable_labelled_file(args.paths, len(skipped))
    scoring.report(args.out, "PocketSphinx, digit grammar", [path for path, _, _ in usable],
                   [labels[path][0] for path, _, _ in usable], [digit for _, digit, _ in usable],
                   [labels[path][1] for path, _, _ in usable], skipped,
                   file_fields=[{"hypothesis": text} for _, _, text in usable],
                   recogniser="pocketsphinx {} (bundled en-us model, JSGF grammar of the ten digit words, "
                              "{} Hz, {} s of silence padded on each side)".format(
                                  importlib.metadata.version("pocketsphinx"), SAMPLE_RATE_HZ, PAD_S),
                   grammar=GRAMMAR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
