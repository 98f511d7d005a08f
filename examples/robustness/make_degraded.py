#!/usr/bin/env python
"""Degraded copies of the held-out test voices: the validation set that stands in for real recordings.

For every test clip of a DataSet (speakers never seen in training) it writes one copy per condition:
``telephone`` (8 kHz, 300–3400 Hz, μ-law), ``noise`` (white, pink or babble at 5–20 dB SNR),
``reverb`` (RT60 0.3–0.8 s), ``voice`` (played 10–25 % slower or faster: pitch and formants shift
together, as between a child, a woman and a man), ``mixed`` (a random chain of speed, EQ, reverb, noise and telephone).
Names are kept, so ``evaluate.py OUT/telephone`` scores each condition. Babble is made from other
test clips only, so no training voice leaks in.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np
from tqdm import tqdm

from specae import augment
from specae.audio import load_audio, write_wav
from specae.dataset import DataSetError, load_manifest

CONDITIONS = ("telephone", "noise", "reverb", "voice", "mixed")
RATE_HZ = 22050


def degraded_versions(samples, rng, babble):
    kinds = augment.NOISE_KINDS
    return {
        "telephone": augment.telephone(samples, RATE_HZ),
        "noise": augment.add_noise(samples, rng.uniform(5.0, 20.0), kinds[int(rng.integers(3))], rng, babble),
        "reverb": augment.reverb(samples, RATE_HZ, rng.uniform(0.3, 0.8), rng),
        "voice": augment.change_speed(samples, rng.choice(
            [rng.uniform(0.75, 0.9), rng.uniform(1.1, 1.25)])),
        "mixed": augment.degrade(samples, RATE_HZ, rng, babble),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="DataSet")
    parser.add_argument("--out", default="degraded")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        files = load_manifest(args.dataset)["test"]["files"]
    except DataSetError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    clips = [load_audio(entry["wav"], RATE_HZ) for entry in files]
    for index, (entry, samples) in enumerate(tqdm(list(zip(files, clips)), desc="degrading", unit="clip",
                                                  disable=None, file=sys.stderr)):
        rng = np.random.default_rng([args.seed, index])
        babble = [clip for other, clip in enumerate(clips) if files[other]["speaker"] != entry["speaker"]] \
            or [clip for other, clip in enumerate(clips) if other != index]
        for condition, degraded in degraded_versions(samples, rng, babble).items():
            write_wav(os.path.join(args.out, condition, os.path.basename(entry["wav"])), degraded, RATE_HZ)
    print("wrote {} clips × {} conditions to {}".format(len(files), len(CONDITIONS), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
