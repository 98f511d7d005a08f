#!/usr/bin/env python
"""WAV files → one 64×64 log-mel image per file (``{stem}.npy``), an index and preview grids.

Labels and speakers come from ``{digit}_{speaker}_{anything}.wav`` names. A file that cannot be used
is named on stderr with its reason and skipped; the exit status is non-zero only when no file was usable.
"""
import argparse
import collections
import functools
import os
import sys
import time

# The mel projection is a small matrix product per file and the files are spread over processes:
# BLAS threads only compete with the workers (and cost more than they save even in one process).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from specae import errors, features, plots  # noqa: E402
from specae.files import (LabelError, list_audio_files, load_npy, parse_name, rate_of,  # noqa: E402
                          remove_stale_temporaries, save_json, write_npy)

INDEX_NAME = "index.json"
PREVIEWS_PER_DIGIT = 16


def select(paths, args):
    """Split paths into labelled files to process and (path, reason) pairs to skip."""
    chosen, skipped = [], []
    excluded = set(args.exclude)
    for path in paths:
        try:
            digit, speaker, rest = parse_name(path)
        except LabelError as error:
            skipped.append((path, str(error)))
            continue
        rate = rate_of(rest)
        if speaker in excluded:
            continue
        if rate is not None and ((args.min_rate is not None and rate < args.min_rate) or
                                 (args.max_rate is not None and rate > args.max_rate)):
            continue
        chosen.append((path, digit, speaker, rate))
    return chosen, skipped


def write_image(out_dir, path, image):
    """Write one image as ``{stem}.npy`` (in the worker that made it, atomically); returns the file name.

    index.json, removed when the run starts and written last, says that the set is complete."""
    name = os.path.splitext(os.path.basename(path))[0] + ".npy"
    write_npy(os.path.join(out_dir, name), image[np.newaxis])
    return name


def write_previews(entries, out_dir):
    by_digit = collections.defaultdict(list)
    for entry in entries:
        by_digit[entry["digit"]].append(entry)
    for digit, group in sorted(by_digit.items()):
        step = max(1, len(group) // PREVIEWS_PER_DIGIT)
        shown = group[::step][:PREVIEWS_PER_DIGIT]
        images = [load_npy(os.path.join(out_dir, entry["npy"]))[0] for entry in shown]
        titles = ["{} {}".format(entry["speaker"], entry["rate"] or "") for entry in shown]
        plots.spectrogram_grid(images, titles, os.path.join(out_dir, "preview", "digit_{}.png".format(digit)),
                               suptitle="digit {}: log-mel, 64 bands × 64 frames".format(digit))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wav", nargs="+", default=["wav"], help="WAV files or directories")
    parser.add_argument("--out", default="spectrogram", help="output directory")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    parser.add_argument("--min-rate", type=int, help="drop clips whose rate field is below this")
    parser.add_argument("--max-rate", type=int, help="drop clips whose rate field is above this")
    parser.add_argument("--exclude", action="append", default=[], metavar="SPEAKER",
                        help="leave out a speaker (repeatable)")
    parser.add_argument("--no-preview", action="store_true", help="skip the PNG grids")
    features.add_feature_arguments(parser)
    args = parser.parse_args()
    params = features.params_from_args(args)

    started = time.time()
    for directory in (args.out, os.path.join(args.out, "preview")):
        remove_stale_temporaries(directory)  # left by a run that was killed
    if os.path.exists(os.path.join(args.out, INDEX_NAME)):  # it would describe a mix of old and new images
        os.remove(os.path.join(args.out, INDEX_NAME))
    chosen, skipped = select(list_audio_files(args.wav), args)
    labels = {path: (digit, speaker, rate) for path, digit, speaker, rate in chosen}
    entries = []
    os.makedirs(args.out, exist_ok=True)
    results = features.images_from_files([path for path, *_ in chosen], params, jobs=args.jobs,
                                         consume=functools.partial(write_image, args.out))
    for path, name, info in tqdm(results, total=len(chosen), desc="spectrograms", unit="file",
                                 disable=None, file=sys.stderr):
        if name is None:
            skipped.append((path, info))
            continue
        digit, speaker, rate = labels[path]
        entries.append(dict(info, wav=os.path.abspath(path), npy=name, digit=digit, speaker=speaker, rate=rate))

    skipped.sort()  # index.json lists them in path order too
    errors.report_skipped(skipped)
    if not entries:
        return errors.no_usable_labelled_file(args.wav, len(skipped))
    duplicates = collections.Counter(entry["npy"] for entry in entries)
    clashing = sorted(name for name, count in duplicates.items() if count > 1)
    if clashing:
        print("error: several inputs map to the same output name, e.g. {}".format(clashing[0]), file=sys.stderr)
        return 1
    if not args.no_preview:
        write_previews(entries, args.out)
    save_json(os.path.join(args.out, INDEX_NAME), {
        "params": params.to_dict(), "files": entries,
        "skipped": [{"path": path, "reason": reason} for path, reason in skipped]})
    print("processed {} files, skipped {} ({:.1f} s) → {}".format(
        len(entries), len(skipped), time.time() - started, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
