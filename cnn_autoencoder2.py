#!/usr/bin/env python
"""Greedy pretraining, layer 2: conv1 is loaded from autoencoder 1 and frozen; conv2 (16→32, kernel 6,
stride 2) and its transposed convolution learn to rebuild conv1's output.
"""
import sys

from specae.greedy import main

if __name__ == "__main__":
    sys.exit(main(layer=2, description=__doc__))
