"""specae.fastconv against stock Chainer convolution links / functions.

Its numpy code, with oneDNN turned off (chainer.config.specae_onednn); tests/test_onednn.py tests the
oneDNN path behind the same links."""

import numpy as np
import pytest
import hypothesis
from hypothesis import given, settings, strategies as st

import chainer
import chainer.functions as F
import chainer.links as L
from chainer import gradient_check

from specae import fastconv

@pytest.fixture(autouse=True)
def numpy_kernels():
    """float32 inputs would go to oneDNN where it is loaded: these tests are about the numpy code."""
    with chainer.using_config('specae_onednn', False):
        yield


# (batch, in_channels, H, W, out_channels, ksize, stride, pad)
CONV_CASES = [
    (2, 1, 64, 64, 16, 6, 2, 0),      # model conv1
    (2, 16, 30, 30, 32, 6, 2, 0),     # model conv2
    (2, 32, 13, 13, 32, 6, 2, 0),     # model conv3
    (2, 3, 9, 11, 4, 3, 1, 1),        # stride 1, pad 1
    (2, 3, 10, 7, 5, 3, 1, 0),        # stride 1, no pad
    (2, 2, 11, 9, 3, 5, 1, 2),        # stride 1, pad 2
    (3, 3, 15, 13, 4, 5, 2, 1),       # odd sizes, stride 2, pad 1
    (2, 1, 17, 19, 3, 4, 3, 2),       # one channel, k not a multiple of s
    (2, 4, 12, 13, 3, (3, 5), (1, 2), (1, 2)),   # non-square everything
    (1, 5, 7, 7, 2, 7, 1, 0),         # kernel as large as the image
]


def _ids(cases):
    return ['B{}C{}_{}x{}_O{}_k{}_s{}_p{}'.format(*c) for c in cases]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _x(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _link_pair(stock_cls, fast_cls, *args, **kwargs):
    stock = stock_cls(*args, **kwargs)
    fast = fast_cls(*args, **kwargs)
    fast.copyparams(stock)
    if stock.b is not None:          # non-zero bias, so it is tested too
        stock.b.array[...] = np.linspace(-1, 1, stock.b.size)
        fast.b.array[...] = stock.b.array
    return stock, fast


def _forward_backward(link, x, gy_seed=1):
    link.cleargrads()
    xv = chainer.Variable(x.copy())
    y = link(xv)
    gy = _x(np.random.default_rng(gy_seed), y.shape, x.dtype)
    y.grad = gy
    y.backward()
    return y.array, xv.grad, link.W.grad, (
        None if link.b is None else link.b.grad)


def _assert_same(stock_out, fast_out, atol):
    for s, f in zip(stock_out, fast_out):
        if s is None:
            assert f is None
            continue
        assert s.shape == f.shape and s.dtype == f.dtype
        np.testing.assert_allclose(f, s, atol=atol, rtol=atol)


# --------------------------------------------------------------------------
# forward / backward equal to stock
# --------------------------------------------------------------------------

@pytest.mark.parametrize('case', CONV_CASES, ids=_ids(CONV_CASES))
def test_convolution_matches_stock(case):
    B, C, H, W, O, k, s, p = case
    rng = np.random.default_rng(0)
    stock, fast = _link_pair(L.Convolution2D, fastconv.Convolution2D,
                             C, O, k, s, p)
    x = _x(rng, (B, C, H, W))
    ref = _forward_backward(stock, x)
    out = _forward_backward(fast, x)
    np.testing.assert_allclose(out[0], ref[0], atol=1e-5, rtol=1e-5)
    _assert_same(ref[1:], out[1:], atol=1e-4)


@pytest.mark.parametrize('case', CONV_CASES, ids=_ids(CONV_CASES))
@pytest.mark.parametrize('outsize_extra', [None, 0, 'max'])
def test_deconvolution_matches_stock(case, outsize_extra):
    B, C_out, H_out, W_out, C_in, k, s, p = case
    (kh, kw), (sy, sx), (ph, pw) = _pair(k), _pair(s), _pair(p)
    # deconvolution input = size of the convolution output
    h = (H_out + 2 * ph - kh) // sy + 1
    w = (W_out + 2 * pw - kw) // sx + 1
    if outsize_extra is None:
        outsize = None
    elif outsize_extra == 0:
        outsize = (sy * (h - 1) + kh - 2 * ph, sx * (w - 1) + kw - 2 * pw)
    else:   # largest valid outsize (stock uses cover_all in its backward)
        outsize = (sy * (h - 1) + kh - 2 * ph + sy - 1,
                   sx * (w - 1) + kw - 2 * pw + sx - 1)
    rng = np.random.default_rng(0)
    stock, fast = _link_pair(L.Deconvolution2D, fastconv.Deconvolution2D,
                             C_in, C_out, k, s, p, outsize=outsize)
    x = _x(rng, (B, C_in, h, w))
    ref = _forward_backward(stock, x)
    out = _forward_backward(fast, x)
    if outsize is not None:
        assert out[0].shape[2:] == outsize
    np.testing.assert_allclose(out[0], ref[0], atol=1e-5, rtol=1e-5)
    _assert_same(ref[1:], out[1:], atol=1e-4)


@pytest.mark.parametrize('fast_cls, stock_cls', [
    (fastconv.Convolution2D, L.Convolution2D),
    (fastconv.Deconvolution2D, L.Deconvolution2D)])
def test_nobias_and_lazy_in_channels(fast_cls, stock_cls):
    rng = np.random.default_rng(3)
    x = _x(rng, (2, 3, 9, 9))
    stock = stock_cls(None, 4, 3, 2, 1, nobias=True)
    fast = fast_cls(None, 4, 3, 2, 1, nobias=True)
    stock(x)                       # initialises W
    fast.copyparams(stock)         # not initialised yet: copy after init
    fast(x)
    fast.copyparams(stock)
    assert fast.b is None and fast.W.shape == stock.W.shape
    _assert_same(_forward_backward(stock, x), _forward_backward(fast, x),
                 atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 3), C=st.integers(1, 5), O=st.integers(1, 5),
       H=st.integers(1, 14), W=st.integers(1, 14),
       kh=st.integers(1, 6), kw=st.integers(1, 6),
       sy=st.integers(1, 3), sx=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2),
       nobias=st.booleans())
