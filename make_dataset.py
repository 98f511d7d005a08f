#!/usr/bin/env python
"""Spectrogram images → DataSet/: train/test arrays (N, 1, 64, 64) float32, int32 labels, manifest.json.

The default split is by speaker: no voice appears in both train and test. ``--split random`` is the
original's split by example, where the same voice at another rate lands in the test set.
"""
import argparse
import os
import sys

import numpy as np

from specae.dataset import SPLITS, write_dataset
from specae.features import FeatureParams
from specae.files import load_json, load_npy


class SpectrogramFiles:
    """The images of make_spectrogram.py as a read-only sequence that loads each file when indexed,
    so that the data set is written without ever being held in memory (it may not fit)."""

    def __init__(self, paths):
        self.paths = paths
        first = load_npy(paths[0]) if paths else np.zeros((1, 0, 0), np.float32)
        self.shape, self.dtype = (len(paths),) + first.shape, first.dtype

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = load_npy(self.paths[index])
        if image.shape != self.shape[1:] or image.dtype != self.dtype:
            raise ValueError("{}: holds {} {}, expected {} {} like the others".format(
                self.paths[index], image.dtype, image.shape, self.dtype, self.shape[1:]))
        return image


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="spectrogram", help="output directory of make_spectrogram.py")
    parser.add_argument("--out", default="DataSet", help="output directory")
    parser.add_argument("--split", choices=SPLITS, default="speaker")
    parser.add_argument("--test-ratio", type=float, default=0.1)
    parser.add_argument("--test-speakers", nargs="+", metavar="SPEAKER",
                        help="these speakers form the test split (a split by speaker), instead of a drawn --test-ratio")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", type=int, default=0, metavar="COPIES",
                        help="degraded copies of each training example (speed, EQ, reverb, noise, telephone, "
                             "vocal-tract warp, masks); the test split is never augmented")
    parser.add_argument("--pitch-semitones", type=float, default=0.0, metavar="SEMITONES",
                        help="with --augment: also shift the pitch of half the copies by up to this many "
                             "semitones, formants and tempo kept (0: no pitch shift)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    index_path = os.path.join(args.spec, "index.json")
    if not os.path.exists(index_path):
        print("error: {}: no index.json (run make_spectrogram.py first)".format(args.spec), file=sys.stderr)
        return 1
    index = load_json(index_path)
    entries = index["files"]
    params = FeatureParams.from_dict(index["params"])
    images = SpectrogramFiles([os.path.join(args.spec, entry["npy"]) for entry in entries])
    labels = np.array([entry["digit"] for entry in entries], dtype=np.int32)
    try:
        sides = write_dataset(args.out, images, labels, entries, params, args.split, args.test_ratio, args.seed,
                              augment_copies=args.augment, jobs=args.jobs, pitch_semitones=args.pitch_semitones,
                              test_speakers=args.test_speakers)
    except ValueError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    print("train {} examples ({} speakers), test {} examples ({} speakers), split by {} → {}".format(
        sides["train"]["count"], len(sides["train"]["speakers"]), sides["test"]["count"],
        len(sides["test"]["speakers"]), args.split, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
