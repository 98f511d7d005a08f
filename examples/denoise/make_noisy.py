#!/usr/bin/env python
"""Noisy versions of a data set's clips for denoising autoencoders: ``train_noisy.npy`` and
``test_noisy.npy`` (row i = the noisy version of row i of train_data / test_data) and ``noisy.json``
(the noise kind and SNR of every row).

Noise is white, pink or babble (a mix of clips of the same split, so the test noise holds no
training voice) at an SNR drawn uniformly from --snr-db; drawn once, so every run sees the same pairs.
"""
import argparse
import os
import sys

from tqdm import tqdm

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from specae import augment, denoise
from specae.dataset import DataSetError, load_manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="DataSet", help="directory written by make_dataset.py")
    parser.add_argument("--out", default="noisy", help="output directory")
    parser.add_argument("--snr-db", type=float, nargs=2, default=(0.0, 20.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--kinds", nargs="+", choices=augment.NOISE_KINDS, default=list(augment.NOISE_KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    try:
        manifest = load_manifest(args.dataset)
    except DataSetError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    bars = {}

    def progress(side, done, total):
        if side not in bars:
            bars[side] = tqdm(total=total, desc="noisy " + side, unit="clip", disable=None, file=sys.stderr)
        bars[side].update(done - bars[side].n)

    try:
        index = denoise.make_noisy(args.dataset, manifest, args.out, tuple(args.snr_db), tuple(args.kinds),
                                   args.seed, args.jobs, progress)
    except (denoise.NoisyError, OSError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    for bar in bars.values():
        bar.close()
    print("train {} and test {} noisy images ({} at {:g}–{:g} dB SNR) → {}".format(
        index["train"]["count"], index["test"]["count"], "/".join(args.kinds), *args.snr_db, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
