"""Variational autoencoder on the 64×64 log-mel images, its vector-quantised variant, and latent morphing.

Shared, not in examples/vae/: cnn_classifier2.py --init and checkpoints.load_autoencoder build it.

The encoder is the classifier's convolution stack (kernel 6, stride 2, 16/32/32 filters, ReLU:
64 → 30 → 13 → 4), so its weights can start the 3-layer CNN like the greedy stack's
(`encoder_weights`). Its 32×4×4 features give either

* ``bottleneck="gaussian"``: the mean and log-variance of a diagonal Gaussian ``q(z|x)`` (Kingma &
  Welling 2014), sampled by reparameterisation; loss = reconstruction + β·KL(q(z|x) ‖ N(0, I));
* ``bottleneck="vq"``: a 4×4 grid of vectors, each replaced by its nearest codebook entry, with the
  straight-through gradient, codebook and commitment losses of VQ-VAE (van den Oord et al. 2017).

The decoder mirrors the encoder with transposed convolutions and gives per-pixel logits; the
reconstruction term is the Bernoulli negative log-likelihood of the image's [0, 1] values, as in
Chainer's examples/vae. Losses are summed over a clip and averaged over the batch (nats per clip).
"""
import math

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from specae.models import CHANNELS, KERNEL, STRIDE, feature_sizes
from specae.fastconv import Convolution2D, Deconvolution2D

BOTTLENECKS = ("gaussian", "vq")


def reparameterise(mean, ln_var, noise=None):
    """``z = mean + exp(ln_var / 2) · noise`` with ``noise ~ N(0, I)``: a sample of N(mean, exp(ln_var))
    through which gradients reach ``mean`` and ``ln_var`` (``noise`` is drawn when not given)."""
    if noise is None:
        xp = chainer.backend.get_array_module(mean)
        noise = xp.random.standard_normal(mean.shape).astype(mean.dtype)
    return mean + F.exp(ln_var * 0.5) * noise


class Encoder(chainer.Chain):
    """The classifier's three convolutions with ReLU: (N, 1, 64, 64) → (N, 32, 4, 4)."""

    def __init__(self, channels=CHANNELS):
        super().__init__()
        widths = (1,) + tuple(channels)
        with self.init_scope():
            self.convs = chainer.ChainList(*[Convolution2D(widths[i], widths[i + 1], KERNEL, stride=STRIDE)
                                             for i in range(len(channels))])

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return x


class Decoder(chainer.Chain):
    """Transposed convolutions back from (N, 32, 4, 4) to per-pixel logits (N, 1, 64, 64)."""

    def __init__(self, input_size=64, channels=CHANNELS):
        super().__init__()
        sizes = feature_sizes(input_size, len(channels))
        widths = (1,) + tuple(channels)
        with self.init_scope():
            self.deconvs = chainer.ChainList(*[
                Deconvolution2D(widths[i + 1], widths[i], KERNEL, stride=STRIDE, outsize=(sizes[i], sizes[i]))
                for i in reversed(range(len(channels)))])

    def forward(self, h):
        for deconv in self.deconvs[:-1]:
            h = F.relu(deconv(h))
        return self.deconvs[-1](h)


