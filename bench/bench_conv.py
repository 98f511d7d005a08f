"""Time stock Chainer convolution links against specae.fastconv on CPU.

Not a test.  For each model, times forward + backward + Adam update on random
data (batch 30, input 1x64x64) with the stock links and with ours, in the
same run (interleaved rounds, ``--seconds`` per variant, best round
reported), and prints samples/s and the speed-up ratio.

    .venv/bin/python bench/bench_conv.py [--seconds 3] [--batch 30]
        [--model cnn|ae|all] [--profile]
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))

import chainer  # noqa: E402
import chainer.functions as F  # noqa: E402
import chainer.links as L  # noqa: E402

from specae import fastconv  # noqa: E402

STOCK = (L.Convolution2D, L.Deconvolution2D)
FAST = (fastconv.Convolution2D, fastconv.Deconvolution2D)


class CNN(chainer.Chain):
    """3-layer CNN classifier: 1x64x64 -> 16x30x30 -> 32x13x13 -> 32x4x4."""

    def __init__(self, conv, n_out=10):
        super().__init__()
        with self.init_scope():
            self.conv1 = conv(1, 16, 6, 2)
            self.conv2 = conv(16, 32, 6, 2)
            self.conv3 = conv(32, 32, 6, 2)
            self.fc = L.Linear(512, n_out)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        return self.fc(h)


class AE1(chainer.Chain):
    """1-layer convolutional autoencoder: conv1 + deconv1 (MSE)."""

    def __init__(self, conv, deconv):
        super().__init__()
        with self.init_scope():
            self.conv1 = conv(1, 16, 6, 2)
            self.deconv1 = deconv(16, 1, 6, 2, outsize=(64, 64))

    def forward(self, x):
        return self.deconv1(F.relu(self.conv1(x)))


def make_step(model_name, links, batch, rng):
    conv, deconv = links
    x = rng.rand(batch, 1, 64, 64).astype(np.float32)
    if model_name == 'cnn':
        model = CNN(conv)
        t = rng.randint(0, 10, batch).astype(np.int32)

        def loss_fn():
            return F.softmax_cross_entropy(model(x), t)
    else:
        model = AE1(conv, deconv)

        def loss_fn():
            return F.mean_squared_error(model(x), x)
    opt = chainer.optimizers.Adam()
    opt.setup(model)

    def step():
        loss = loss_fn()
        model.cleargrads()
        loss.backward()
        opt.update()
        return float(loss.array)
    return step


def rate(step, seconds):
    """Steps per second of ``step`` run for about ``seconds``."""
    n = 0
    t0 = time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def compare(steps, seconds, rounds=3, warmup=3):
    """Best samples-per-step rate of each step over interleaved rounds (the
    machine is shared, so the best round is the least disturbed one)."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    best = dict.fromkeys(steps, 0.0)
    for _ in range(rounds):
        for label, step in steps.items():
            best[label] = max(best[label], rate(step, seconds / rounds))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--batch', type=int, default=30)
    ap.add_argument('--model', choices=('cnn', 'ae', 'all'), default='all')
    ap.add_argument('--profile', action='store_true',
                    help='cProfile 30 steps of the fast variant')
    args = ap.parse_args()
    print('numpy {}, chainer {}, OPENBLAS_CORETYPE={}'.format(
        np.__version__, chainer.__version__,
        os.environ.get('OPENBLAS_CORETYPE', '(unset)')))
    models = ('cnn', 'ae') if args.model == 'all' else (args.model,)
    for name in models:
        steps = {label: make_step(name, links, args.batch,
                                  np.random.RandomState(0))
                 for label, links in (('stock', STOCK), ('fast', FAST))}
        rates = compare(steps, args.seconds)
        for label in steps:
            print('{:4s} {:5s}: {:8.1f} samples/s'.format(
                name, label, rates[label] * args.batch))
        print('{:4s} ratio fast/stock: {:.2f}x'.format(
            name, rates['fast'] / rates['stock']), flush=True)
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(lambda: [steps['fast']() for _ in range(30)])
            pstats.Stats(prof).sort_stats('tottime').print_stats(12)

if __name__ == '__main__':
    main()
