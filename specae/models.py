"""The networks: one autoencoder layer, the greedy stack of them, a deeper end-to-end autoencoder,
and the CNN classifier.

Geometry as the original: kernel 6, stride 2, no padding, 16/32/32 filters, so a 64×64 image
becomes 30×30, 13×13, then 4×4; ReLU after every convolution and transposed convolution of the
greedy stack and the classifier (oneDNN's where the convolutions run on it: `specae.onednn.relu`; a
training step's stack of convolutions and ReLUs as one node, `specae.fastconv.convolutions_with_relu`).
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from specae.fastconv import Convolution2D, Deconvolution2D, convolutions_with_relu
from specae.onednn import mean_squared_error, relu

KERNEL = 6
STRIDE = 2
CHANNELS = (16, 32, 32)
N_CLASSES = 10


def feature_sizes(input_size, n_layers):
    """Spatial size at the input of each layer and after the last: [64, 30, 13, 4] for 3 layers."""
    sizes = [input_size]
    for _ in range(n_layers):
        sizes.append((sizes[-1] - KERNEL) // STRIDE + 1)
    return sizes


class AutoencoderLayer(chainer.Chain):
    """One convolution and the transposed convolution that rebuilds its input."""

    def __init__(self, in_channels, out_channels, in_size):
        super().__init__()
        with self.init_scope():
            self.encoder = Convolution2D(in_channels, out_channels, KERNEL, stride=STRIDE)
            self.decoder = Deconvolution2D(out_channels, in_channels, KERNEL, stride=STRIDE,
                                           outsize=(in_size, in_size))

    def encode(self, x):
        return relu(self.encoder(x))

    def decode(self, h):
        return relu(self.decoder(h))

    def reconstruction_loss(self, x, target=None):
        """MSE to ``target``: ``x`` itself for a plain autoencoder, the clean version for a denoising one."""
        reconstruction = convolutions_with_relu(x, [self.encoder, self.decoder])  # relu(decoder(relu(encoder(x))))
        return mean_squared_error(reconstruction, x if target is None else target)


class GreedyStack(chainer.ChainList):
    """Autoencoder layers trained one at a time: every layer but the top one is frozen (``frozen_layers``,
    which the training run disables once its optimizer has made their update rules: ``make_trainer``).

    ``input_level`` says what the training data are: 0 for spectrograms, k for features already
    computed by the first k (frozen) layers. Frozen layers do not change, so their output can be
    computed once (``encode_frozen``) instead of at every step.
    """

    def __init__(self, n_layers, input_size=64, channels=CHANNELS):
        sizes = feature_sizes(input_size, n_layers)
        widths = (1,) + tuple(channels)
        super().__init__(*[AutoencoderLayer(widths[i], widths[i + 1], sizes[i]) for i in range(n_layers)])
        self.input_size = input_size
        self.channels = tuple(channels[:n_layers])
        self.input_level = 0

    @property
    def frozen_layers(self):
        return list(self)[:-1]

    @property
    def top(self):
        return self[len(self) - 1]

    def encode(self, x, depth=None):
        for layer in list(self)[:depth]:
            x = layer.encode(x)
        return x

    def decode(self, h, depth=None):
        for layer in reversed(list(self)[:depth]):
            h = layer.decode(h)
        return h

    def reconstruct(self, x, depth=None):
        """Encode through the first ``depth`` layers (all by default) and decode back to the input."""
        return self.decode(self.encode(x, depth), depth)

    def encode_frozen(self, x):
        with chainer.no_backprop_mode(), chainer.using_config("train", False):
            return self.encode(x, depth=len(self) - 1).array

    def encoder_weights(self):
        """``(W, b)`` arrays of each encoder convolution, for `CNN.load_encoders`."""
        return [(layer.encoder.W.array, layer.encoder.b.array) for layer in self]

    def forward(self, x, target=None):
        """The top layer's reconstruction loss; with ``target`` (denoising) it rebuilds the frozen
        layers' features of ``target`` from those of ``x``."""
        with chainer.no_backprop_mode():
            for layer in self.frozen_layers[self.input_level:]:
                x = layer.encode(x)
                target = None if target is None else layer.encode(target)
        loss = self.top.reconstruction_loss(x, target)
        chainer.report({"loss": loss}, self)
        return loss


