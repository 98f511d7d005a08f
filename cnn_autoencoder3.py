#!/usr/bin/env python
"""Greedy pretraining, layer 3: conv1 and conv2 are loaded from autoencoder 2 and frozen; conv3 (32→32,
kernel 6, stride 2) and its transposed convolution learn to rebuild conv2's output.
"""
import sys

from specae.greedy import main

if __name__ == "__main__":
    sys.exit(main(layer=3, description=__doc__))
