"""Shared code of the spectrogram autoencoder pipeline: one module per concept."""