def leaky_relu(x, slope):
    """``max(x, slope·x)`` for slope < 1, as ``relu(x)·(1 − slope) + slope·x``: the same values as
    F.leaky_relu, whose CPU code masks by boolean indexing and takes four times as long."""
    return F.relu(x) * (1.0 - slope) + x * slope


class DeepAutoencoder(chainer.Chain):
    """All layers trained together: convolutions with batch normalisation and LeakyReLU, a tanh
    bottleneck, transposed convolutions back, a softplus output; MSE, trained with RMSprop.

    The layout of the voice-conversion seed. The encoder keeps the classifier's geometry (kernel 6,
    stride 2, 16/32/32 filters, 64 → 30 → 13 → 4) so that it can initialise the CNN like the
    greedy stack does (`encoder_weights` folds the normalisation into the convolutions).
    """

    def __init__(self, input_size=64, channels=CHANNELS, slope=0.2):
        super().__init__()
        sizes = feature_sizes(input_size, len(channels))
        widths = (1,) + tuple(channels)
        depth = len(channels)
        self.input_size, self.channels, self.slope = input_size, tuple(channels), slope
        with self.init_scope():
            self.encoders = chainer.ChainList(*[Convolution2D(widths[i], widths[i + 1], KERNEL, stride=STRIDE)
                                                for i in range(depth)])
            self.encoder_norms = chainer.ChainList(*[L.BatchNormalization(widths[i + 1]) for i in range(depth)])
            self.decoders = chainer.ChainList(*[
                Deconvolution2D(widths[i + 1], widths[i], KERNEL, stride=STRIDE, outsize=(sizes[i], sizes[i]))
                for i in reversed(range(depth))])
            # The output layer has none: normalising the image itself would fight the softplus.
            self.decoder_norms = chainer.ChainList(*[L.BatchNormalization(widths[i])
                                                     for i in reversed(range(1, depth))])

    def encode(self, x):
        last = len(self.encoders) - 1
        for index, (conv, norm) in enumerate(zip(self.encoders, self.encoder_norms)):
            h = norm(conv(x))
            x = F.tanh(h) if index == last else leaky_relu(h, self.slope)
        return x

    def decode(self, h):
        for deconv, norm in zip(self.decoders[:-1], self.decoder_norms):
            h = leaky_relu(norm(deconv(h)), self.slope)
        return F.softplus(self.decoders[-1](h))

    def reconstruct(self, x, depth=None):
        """Encode and decode (``depth`` is accepted for symmetry with GreedyStack; all layers are used)."""
        return self.decode(self.encode(x))

    def forward(self, x, target=None):
        loss = F.mean_squared_error(self.reconstruct(x), x if target is None else target)
        chainer.report({"loss": loss}, self)
        return loss

    def encoder_weights(self):
        """``(W, b)`` of each convolution with its batch normalisation (running statistics) folded in:
        ``conv`` then ``norm`` at inference equals one convolution with these weights."""
        folded = []
        for conv, norm in zip(self.encoders, self.encoder_norms):
            scale = norm.gamma.array / self.xp.sqrt(norm.avg_var + norm.eps)
            folded.append((conv.W.array * scale[:, None, None, None],
                           (conv.b.array - norm.avg_mean) * scale + norm.beta.array))
        return folded


