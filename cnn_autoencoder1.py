#!/usr/bin/env python
"""Greedy pretraining, layer 1: conv1 (1→16, kernel 6, stride 2) and its transposed convolution learn
to rebuild the 64×64 log-mel spectrogram.
"""
import sys

from specae.greedy import main

if __name__ == "__main__":
    sys.exit(main(layer=1, description=__doc__))
