"""The networks: one autoencoder layer, the greedy stack of them, and the CNN classifier.

Geometry as the original: kernel 6, stride 2, no padding, 16/32/32 filters, so a 64×64 image
becomes 30×30, 13×13, then 4×4; ReLU after every convolution and transposed convolution.
"""
import chainer
import chainer.functions as F
import chainer.links as L

from specae.fastconv import Convolution2D, Deconvolution2D

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
        return F.relu(self.encoder(x))

    def decode(self, h):
        return F.relu(self.decoder(h))

    def reconstruction_loss(self, x):
        return F.mean_squared_error(self.decode(self.encode(x)), x)


class GreedyStack(chainer.ChainList):
    """Autoencoder layers trained one at a time: every layer but the top one is frozen.

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
        for layer in self.frozen_layers:
            layer.disable_update()

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

    def encode_frozen(self, x):
        with chainer.no_backprop_mode(), chainer.using_config("train", False):
            return self.encode(x, depth=len(self) - 1).array

    def forward(self, x):
        with chainer.no_backprop_mode():
            for layer in self.frozen_layers[self.input_level:]:
                x = layer.encode(x)
        loss = self.top.reconstruction_loss(x)
        chainer.report({"loss": loss}, self)
        return loss


class CNN(chainer.Chain):
    """``n_layers`` convolutions with ReLU, then one fully connected layer to the ten digits."""

    def __init__(self, n_layers=3, input_size=64, channels=CHANNELS, n_classes=N_CLASSES):
        super().__init__()
        size = feature_sizes(input_size, n_layers)[-1]
        widths = (1,) + tuple(channels[:n_layers])
        self.n_layers = n_layers
        with self.init_scope():
            self.convs = chainer.ChainList(*[Convolution2D(widths[i], widths[i + 1], KERNEL, stride=STRIDE)
                                             for i in range(n_layers)])
            self.fc = L.Linear(widths[-1] * size * size, n_classes)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.fc(x)

    def load_encoders(self, stack):
        """Copy the stack's encoder weights into the convolutions (shapes must match)."""
        if len(stack) != self.n_layers:
            raise ValueError("the pretrained stack has {} layers, the classifier {}".format(len(stack), self.n_layers))
        for index, (conv, layer) in enumerate(zip(self.convs, stack)):
            for name in ("W", "b"):
                source, target = getattr(layer.encoder, name), getattr(conv, name)
                if source.shape != target.shape:
                    raise ValueError("layer {} {}: pretrained shape {} does not match the classifier's {}".format(
                        index + 1, name, source.shape, target.shape))
                target.array[...] = source.array


def classifier(n_layers=3, input_size=64):
    """The CNN wrapped with softmax cross-entropy and accuracy reporting."""
    return L.Classifier(CNN(n_layers, input_size))