class CNN(chainer.Chain):
    """``n_layers`` convolutions with ReLU, then one fully connected layer to the ten digits.

    ``frequency_pool`` > 1 max-pools the last feature map over that many neighbouring frequency rows
    (stride 1) before the fully connected layer, so a pattern found one row higher or lower, as a
    formant of a longer or shorter vocal tract is, gives the same input to it.

    ``dropout`` > 0 drops that fraction of the fully connected layer's inputs while training (Srivastava
    et al. 2014); it has no weights, so a model trained with it loads and answers like one without. Its
    masks come from ``dropout_generator()`` (a numpy Generator) where the training sets one, so that a
    resumed run drops what the uninterrupted one would have; numpy's global generator otherwise.
    """

    def __init__(self, n_layers=3, input_size=64, channels=CHANNELS, n_classes=N_CLASSES, frequency_pool=1,
                 dropout=0.0):
        super().__init__()
        size = feature_sizes(input_size, n_layers)[-1]
        if not 1 <= frequency_pool <= size:
            raise ValueError("frequency_pool must be between 1 and {} (the rows of the last feature map), "
                             "not {}".format(size, frequency_pool))
        widths = (1,) + tuple(channels[:n_layers])
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout must be at least 0 and below 1, not {}".format(dropout))
        self.n_layers, self.frequency_pool, self.channels = n_layers, frequency_pool, list(widths[1:])
        self.dropout, self.dropout_generator = dropout, None
        with self.init_scope():
            self.convs = chainer.ChainList(*[Convolution2D(widths[i], widths[i + 1], KERNEL, stride=STRIDE)
                                             for i in range(n_layers)])
            self.fc = L.Linear(widths[-1] * (size - frequency_pool + 1) * size, n_classes)

    def forward(self, x):
        x = convolutions_with_relu(x, list(self.convs))
        if self.frequency_pool > 1:
            x = F.max_pooling_2d(x, (self.frequency_pool, 1), stride=1, cover_all=False)
        if self.dropout and chainer.config.train:
            x = F.dropout(x, self.dropout, mask=self._dropout_mask(x.shape))
        return self.fc(x)

    def _dropout_mask(self, shape):
        """Inverted dropout's mask: 0 for a dropped input, 1 / (1 - dropout) for a kept one."""
        draw = (self.dropout_generator() if self.dropout_generator else np.random).random(shape)
        return self.xp.asarray((draw >= self.dropout).astype(np.float32) / np.float32(1.0 - self.dropout))

    def load_encoders(self, stack):
        """Copy the encoder weights of a GreedyStack or DeepAutoencoder into the convolutions
        (shapes must match)."""
        pretrained = stack.encoder_weights()
        if len(pretrained) != self.n_layers:
            raise ValueError("the pretrained stack has {} layers, the classifier {}".format(len(pretrained),
                                                                                          self.n_layers))
        for index, (conv, weights) in enumerate(zip(self.convs, pretrained)):
            for name, source in zip(("W", "b"), weights):
                target = getattr(conv, name)
                if source.shape != target.shape:
                    raise ValueError("layer {} {}: pretrained shape {} does not match the classifier's {}".format(
                        index + 1, name, source.shape, target.shape))
                target.array[...] = source


def smoothed_cross_entropy(smoothing):
    """Softmax cross-entropy against targets that give ``smoothing`` of their weight evenly to all ten
    classes (label smoothing, Szegedy et al. 2016) while training; 0, and evaluation (``chainer.config.train``
    False), the plain loss, so that the test loss of every run compares with the original's. Labels are
    class numbers, or (N, 10) distributions over the classes (mixup's targets), against which the
    cross-entropy is taken."""
    def loss(logits, labels):
        smoothing_now = smoothing if chainer.config.train else 0.0
        return _cross_entropy(logits, labels, smoothing_now)
    return loss


def _cross_entropy(logits, labels, smoothing):
    if labels.ndim == 2:
        targets = (1.0 - smoothing) * labels + smoothing / N_CLASSES
        return -F.sum(targets * F.log_softmax(logits)) / len(labels)
    plain = F.softmax_cross_entropy(logits, labels)
    if not smoothing:
        return plain
    uniform = -F.mean(F.log_softmax(logits))
    return (1.0 - smoothing) * plain + smoothing * uniform


def accuracy(logits, labels):
    """F.accuracy; (N, 10) target distributions count as their most likely class."""
    if labels.ndim == 2:
        labels = labels.argmax(axis=1).astype(np.int32)
    return F.accuracy(logits, labels)


def classifier(n_layers=3, input_size=64, frequency_pool=1, label_smoothing=0.0, channels=CHANNELS, dropout=0.0):
    """The CNN wrapped with (label-smoothed) softmax cross-entropy and accuracy reporting."""
    return L.Classifier(CNN(n_layers, input_size, channels=channels, frequency_pool=frequency_pool, dropout=dropout),
                        lossfun=smoothed_cross_entropy(label_smoothing), accfun=accuracy)


def reconstruct_all(model, images, depth=None, batchsize=256):
    """``model.reconstruct`` of (N, 1, H, W) CPU images in batches, in inference mode; numpy out."""
    outputs = []
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for start in range(0, len(images), batchsize):
            batch = np.asarray(images[start:start + batchsize], dtype=np.float32)
            outputs.append(model.reconstruct(batch, depth).array)
    return np.concatenate(outputs) if outputs else np.zeros((0,) + tuple(np.shape(images)[1:]), np.float32)
