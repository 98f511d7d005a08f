"""Shared code of the spectrogram autoencoder pipeline: one module per concept."""
import os

# Chainer's cuDNN path stays off (CHAINER_CUDNN=0, Chainer's own switch, read when chainer is first imported:
# the training scripts import specae before it). Chainer 7.8.1 was written for CuPy 7 and cuDNN 7, CuPy 14
# has no cuDNN module at all, and with CuPy 13 that path is untested here; on a GPU the convolutions run on
# CuPy's im2col and cuBLAS, the path tests/test_gpu.py checks. Without it, every process that imports
# chainer on a CuPy machine without cuDNN would print Chainer's advice to install cuDNN for that path.
os.environ.setdefault("CHAINER_CUDNN", "0")