class VAE(chainer.Chain):
    """Convolutional encoder → Gaussian latent of ``n_latent`` dimensions → transposed-convolution decoder.

    ``beta`` weighs the KL term of the training loss (set per iteration by `KLWarmup`); the ELBO that is
    reported always uses weight 1.
    """

    bottleneck = "gaussian"

    def __init__(self, n_latent=16, input_size=64, channels=CHANNELS, beta=1.0):
        super().__init__()
        self.n_latent, self.input_size, self.channels, self.beta = n_latent, input_size, tuple(channels), beta
        self.code_shape = (channels[-1],) + (feature_sizes(input_size, len(channels))[-1],) * 2
        features = int(np.prod(self.code_shape))
        with self.init_scope():
            self.encoder = Encoder(channels)
            self.to_mean = L.Linear(features, n_latent)
            self.to_ln_var = L.Linear(features, n_latent)
            self.from_latent = L.Linear(n_latent, features)
            self.decoder = Decoder(input_size, channels)

    def encode(self, x):
        """``(mean, ln_var)`` of q(z|x), each (N, n_latent)."""
        h = self.encoder(x)
        return self.to_mean(h), self.to_ln_var(h)

    def decode(self, z):
        """Per-pixel logits (N, 1, H, W) of latent vectors (N, n_latent)."""
        h = F.relu(self.from_latent(z)).reshape((len(z),) + self.code_shape)
        return self.decoder(h)

    def latent(self, x):
        """The point that stands for ``x`` in the latent space: the posterior mean."""
        return self.encode(x)[0]

    def reconstruct(self, x, depth=None):
        """Decoded posterior mean as an image in [0, 1] (``depth`` only mirrors GreedyStack's signature)."""
        return F.sigmoid(self.decode(self.latent(x)))

    def terms(self, x, noise=None):
        """``(reconstruction, kl)``: Bernoulli NLL of ``x`` under one reparameterised sample and
        KL(q(z|x) ‖ N(0, I)), both in nats per clip averaged over the batch."""
        mean, ln_var = self.encode(x)
        batch = len(x)
        reconstruction = F.bernoulli_nll(x, self.decode(reparameterise(mean, ln_var, noise))) / batch
        return reconstruction, F.gaussian_kl_divergence(mean, ln_var) / batch

    def forward(self, x):
        reconstruction, kl = self.terms(x)
        loss = reconstruction + self.beta * kl
        chainer.report({"loss": loss, "reconstruction": reconstruction, "kl": kl,
                        "elbo": -(reconstruction + kl), "beta": self.beta}, self)
        return loss

    def encoder_weights(self):
        """``(W, b)`` of each encoder convolution, for `specae.models.CNN.load_encoders`."""
        return [(conv.W.array, conv.b.array) for conv in self.encoder.convs]