def test_random_geometries_match_stock(B, C, O, H, W, kh, kw, sy, sx, ph, pw,
                                       nobias):
    hypothesis.assume(H + 2 * ph >= kh and W + 2 * pw >= kw)  # the kernel fits: a valid geometry
    rng = np.random.default_rng(0)
    args = dict(stride=(sy, sx), pad=(ph, pw), nobias=nobias)
    stock, fast = _link_pair(L.Convolution2D, fastconv.Convolution2D,
                             C, O, (kh, kw), **args)
    x = _x(rng, (B, C, H, W))
    ref = _forward_backward(stock, x)
    _assert_same(ref, _forward_backward(fast, x), atol=1e-4)
    # the transposed convolution back to H x W
    stock, fast = _link_pair(L.Deconvolution2D, fastconv.Deconvolution2D,
                             O, C, (kh, kw), outsize=(H, W), **args)
    z = _x(rng, ref[0].shape)
    _assert_same(_forward_backward(stock, z), _forward_backward(fast, z),
                 atol=1e-4)


# --------------------------------------------------------------------------
# gradient checks (float64)
# --------------------------------------------------------------------------

GRAD_CASES = [
    # (B, C, H, W, O, k, s, p)
    (2, 3, 7, 8, 2, 3, 2, 1),
    (2, 1, 9, 9, 3, 4, 2, 0),
    (1, 2, 6, 5, 2, (2, 3), (1, 2), (0, 1)),
]


