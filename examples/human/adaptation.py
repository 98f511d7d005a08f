"""Adaptation to unlabelled recordings: class-balanced pseudo-labels for self-training.

A recogniser trained on synthetic voices meets human recordings with a bias: on FSDD a third of its
errors are the answer "8". Its probabilities still rank the recordings usefully within each digit.
Two steps use that without reading a single label:

1. :func:`specae.inference.balance_priors` rescales the probabilities of a batch of recordings so that
   every digit receives the same share of the batch (the prior taken to be uniform, as in a digit
   corpus). Decisions on the balanced matrix no longer pile onto "8"; evaluate.py --balance scores them.
2. :func:`pseudo_labels` keeps, for each digit, the recordings most confidently assigned to it
   after balancing, the same number per digit, so that self-training does not teach the bias back.
"""
import numpy as np

from specae.inference import balance_priors

N_CLASSES = 10


def pseudo_labels(probabilities, fraction):
    """``(indices, labels)``: for each digit the ``fraction`` · N/10 recordings with the highest
    balanced probability among those whose balanced decision is that digit (fewer if fewer are)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError("the fraction of recordings to pseudo-label must be in (0, 1], not {}".format(fraction))
    balanced = balance_priors(probabilities)
    decision = balanced.argmax(axis=1)
    per_class = int(round(fraction * len(balanced) / balanced.shape[1]))
    indices, labels = [], []
    for digit in range(balanced.shape[1]):
        members = np.flatnonzero(decision == digit)
        ranked = members[np.argsort(-balanced[members, digit], kind="stable")][:per_class]
        indices.append(ranked)
        labels.append(np.full(len(ranked), digit, dtype=np.int32))
    order = np.argsort(np.concatenate(indices), kind="stable")
    return np.concatenate(indices)[order], np.concatenate(labels)[order]