class VQVAE(chainer.Chain):
    """The same encoder and decoder with a vector-quantised bottleneck: a ``code_dim``-vector per cell of
    the 4×4 grid, replaced by the nearest of ``codebook_size`` learnt vectors.

    The decoder's gradient is copied to the encoder past the quantisation (straight-through); the
    codebook learns from ‖sg[z_e] − e‖², the encoder is held near its codes by ``commitment``·‖z_e − sg[e]‖².
    With a uniform prior over the codes the KL term is the constant cells·log(codebook_size).
    Encoder vectors and codes are compared and used at unit length (Yu et al. 2022, "Vector-quantized
    image modeling with improved VQGAN"): with raw lengths the encoder's outputs outgrow the codes and
    a handful of codes serve every cell.
    """

    bottleneck = "vq"

    def __init__(self, code_dim=16, input_size=64, channels=CHANNELS, codebook_size=64, commitment=0.25):
        super().__init__()
        self.n_latent, self.input_size, self.channels = code_dim, input_size, tuple(channels)
        self.codebook_size, self.commitment = codebook_size, commitment
        self.code_shape = (channels[-1],) + (feature_sizes(input_size, len(channels))[-1],) * 2
        with self.init_scope():
            self.encoder = Encoder(channels)
            self.to_code = L.Convolution2D(channels[-1], code_dim, 1)
            self.codebook = chainer.Parameter(chainer.initializers.Uniform(1.0 / codebook_size),
                                              (codebook_size, code_dim))
            self.from_latent = L.Convolution2D(code_dim, channels[-1], 1)
            self.decoder = Decoder(input_size, channels)
        # A codebook far from the encoder's outputs leaves most codes unused for ever: the first
        # training batch's vectors are taken as the initial codes (saved, so a resumed run keeps them).
        self.add_persistent("codebook_ready", False)

    def encode(self, x):
        """Encoder vectors z_e of unit length, (N, code_dim, 4, 4)."""
        return F.normalize(self.to_code(self.encoder(x)), axis=1)

    def latent(self, x):
        return self.encode(x).reshape(len(x), -1)

    def vectors(self, z_e):
        """(N·cells, code_dim) rows of an (N, code_dim, h, w) grid."""
        return F.transpose(z_e, (0, 2, 3, 1)).reshape(-1, self.n_latent)

    def nearest(self, z_e):
        """Index of the nearest code (largest cosine) for every cell of unit-length z_e, (N·cells,)."""
        rows = self.vectors(z_e).array
        return (rows @ self.codebook.array.T / np.linalg.norm(self.codebook.array, axis=1)).argmax(axis=1).astype(np.int32)

    def quantise(self, z_e):
        """``(z_q, codes, indices)``: the straight-through output, the chosen codes (unit length), their indices."""
        indices = self.nearest(z_e)
        codes = F.normalize(F.embed_id(indices, self.codebook), axis=1)
        grid = F.transpose(codes.reshape((len(z_e),) + z_e.shape[2:] + (self.n_latent,)), (0, 3, 1, 2))
        # Forward value: the codes; backward: the identity to z_e.
        return z_e + (grid.array - z_e.array), grid, indices

    def decode(self, z):
        """Logits of latent vectors (N, code_dim·cells), quantised first (morphs pass through here)."""
        z_e = z.reshape((len(z), self.n_latent) + self.code_shape[1:]) if z.ndim == 2 else z
        z_q = self.quantise(chainer.as_variable(z_e))[0]
        return self.decoder(F.relu(self.from_latent(z_q)))

    def reconstruct(self, x, depth=None):
        return F.sigmoid(self.decode(self.encode(x)))

    def terms(self, x, noise=None):
        """``(reconstruction, kl, codebook, commitment, perplexity)`` per clip, batch mean."""
        z_e = self.encode(x)
        if chainer.config.train and not self.codebook_ready:
            rows = self.vectors(z_e).array
            picks = np.random.default_rng(0).choice(len(rows), self.codebook_size, replace=len(rows) < self.codebook_size)
            self.codebook.array[...] = rows[picks]
            self.codebook_ready = True
        z_q, grid, indices = self.quantise(z_e)
        batch = len(x)
        reconstruction = F.bernoulli_nll(x, self.decoder(F.relu(self.from_latent(z_q)))) / batch
        codebook = F.sum(F.square(grid - z_e.array)) / batch
        commitment = F.sum(F.square(z_e - grid.array)) / batch
        cells = int(np.prod(z_e.shape[2:]))
        kl = cells * math.log(self.codebook_size)
        return reconstruction, kl, codebook, commitment, perplexity(indices, self.codebook_size)

    def forward(self, x):
        reconstruction, kl, codebook, commitment, used = self.terms(x)
        loss = reconstruction + codebook + self.commitment * commitment
        chainer.report({"loss": loss, "reconstruction": reconstruction, "codebook": codebook,
                        "commitment": commitment, "elbo": -(reconstruction + kl), "perplexity": used}, self)
        return loss

    encoder_weights = VAE.encoder_weights


def perplexity(indices, codebook_size):
    """``exp(entropy)`` of how often each code is used: 1 when one code does all, K when all K share evenly."""
    counts = np.bincount(chainer.backend.CpuDevice().send(indices), minlength=codebook_size)
    p = counts / max(counts.sum(), 1)
    return float(np.exp(-np.sum(p[p > 0] * np.log(p[p > 0]))))


class KLWarmup(chainer.training.Extension):
    """Sets the model's KL weight to ``beta · min(1, epoch / epochs)`` at every iteration: the KL term
    grows from 0 so that the decoder learns to use z before the prior pulls q(z|x) onto it
    (Bowman et al. 2016). A function of the epoch alone, so a resumed run gets the same weights."""

    trigger = 1, "iteration"

    def __init__(self, model, beta, epochs):
        self.model, self.beta, self.epochs = model, beta, epochs

    def __call__(self, trainer):
        progress = trainer.updater.epoch_detail / self.epochs if self.epochs > 0 else 1.0
        self.model.beta = self.beta * min(1.0, progress)

    def initialize(self, trainer):
        self(trainer)


def build(info):
    """The VAE or VQVAE that a model.json's ``info`` describes (untrained)."""
    if info.get("bottleneck", "gaussian") == "vq":
        return VQVAE(info["n_latent"], info["input_size"], info["channels"], info["codebook_size"],
                     info["commitment"])
    return VAE(info["n_latent"], info["input_size"], info["channels"], info.get("beta", 1.0))