@pytest.mark.parametrize('case', GRAD_CASES, ids=_ids(GRAD_CASES))
@pytest.mark.parametrize('with_bias', [True, False])
def test_convolution_check_backward(case, with_bias):
    B, C, H, W, O, k, s, p = case
    kh, kw = _pair(k)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, C, H, W))
    Wt = rng.standard_normal((O, C, kh, kw))
    b = rng.standard_normal(O)
    y = fastconv.convolution_2d(x, Wt, b, s, p)
    gy = rng.standard_normal(y.shape)
    inputs = (x, Wt, b) if with_bias else (x, Wt)
    ggs = tuple(rng.standard_normal(a.shape) for a in inputs)

    def f(*args):
        return fastconv.convolution_2d(*args, stride=s, pad=p)

    gradient_check.check_backward(f, inputs, gy, dtype=np.float64,
                                  atol=1e-6, rtol=1e-5)
    gradient_check.check_double_backward(f, inputs, gy, ggs,
                                         dtype=np.float64,
                                         atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize('case', GRAD_CASES, ids=_ids(GRAD_CASES))
@pytest.mark.parametrize('cover_all', [False, True])
def test_deconvolution_check_backward(case, cover_all):
    B, C, H, W, O, k, s, p = case
    (kh, kw), (sy, sx), (ph, pw) = _pair(k), _pair(s), _pair(p)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((B, C, H, W))
    Wt = rng.standard_normal((C, O, kh, kw))
    b = rng.standard_normal(O)
    outsize = (sy * (H - 1) + kh - 2 * ph + (sy - 1) * cover_all,
               sx * (W - 1) + kw - 2 * pw + (sx - 1) * cover_all)
    y = fastconv.deconvolution_2d(x, Wt, b, s, p, outsize)
    assert y.shape == (B, O) + outsize
    gy = rng.standard_normal(y.shape)
    inputs = (x, Wt, b)
    ggs = tuple(rng.standard_normal(a.shape) for a in inputs)

    def f(*args):
        return fastconv.deconvolution_2d(*args, stride=s, pad=p,
                                         outsize=outsize)

    gradient_check.check_backward(f, inputs, gy, dtype=np.float64,
                                  atol=1e-6, rtol=1e-5)
    gradient_check.check_double_backward(f, inputs, gy, ggs,
                                         dtype=np.float64,
                                         atol=1e-6, rtol=1e-5)


def test_float64_matches_stock():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 11, 10))
    Wt = rng.standard_normal((4, 3, 5, 5))
    b = rng.standard_normal(4)
    y = fastconv.convolution_2d(x, Wt, b, 2, 1)
    assert y.dtype == np.float64
    np.testing.assert_allclose(
        y.array, F.convolution_2d(x, Wt, b, 2, 1).array, atol=1e-12)
    z = fastconv.deconvolution_2d(y.array, Wt, None, 2, 1, (11, 10))
    np.testing.assert_allclose(
        z.array, F.deconvolution_2d(y.array, Wt, None, 2, 1, (11, 10)).array,
        atol=1e-12)


def test_backward_twice_and_interleaved_graphs():
    """Columns are dropped after the first backward (recomputed on a second
    one) and pooled buffers are not shared between live graphs."""
    rng = np.random.default_rng(11)
    stock, fast = _link_pair(L.Convolution2D, fastconv.Convolution2D,
                             16, 32, 6, 2)
    xs = [_x(rng, (4, 16, 30, 30)) for _ in range(2)]
    fast.cleargrads()
    ys = [fast(chainer.Variable(x)) for x in xs]     # two live graphs
    gys = [_x(rng, ys[0].shape) for _ in range(2)]
    for y, gy in reversed(list(zip(ys, gys))):
        y.grad = gy
        y.backward()
    first = fast.W.grad.copy()
    fast.cleargrads()
    for y, gy in zip(ys, gys):                        # second backward
        y.grad = gy
        y.backward()
    np.testing.assert_array_equal(fast.W.grad, first)
    stock.cleargrads()
    for x, gy in zip(xs, gys):
        y = stock(x)
        y.grad = gy
        y.backward()
    np.testing.assert_allclose(first, stock.W.grad, atol=1e-4, rtol=1e-4)


def test_buffer_pool_reuses_only_unreferenced_buffers():
    shape = (1000, 300)
    a = fastconv._empty(shape, np.float32)
    b = fastconv._empty(shape, np.float32)
    assert not np.shares_memory(a, b)
    view = a.T                                 # a view keeps a in use
    a_id = id(a)
    del a
    c = fastconv._empty(shape, np.float32)
    assert not np.shares_memory(c, view) and not np.shares_memory(c, b)
    del view
    d = fastconv._empty(shape, np.float32)
    assert id(d) == a_id                       # the released one comes back
    small = fastconv._empty((3, 4), np.float32)
    assert small.shape == (3, 4)
    fastconv.release_buffers()


# --------------------------------------------------------------------------
# serialisation
# --------------------------------------------------------------------------

@pytest.mark.parametrize('src_cls, dst_cls, kwargs', [
    (L.Convolution2D, fastconv.Convolution2D, {}),
    (fastconv.Convolution2D, L.Convolution2D, {}),
    (L.Deconvolution2D, fastconv.Deconvolution2D, {'outsize': (30, 30)}),
])
def test_save_npz_interchangeable(tmp_path, src_cls, dst_cls, kwargs):
    src = src_cls(16, 32, 6, 2, **kwargs)
    src.b.array[...] = np.arange(src.b.size, dtype=np.float32) / 10
    path = str(tmp_path / 'link.npz')
    chainer.serializers.save_npz(path, src)
    dst = dst_cls(16, 32, 6, 2, **kwargs)
    chainer.serializers.load_npz(path, dst)
    assert sorted(n for n, _ in dst.namedparams()) == ['/W', '/b']
    np.testing.assert_array_equal(dst.W.array, src.W.array)
    shape = (2, 16, 30, 30) if 'outsize' not in kwargs else (2, 16, 13, 13)
    x = _x(np.random.default_rng(7), shape)
    np.testing.assert_allclose(dst(x).array, src(x).array, atol=1e-5)


# --------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------

def test_numpy_inputs_use_fast_nodes():
    rng = np.random.default_rng(8)
    x = _x(rng, (2, 3, 8, 8))
    conv = fastconv.Convolution2D(3, 4, 3, 2)
    y = conv(x)
    assert type(y.creator) is fastconv.Convolution2DFunction
    deconv = fastconv.Deconvolution2D(4, 3, 3, 2, outsize=(8, 8))
    z = deconv(y)
    assert type(z.creator) is fastconv.Deconvolution2DFunction
    y = fastconv.convolution_2d(chainer.Variable(x), conv.W)
    assert type(y.creator) is fastconv.Convolution2DFunction


def test_unsupported_cases_fall_back_to_stock():
    rng = np.random.default_rng(9)
    x = _x(rng, (2, 4, 9, 9))
    y = fastconv.Convolution2D(4, 4, 3, dilate=2)(x)
    assert not isinstance(y.creator, fastconv.Convolution2DFunction)
    y = fastconv.Convolution2D(4, 4, 3, groups=2)(x)
    assert not isinstance(y.creator, fastconv.Convolution2DFunction)
    W16 = _x(rng, (3, 4, 3, 3)).astype(np.float16)
    y = fastconv.convolution_2d(x.astype(np.float16), W16)
    assert not isinstance(y.creator, fastconv.Convolution2DFunction)
    assert y.dtype == np.float16


def test_gpu_arrays_use_stock_functions():
    cupy = pytest.importorskip('cupy')
    if not chainer.backends.cuda.available:
        pytest.skip('no CUDA device')
    x = cupy.ones((2, 3, 8, 8), dtype=np.float32)
    W = cupy.ones((4, 3, 3, 3), dtype=np.float32)
    y = fastconv.convolution_2d(x, W)
    assert not isinstance(y.creator, fastconv.Convolution2DFunction)
    assert isinstance(y.array, cupy.ndarray)


# --------------------------------------------------------------------------
# training smoke test
# --------------------------------------------------------------------------

class _CNN(chainer.Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv1 = fastconv.Convolution2D(1, 16, 6, 2)
            self.conv2 = fastconv.Convolution2D(16, 32, 6, 2)
            self.conv3 = fastconv.Convolution2D(32, 32, 6, 2)
            self.fc = L.Linear(512, 10)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        return self.fc(h)


def test_cnn_training_loss_decreases():
    rng = np.random.default_rng(10)
    x = rng.random((30, 1, 64, 64), dtype=np.float32)
    t = rng.integers(0, 10, 30).astype(np.int32)
    model = _CNN()
    opt = chainer.optimizers.Adam()
    opt.setup(model)
    losses = []
    for _ in range(8):
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        opt.update()
        losses.append(float(loss.array))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