def latents(model, images, batchsize=256):
    """``model.latent`` of (N, 1, H, W) CPU images in batches, inference mode: (N, n) numpy."""
    out = []
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for start in range(0, len(images), batchsize):
            out.append(model.latent(np.asarray(images[start:start + batchsize], np.float32)).array)
    return np.concatenate(out)


def decode_images(model, z):
    """Images in [0, 1] (N, H, W) of latent vectors (N, n)."""
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        return F.sigmoid(model.decode(np.asarray(z, np.float32))).array[:, 0]


def interpolate(z_a, z_b, steps=(0.0, 0.25, 0.5, 0.75, 1.0)):
    """Points on the straight line from ``z_a`` (step 0) to ``z_b`` (step 1): (len(steps), n)."""
    t = np.asarray(steps, np.float32)[:, None]
    return (1 - t) * np.asarray(z_a, np.float32) + t * np.asarray(z_b, np.float32)


def interpolate_info(info_a, info_b, t):
    """The inversion info (level, voiced length) of a morph at ``t``: each clip's, interpolated, with the
    trimmed silence left out (the morph has no recording of its own to be trimmed from)."""
    length = lambda info: info["span_frames"][1] - info["span_frames"][0]  # noqa: E731
    frames = max(1, int(round((1 - t) * length(info_a) + t * length(info_b))))
    return {"reference_db": (1 - t) * info_a["reference_db"] + t * info_b["reference_db"],
            "span_frames": [0, frames], "total_frames": frames}


def pca_2d(points):
    """``(projection (N, 2), explained variance ratio (2,))`` of the rows of ``points`` on their first
    two principal axes (centred SVD; the sign of each axis is fixed so its largest loading is positive)."""
    centred = np.asarray(points, np.float64) - np.mean(points, axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2] * np.sign(axes[:2][np.arange(2), np.abs(axes[:2]).argmax(axis=1)])[:, None]
    return centred @ axes.T, singular[:2] ** 2 / max(np.sum(singular ** 2), 1e-30)


def cosine_similarity(a, b):
    """Per row of (N, ...) arrays: ``a·b / (|a| |b|)`` of the flattened images (0 for an all-zero one)."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


def evaluate(model, images, batchsize=256, seed=0):
    """Held-out figures of a VAE or VQVAE: per-clip mean image MSE and input/reconstruction cosine of the
    decoded posterior mean, and the ELBO (nats per clip) with one seeded sample per clip."""
    rng = np.random.default_rng(seed)
    mse, cosine, elbo = [], [], []
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for start in range(0, len(images), batchsize):
            x = np.asarray(images[start:start + batchsize], np.float32)
            rebuilt = model.reconstruct(x).array
            mse.append(np.square(rebuilt - x).reshape(len(x), -1).mean(axis=1))
            cosine.append(cosine_similarity(x, rebuilt))
            noise = rng.standard_normal((len(x), model.n_latent)).astype(np.float32)
            reconstruction, kl = model.terms(x, noise)[:2]
            elbo.append(-(float(reconstruction.array) + float(getattr(kl, "array", kl))) * len(x))
    return {"mse": float(np.mean(np.concatenate(mse))), "cosine": float(np.mean(np.concatenate(cosine))),
            "elbo": float(np.sum(elbo) / len(images))}


def morph_pairs(files, digits=(3, 8), digit=5):
    """Indices of two test clips for each morph: ``("digits", a, b)``, two digits said by one voice, and
    ``("voices", a, b)``, one digit said by two voices. ``files`` are the manifest's entries."""
    first = {}
    for index, entry in enumerate(files):
        first.setdefault((entry["speaker"], int(entry["digit"])), index)
    voices = list(dict.fromkeys(entry["speaker"] for entry in files))
    pairs = []
    for voice in voices:
        if (voice, digits[0]) in first and (voice, digits[1]) in first:
            pairs.append(("digits", first[voice, digits[0]], first[voice, digits[1]]))
            break
    saying = [first[voice, digit] for voice in voices if (voice, digit) in first]
    if len(saying) >= 2:
        pairs.append(("voices", saying[0], saying[1]))
    return pairs
