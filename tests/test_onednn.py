"""specae.onednn (oneDNN through ctypes) against the stock Chainer functions: values and gradients,
including batch 1, the last partial batch, stride 2 without padding and a larger outsize; second
derivatives; what it does with memory layouts; and the fallback to the numpy code when the library
cannot be loaded (those tests run everywhere; the others are skipped where the library is missing)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import hypothesis
from hypothesis import given, settings, strategies as st

import chainer
import chainer.functions as F
import chainer.links as L

from conftest import ROOT
from specae import fastconv, models, onednn
from test_fastconv import CONV_CASES, _forward_backward, _ids, _link_pair, _pair, _x

needs_library = pytest.mark.skipif(not onednn.available(), reason='oneDNN not loaded: {}'.format(onednn.reason))

# float32 against stock Chainer's float32 (its numpy GEMMs): sums in another order.
TOLERANCE = 2e-4


def _assert_close(ours, reference, tolerance=TOLERANCE):
    for mine, theirs in zip(ours, reference):
        if theirs is None:
            assert mine is None
            continue
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        scale = max(1.0, float(np.abs(theirs).max()))
        np.testing.assert_allclose(mine, theirs, atol=tolerance * scale, rtol=tolerance)


def _conv_outsize(size, k, s, p):
    return (size + 2 * p - k) // s + 1


@needs_library
@pytest.mark.parametrize('case', CONV_CASES, ids=_ids(CONV_CASES))
def test_convolution_matches_stock(case):
    B, C, H, W, O, k, s, p = case
    stock, ours = _link_pair(L.Convolution2D, fastconv.Convolution2D, C, O, k, s, p)
    x = _x(np.random.default_rng(0), (B, C, H, W))
    result = _forward_backward(ours, x)
    assert type(ours(x).creator) is onednn.Convolution2DFunction
    _assert_close(result, _forward_backward(stock, x))


@needs_library
@pytest.mark.parametrize('case', CONV_CASES, ids=_ids(CONV_CASES))
@pytest.mark.parametrize('larger_outsize', [False, True])
def test_deconvolution_matches_stock(case, larger_outsize):
    B, C_out, H_out, W_out, C_in, k, s, p = case
    (kh, kw), (sy, sx), (ph, pw) = _pair(k), _pair(s), _pair(p)
    h, w = _conv_outsize(H_out, kh, sy, ph), _conv_outsize(W_out, kw, sx, pw)
    # the largest outsize that still gives h x w (stock's backward then convolves with cover_all)
    extra = (sy - 1, sx - 1) if larger_outsize else (0, 0)
    outsize = (sy * (h - 1) + kh - 2 * ph + extra[0], sx * (w - 1) + kw - 2 * pw + extra[1])
    stock, ours = _link_pair(L.Deconvolution2D, fastconv.Deconvolution2D, C_in, C_out, k, s, p, outsize=outsize)
    x = _x(np.random.default_rng(1), (B, C_in, h, w))
    result = _forward_backward(ours, x)
    assert result[0].shape[2:] == outsize
    assert type(ours(x).creator) is onednn.Deconvolution2DFunction
    _assert_close(result, _forward_backward(stock, x))


@needs_library
def test_pipeline_autoencoder_shapes_with_batch_1_and_a_partial_batch():
    """The three autoencoder layers of the pipeline (kernel 6, stride 2, no padding, 64 -> 30 -> 13 -> 4
    and back to the sizes given as outsize), with a full batch, the last partial batch of an epoch and a
    batch of one through the same links: each batch size makes its own primitives."""
    rng = np.random.default_rng(2)
    sizes = models.feature_sizes(64, 3)
    widths = (1,) + models.CHANNELS
    for layer in range(3):
        stock = models.AutoencoderLayer(widths[layer], widths[layer + 1], sizes[layer])
        stock.encoder = None
        ours = models.AutoencoderLayer(widths[layer], widths[layer + 1], sizes[layer])
        reference = L.Convolution2D(widths[layer], widths[layer + 1], models.KERNEL, models.STRIDE)
        reference_decoder = L.Deconvolution2D(widths[layer + 1], widths[layer], models.KERNEL, models.STRIDE,
                                              outsize=(sizes[layer], sizes[layer]))
        reference.copyparams(ours.encoder)
        reference_decoder.copyparams(ours.decoder)
        for batch in (30, 7, 1):
            x = _x(rng, (batch, widths[layer], sizes[layer], sizes[layer]))
            encoded = _forward_backward(ours.encoder, x)
            _assert_close(encoded, _forward_backward(reference, x))
            h = np.maximum(encoded[0], 0)
            _assert_close(_forward_backward(ours.decoder, h), _forward_backward(reference_decoder, h))


@needs_library
@settings(max_examples=30, deadline=None)
@given(B=st.integers(1, 3), C=st.integers(1, 5), O=st.integers(1, 5),
       H=st.integers(1, 12), W=st.integers(1, 12), kh=st.integers(1, 6), kw=st.integers(1, 6),
       sy=st.integers(1, 3), sx=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       nobias=st.booleans())
def test_random_geometries_match_stock(B, C, O, H, W, kh, kw, sy, sx, ph, pw, nobias):
    hypothesis.assume(H + 2 * ph >= kh and W + 2 * pw >= kw)     # the kernel fits: a valid geometry
    rng = np.random.default_rng(3)
    args = dict(stride=(sy, sx), pad=(ph, pw), nobias=nobias)
    stock, ours = _link_pair(L.Convolution2D, fastconv.Convolution2D, C, O, (kh, kw), **args)
    x = _x(rng, (B, C, H, W))
    reference = _forward_backward(stock, x)
    _assert_close(_forward_backward(ours, x), reference)
    stock, ours = _link_pair(L.Deconvolution2D, fastconv.Deconvolution2D, O, C, (kh, kw), outsize=(H, W), **args)
    z = _x(rng, reference[0].shape)
    _assert_close(_forward_backward(ours, z), _forward_backward(stock, z))


def _second_order(convolution, x, W, b, gy, directions):
    """Gradients with respect to x, W and b of <grad_x, r_x> + <grad_W, r_W> + <grad_b, r_b>, where the
    first gradients are those of <y, gy> (double backprop)."""
    variables = [chainer.Variable(a.copy()) for a in (x, W, b)]
    y = convolution(*variables)
    first = chainer.grad([F.sum(y * gy)], variables, enable_double_backprop=True)
    F.sum(sum(F.sum(g * r) for g, r in zip(first, directions))).backward()
    return [v.grad for v in variables]


@needs_library
@pytest.mark.parametrize('transposed', [False, True])
def test_second_derivatives_match_the_numpy_code(transposed):
    """Double backprop against specae.fastconv in float64 (its numpy code, checked against numerical
    derivatives by tests/test_fastconv.py; stock Chainer's own double backward of convolution_2d fails on
    CPU in 7.8.1)."""
    rng = np.random.default_rng(4)
    if transposed:
        x, W, b = _x(rng, (2, 4, 6, 6)), _x(rng, (4, 3, 4, 4)), _x(rng, (3,))
        function = lambda *a: fastconv.deconvolution_2d(*a, stride=2, outsize=(14, 14))     # noqa: E731
    else:
        x, W, b = _x(rng, (2, 3, 11, 11)), _x(rng, (4, 3, 4, 4)), _x(rng, (4,))
        function = lambda *a: fastconv.convolution_2d(*a, stride=2)                         # noqa: E731
    y = function(x, W, b)
    assert type(y.creator) in (onednn.Convolution2DFunction, onednn.Deconvolution2DFunction)
    gy = _x(rng, y.shape)
    directions = [_x(rng, a.shape) for a in (x, W, b)]
    reference = _second_order(function, *[a.astype(np.float64) for a in (x, W, b, gy)],
                              [d.astype(np.float64) for d in directions])
    reference = [None if r is None else r.astype(np.float32) for r in reference]
    _assert_close(_second_order(function, x, W, b, gy, directions), reference)


@needs_library
def test_channels_last_arrays_are_read_without_a_copy():
    rng = np.random.default_rng(5)
    nchw = _x(rng, (2, 16, 9, 9))
    channels_last = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert onednn._channels_last(channels_last) is channels_last
    assert onednn._channels_last(nchw[:, :1].copy()) is not None         # one channel: both layouts at once
    W, b = _x(rng, (8, 16, 3, 3)), _x(rng, (8,))
    y = fastconv.convolution_2d(channels_last, W, b, 2).array
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous                    # output: NCHW view of NHWC
    np.testing.assert_array_equal(y, fastconv.convolution_2d(nchw, W, b, 2).array)
    relu = F.relu(y).array                                               # element-wise keeps the layout
    assert onednn._channels_last(relu) is relu


@needs_library
def test_primitives_are_made_once_per_shape():
    rng = np.random.default_rng(6)
    W = _x(rng, (5, 3, 3, 3))

    def key(batch):
        return ((batch, 3, 10, 10), W.shape, (batch, 5, 4, 4), (2, 2), (0, 0), onednn._library.threads(), False)
    fastconv.convolution_2d(_x(rng, (4, 3, 10, 10)), W, None, 2)
    made = onednn._cache[key(4)]
    fastconv.convolution_2d(_x(rng, (4, 3, 10, 10)), W, None, 2)
    assert onednn._cache[key(4)] is made and list(made.primitives) == [('forward', False)]
    fastconv.convolution_2d(_x(rng, (3, 3, 10, 10)), W, None, 2)        # a partial batch: its own
    assert onednn._cache[key(3)] is not made and onednn._cache[key(4)] is made


@needs_library
def test_primitives_follow_the_thread_count():
    # oneDNN's kernels keep the thread count they were made for: a count set later (threadpoolctl, as the
    # benchmark sets 1 then 2 threads) must get primitives of its own, not run on the former count.
    rng = np.random.default_rng(10)
    x, W, b = _x(rng, (6, 3, 12, 12)), _x(rng, (4, 3, 3, 3)), _x(rng, (4,))
    openmp, before = onednn._library.openmp, onednn._library.threads()
    outputs = {}
    try:
        for threads in (1, 2):
            openmp.omp_set_num_threads(threads)
            assert onednn._library.threads() == threads
            outputs[threads] = fastconv.convolution_2d(x, W, b, 2).array
    finally:
        openmp.omp_set_num_threads(before)
    made = [key[5] for key in onednn._cache if key[0] == x.shape and key[1] == W.shape]
    assert sorted(made) == [1, 2]
    np.testing.assert_allclose(outputs[1], outputs[2], atol=1e-5)
    np.testing.assert_allclose(outputs[2], F.convolution_2d(x, W, b, 2).array, atol=1e-5)


needs_amx = pytest.mark.skipif(not onednn.amx_available(), reason='no AMX bfloat16 kernels on this CPU')


def _bfloat16(a):
    """float32 rounded to the nearest bfloat16 (ties to even), by its bits: the reference for what oneDNN's
    reorders into bfloat16 do."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def test_bfloat16_rounding_reference():
    values = np.array([1.0, 1 + 2 ** -8, 1 + 2 ** -7, 1 + 3 * 2 ** -8, -2.5 - 2 ** -9, 3e-39], np.float32)
    expected = np.array([1.0, 1.0, 1 + 2 ** -7, 1 + 2 ** -6, -2.5, 3e-39], np.float32)  # ties go to even
    rounded = _bfloat16(values)
    np.testing.assert_array_equal(rounded[:5], expected[:5])
    assert rounded.view(np.uint32)[5] & 0xFFFF == 0 and abs(rounded[5] - values[5]) < 2 ** -133


# The pipeline's convolutions of 16 or more input channels: the 3-CNN's second and third layers, AE2's
# encoder and decoder, AE1's decoder (by phases, 16 -> 1 channel), with a full and a partial batch.
BF16_CASES = [  # (src shape (N, C, H, W), weight shape (O, C, kh, kw)), stride 2, no padding
    ((30, 16, 30, 30), (32, 16, 6, 6)),
    ((7, 32, 13, 13), (32, 32, 6, 6)),
    ((30, 16, 64, 64), (1, 16, 6, 6)),          # only its transposed convolution is used (AE1's decoder)
]


@needs_amx
@pytest.mark.parametrize('src_shape, weight_shape', BF16_CASES)
def test_bfloat16_convolutions_equal_stock_on_rounded_inputs(src_shape, weight_shape):
    """With SPECAE_ONEDNN_BF16 on, each of the three operations equals stock Chainer's float32 on inputs
    rounded to bfloat16 (products of bfloat16 values are exact in float32, only the order of the sums
    differs), and differs from stock on the unrounded inputs by more than that: the rounding happens."""
    rng = np.random.default_rng(11)
    x, W, b = _x(rng, src_shape), _x(rng, weight_shape), _x(rng, weight_shape[:1])
    rx, rW = _bfloat16(x), _bfloat16(W)
    stock_y = F.convolution_2d(x, W, b, 2).array
    gy = _x(rng, stock_y.shape)
    rgy = _bfloat16(gy)
    with chainer.using_config('specae_onednn_bf16', True):
        y = onednn.forward(x, W, b, (2, 2), (0, 0))
        gx = onednn.backward_data(gy, W, src_shape[2:], (2, 2), (0, 0))
        gW, gb = onednn.backward_weights(x, gy, weight_shape[2:], (2, 2), (0, 0), True)
    reference_x, reference_W, reference_b = (chainer.Variable(a) for a in (rx, rW, b))
    reference_y = F.convolution_2d(reference_x, reference_W, reference_b, 2)
    reference_y.grad = rgy
    reference_y.backward()
    reference_gx = F.deconvolution_2d(rgy, rW, None, 2, outsize=src_shape[2:]).array
    ours = [gx, gW, gb] if src_shape[1] == 1 or weight_shape[0] == 1 else [y, gx, gW, gb]
    theirs = [reference_gx, reference_W.grad, reference_b.grad]
    if len(ours) == 4:
        theirs = [reference_y.array] + theirs
    _assert_close(ours, theirs)
    unrounded = F.deconvolution_2d(gy, W, None, 2, outsize=src_shape[2:]).array
    assert np.abs(gx - unrounded).max() > 10 * TOLERANCE * max(1.0, float(np.abs(unrounded).max()))
    used = [name for key, name in onednn.implementations().items()
            if key[1] == 'bf16' and key[2] in (src_shape, gy.shape)]
    assert used and all('amx' in name for name in used), used


@needs_library
def test_bfloat16_leaves_one_channel_inputs_and_the_default_in_float32():
    rng = np.random.default_rng(12)
    x, W = _x(rng, (5, 1, 64, 64)), _x(rng, (16, 1, 6, 6))     # the first layer: one input channel
    x16, W16 = _x(rng, (5, 16, 30, 30)), _x(rng, (32, 16, 6, 6))
    with chainer.using_config('specae_onednn_bf16', True):
        _assert_close([onednn.forward(x, W, None, (2, 2), (0, 0))], [F.convolution_2d(x, W, None, 2).array])
    assert not chainer.config.specae_onednn_bf16        # off unless a training run turns it on
    _assert_close([onednn.forward(x16, W16, None, (2, 2), (0, 0))], [F.convolution_2d(x16, W16, None, 2).array])


@needs_library
def test_other_arrays_keep_their_paths():
    rng = np.random.default_rng(7)
    x, W = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))
    y = fastconv.convolution_2d(x, W)                                    # float64: numpy code
    assert type(y.creator) is fastconv.Convolution2DFunction
    np.testing.assert_allclose(y.array, F.convolution_2d(x, W).array, atol=1e-12)
    with chainer.using_config('specae_onednn', False):
        y = fastconv.convolution_2d(x.astype(np.float32), W.astype(np.float32))
    assert type(y.creator) is fastconv.Convolution2DFunction


MISSING_LIBRARY = os.path.join(str(ROOT), 'no-such-dir', 'libdnnl.so.3')


def _without_library():
    """The environment of a process whose oneDNN library cannot be loaded (pointed at a missing file)."""
    return dict(os.environ, SPECAE_ONEDNN_LIBRARY=MISSING_LIBRARY, PYTHONPATH=str(ROOT))


@needs_library
@pytest.mark.parametrize('settings, spin_count', [({}, onednn.OPENMP_SPIN_COUNT), ({'GOMP_SPINCOUNT': '5'}, '5'),
                                                  ({'OMP_WAIT_POLICY': 'passive'}, '0')])
def test_the_openmp_runtime_spins_less_unless_the_user_says_otherwise(settings, spin_count):
    """What GNU OpenMP itself reports at load (OMP_DISPLAY_ENV): our spin count, or the user's own setting."""
    env = {k: v for k, v in os.environ.items() if k not in ('GOMP_SPINCOUNT', 'OMP_WAIT_POLICY')}
    env.update(settings, OMP_DISPLAY_ENV='verbose', PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, '-c', 'from specae import onednn; assert onednn.available()'],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "GOMP_SPINCOUNT = '{}'".format(spin_count) in result.stderr


def test_without_the_library_convolutions_run_on_numpy():
    """Where libdnnl.so.3 cannot be loaded the links use specae.fastconv's numpy code and give the same
    results as stock Chainer; the convolutions print nothing (the training scripts say it, below)."""
    code = (
        "import numpy as np, chainer.functions as F\n"
        "from specae import fastconv, onednn\n"
        "assert not onednn.available() and not onednn.enabled()\n"
        "x = np.random.default_rng(0).standard_normal((3, 1, 20, 20)).astype(np.float32)\n"
        "conv = fastconv.Convolution2D(1, 4, 6, 2)\n"
        "deconv = fastconv.Deconvolution2D(4, 1, 6, 2, outsize=(20, 20))\n"
        "h = conv(x)\n"
        "assert type(h.creator) is fastconv.Convolution2DFunction\n"
        "F.mean_squared_error(deconv(F.relu(h)), x).backward()\n"
        "reference = F.deconvolution_2d(F.relu(F.convolution_2d(x, conv.W, conv.b, 2)), deconv.W, deconv.b, 2,\n"
        "                               outsize=(20, 20))\n"
        "assert np.allclose(deconv(F.relu(conv(x))).array, reference.array, atol=1e-5)\n"
        "print(onednn.fallback_line())\n")
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=_without_library(), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert MISSING_LIBRARY in result.stdout and 'numpy' in result.stdout
    assert result.stderr == ''


def test_without_the_library_training_goes_on_and_says_so_in_one_line(tiny_corpus, tmp_path):
    result = subprocess.run([sys.executable, 'cnn_classifier1.py', '--layers', '2', '--dataset',
                             str(tiny_corpus / 'DataSet'), '--epoch', '1', '--batchsize', '20',
                             '--out', str(tmp_path / 'run')],
                            cwd=ROOT, env=_without_library(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if 'oneDNN' in line]
    assert len(lines) == 1 and MISSING_LIBRARY in lines[0], result.stdout
    assert 'oneDNN' not in result.stderr
    assert (tmp_path / 'run' / 'model.npz').exists()


@needs_amx
def test_training_reads_bfloat16_unless_told_not_to_and_says_so(tiny_corpus, tmp_path):
    """The training scripts train with bfloat16 convolutions on AMX, in one line on stdout; with
    SPECAE_ONEDNN_BF16=0 in float32, silently; the two runs' weights differ by bfloat16's rounding only."""
    weights, outputs = {}, {}
    for switch in ('1', '0'):
        env = dict(os.environ, **{onednn.BF16_VARIABLE: switch})
        result = subprocess.run([sys.executable, 'cnn_classifier1.py', '--layers', '3', '--dataset',
                                 str(tiny_corpus / 'DataSet'), '--epoch', '1', '--batchsize', '20',
                                 '--out', str(tmp_path / switch)], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        outputs[switch] = [line for line in result.stdout.splitlines() if line.startswith('specae:')]
        with np.load(tmp_path / switch / 'model.npz') as saved:
            weights[switch] = {name: saved[name] for name in saved.files if 'conv' in name or 'fc' in name}
    assert outputs['1'] == [onednn.precision_line()] and outputs['0'] == []
    assert weights['1'].keys() == weights['0'].keys() and weights['1']
    differences = [np.abs(weights['1'][name] - weights['0'][name]).max() for name in weights['1']]
    assert 0 < max(differences) < 0.05


@needs_library
def test_where_the_cpu_has_no_bfloat16_convolution_training_stays_float32(tiny_corpus, tmp_path):
    """oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA, as on a CPU without AVX-512) has no bfloat16 convolution at
    all: a training run that asks for them (the default) trains in float32, says nothing of bfloat16,
    and ends with the weights of a run told SPECAE_ONEDNN_BF16=0."""
    weights = {}
    for switch in ('1', '0'):
        env = dict(os.environ, ONEDNN_MAX_CPU_ISA='AVX2', **{onednn.BF16_VARIABLE: switch})
        result = subprocess.run([sys.executable, 'cnn_classifier1.py', '--layers', '3', '--dataset',
                                 str(tiny_corpus / 'DataSet'), '--epoch', '1', '--batchsize', '20',
                                 '--out', str(tmp_path / switch)], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert not [line for line in result.stdout.splitlines() if line.startswith('specae:')]
        with np.load(tmp_path / switch / 'model.npz') as saved:
            weights[switch] = {name: saved[name] for name in saved.files}
    for name, value in weights['0'].items():
        np.testing.assert_array_equal(weights['1'][name], value)


@needs_library
def test_shapes_beyond_the_cache_are_freed_and_made_again(monkeypatch):
    monkeypatch.setattr(onednn, '_CACHE_SIZE', 2)
    rng = np.random.default_rng(8)
    W, b = _x(rng, (3, 2, 3, 3)), _x(rng, (3,))
    x = [_x(rng, (batch, 2, 7, 7)) for batch in (1, 2, 3, 1)]
    results = [F.sum(fastconv.convolution_2d(chainer.Variable(a), W, b) ** 2) for a in x]
    for result in results:
        result.backward()                   # the primitives of batch 1 were freed and are made again
    assert len(onednn._cache) <= 3
    np.testing.assert_allclose(fastconv.convolution_2d(x[3], W, b).array, F.convolution_2d(x[3], W, b).array,
                               atol=1e-5)


@needs_library
def test_batches_of_features_come_channels_last_with_the_same_values():
    rng = np.random.default_rng(9)
    features = [_x(rng, (16, 5, 5)) for _ in range(3)]
    images = [_x(rng, (1, 8, 8)) for _ in range(3)]
    batch = onednn.concat_examples(list(zip(features, images, range(3))), chainer.get_device('@numpy'))
    x, image, t = batch
    np.testing.assert_array_equal(x, np.stack(features))
    assert x.transpose(0, 2, 3, 1).flags.c_contiguous and not x.flags.c_contiguous
    assert image.flags.c_contiguous and list(t) == [0, 1, 2]                  # one channel, labels: as stock
    with chainer.using_config('specae_onednn', False):
        assert onednn.concat_examples(features).flags.c_contiguous


@needs_library
def test_channels_last_examples_are_gathered_in_their_layout():
    """Cached features (specae.greedy.encode_in_batches: CHW views of HWC memory) make the same batch."""
    from specae import greedy, models
    rng = np.random.default_rng(4)
    stack = models.GreedyStack(2, input_size=16)
    images = _x(rng, (7, 1, 16, 16))
    cache = greedy.encode_in_batches(stack, images, chainer.get_device('@numpy'), batchsize=3)
    assert cache.shape == (7, 16, 6, 6) and cache.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(cache, stack.encode_frozen(images))
    examples = [cache[i] for i in (5, 0, 3)]
    batch = onednn.concat_examples(examples)
    np.testing.assert_array_equal(batch, np.stack([np.ascontiguousarray(e) for e in examples]))
    assert batch.transpose(0, 2, 3, 1).flags.c_contiguous
    mixed = [cache[1], np.ascontiguousarray(cache[2])]        # one of another layout: the general way
    np.testing.assert_array_equal(onednn.concat_examples(mixed), np.stack([cache[1], cache[2]]))


def _layouts(rng, shape):
    """The same values as an NCHW array and as an NCHW view of an NHWC one."""
    nchw = _x(rng, shape)
    return nchw, np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@needs_library
@pytest.mark.parametrize('x_layout', [0, 1], ids=['x NCHW', 'x channels-last'])
@pytest.mark.parametrize('gy_layout', [0, 1], ids=['gy NCHW', 'gy channels-last'])
def test_relu_and_its_gradient_equal_stock_in_either_layout(x_layout, gy_layout):
    rng = np.random.default_rng(11)
    x = chainer.Variable(_layouts(rng, (3, 16, 7, 5))[x_layout])
    gy = _layouts(rng, (3, 16, 7, 5))[gy_layout]
    y = onednn.relu(x)
    assert type(y.creator) is onednn.ReLU
    assert y.array.strides == x.array.strides                              # the output keeps the layout
    x_reference = chainer.Variable(x.array.copy())
    reference = F.relu(x_reference)
    np.testing.assert_array_equal(y.array, reference.array)
    y.grad, reference.grad = gy, gy.copy()
    y.backward()
    reference.backward()
    np.testing.assert_array_equal(x.grad, x_reference.grad)               # a select: exact
    assert x.grad.strides == x.array.strides


@needs_library
def test_relu_keeps_nan_and_infinities_as_stock_does():
    # oneDNN's own ReLU answers 0 for a NaN; a diverging run is only stopped if the NaN reaches the loss.
    rng = np.random.default_rng(15)
    x = chainer.Variable(_layouts(rng, (2, 8, 5, 5))[1])
    x.array[0, 1, 2, 3], x.array[1, 2, 0, 0], x.array[1, 3, 4, 4] = np.nan, np.inf, -np.inf
    y = onednn.relu(x)
    assert type(y.creator) is onednn.ReLU
    x_reference = chainer.Variable(x.array.copy())
    reference = F.relu(x_reference)
    np.testing.assert_array_equal(y.array, reference.array)               # NaN where stock has NaN
    assert np.isnan(y.array[0, 1, 2, 3]) and y.array[1, 2, 0, 0] == np.inf and y.array[1, 3, 4, 4] == 0
    gy = _x(rng, x.shape)
    y.grad, reference.grad = gy, gy.copy()
    y.backward()
    reference.backward()
    np.testing.assert_array_equal(x.grad, x_reference.grad)


@needs_library
def test_relu_second_derivative_is_the_same_mask():
    rng = np.random.default_rng(12)
    x = chainer.Variable(_layouts(rng, (2, 8, 5, 5))[1])
    gy, direction = _x(rng, x.shape), _x(rng, x.shape)
    gx, = chainer.grad([onednn.relu(x)], [x], grad_outputs=[chainer.Variable(gy)], enable_double_backprop=True)
    ggy, = chainer.grad([gx], [gx.creator.inputs[0].get_variable()], grad_outputs=[chainer.Variable(direction)])
    np.testing.assert_array_equal(ggy.array, direction * (x.array > 0))


@needs_library
def test_relu_leaves_other_arrays_to_stock():
    rng = np.random.default_rng(13)
    x = _x(rng, (4, 6, 6, 6))
    assert type(onednn.relu(x.astype(np.float64)).creator) is not onednn.ReLU       # another dtype
    assert type(onednn.relu(x[:, :, :3]).creator) is not onednn.ReLU                 # not one run of memory
    with chainer.using_config('specae_onednn', False):
        assert type(onednn.relu(x).creator) is not onednn.ReLU
    np.testing.assert_array_equal(onednn.relu(x[:, :, :3]).array, np.maximum(x[:, :, :3], 0))


@pytest.mark.parametrize('layout', [0, 1], ids=['NCHW', 'channels-last'])
def test_mean_squared_error_equals_stock_and_its_gradient_exactly(layout):
    rng = np.random.default_rng(14)
    x0, x1 = (chainer.Variable(_layouts(rng, (4, 16, 9, 9))[layout]) for _ in range(2))
    references = [chainer.Variable(v.array.copy()) for v in (x0, x1)]
    loss = onednn.mean_squared_error(x0, x1)
    reference = F.mean_squared_error(*references)
    assert type(loss.creator) is onednn.MeanSquaredError
    np.testing.assert_allclose(loss.array, reference.array, rtol=1e-6)    # the sum in another order
    loss.backward()
    reference.backward()
    for ours, theirs in zip((x0, x1), references):
        np.testing.assert_array_equal(ours.grad, theirs.grad)


def _cnn_links(rng, channels, with_fastconv=True):
    make = fastconv.Convolution2D if with_fastconv else L.Convolution2D
    links = [make(c_in, c_out, 6, stride=2) for c_in, c_out in zip((1,) + channels[:-1], channels)]
    for link in links:
        link.W.array[...] = _x(rng, link.W.shape) / np.sqrt(link.W[0].size)    # activations of order 1
        link.b.array[...] = _x(rng, link.b.shape)
    return links


def _stack_run(links, x, gy, one_node, x_needs_gradient=True):
    """The output of ``relu(conv(...))`` over the links and the gradients of its inputs, as one node or node
    by node (``one_node``)."""
    for link in links:
        link.cleargrads()
    x = chainer.Variable(x.copy(), requires_grad=x_needs_gradient)
    if one_node:
        y = fastconv.convolutions_with_relu(x, links)
        assert type(y.creator) is onednn.ConvolutionReLUStack
    else:
        y = x
        for link in links:
            y = onednn.relu(link(y))
    y.grad = gy.copy()
    y.backward()
    return [y.array, x.grad] + [a for link in links for a in (link.W.grad, link.b.grad)]


def _assert_stock_agrees(stock, links, x, gy, fused):
    """Stock Chainer's links given the weights of ``links`` give ``fused`` (a ``_stack_run``) within float32
    rounding."""
    for link, ours in zip(stock, links):
        link.W.array[...], link.b.array[...] = ours.W.array, ours.b.array
    with chainer.using_config('specae_onednn', False):
        reference = _stack_run(stock, x, gy, one_node=False)
    _assert_close(fused, reference)


@needs_library
@pytest.mark.parametrize('bf16', [False, pytest.param(True, marks=needs_amx)], ids=['float32', 'bfloat16'])
@pytest.mark.parametrize('channels, batch', [((16, 32, 32), 30), ((16, 32, 32), 7), ((16, 32), 1)],
                         ids=['3 layers', '3 layers, a partial batch', '2 layers, batch 1'])
def test_a_stack_of_convolutions_in_one_node_equals_them_node_by_node(channels, batch, bf16):
    """The classifier's convolutions and ReLUs as one node give the values and gradients of the nodes one by
    one, bit for bit (the same primitives; the bfloat16 ones are compared with stock on rounded inputs
    above), and in float32 stock Chainer's within its rounding."""
    rng = np.random.default_rng(31)
    links = _cnn_links(rng, channels)
    x = _x(rng, (batch, 1, 64, 64))
    with chainer.using_config('specae_onednn_bf16', bf16):
        top = fastconv.convolutions_with_relu(x, links).shape
        gy = _x(rng, top)                                   # NCHW, as a fully connected layer hands it back
        with _forward_calls() as calls:
            fused = _stack_run(links, x, gy, one_node=True)
        separate = _stack_run(links, x, gy, one_node=False)
        without_x = _stack_run(links, x, gy, one_node=True, x_needs_gradient=False)
    assert calls == [True] * len(channels)                  # each ReLU inside its convolution's primitive
    for mine, theirs in zip(fused, separate):
        np.testing.assert_array_equal(mine.view(np.uint32), theirs.view(np.uint32))     # signed zeros too
    assert without_x[1] is None
    for mine, theirs in zip(without_x[2:], separate[2:]):
        np.testing.assert_array_equal(mine, theirs)
    if bf16:
        return
    _assert_stock_agrees(_cnn_links(rng, channels, with_fastconv=False), links, x, gy, fused)


class _forward_calls(object):
    """Records, for each convolution forward that ``onednn.forward`` runs, whether its ReLU ran inside it."""

    def __enter__(self):
        self.calls, self.original = [], onednn.forward

        def forward(*args, relu=False, **kwargs):
            self.calls.append(relu)
            return self.original(*args, relu=relu, **kwargs)
        onednn.forward = forward
        return self.calls

    def __exit__(self, *exc):
        onednn.forward = self.original


@needs_library
def test_a_stack_whose_sums_overflow_keeps_their_nan_as_the_nodes_do():
    # Finite inputs and weights whose products overflow float32: a sum of +inf and -inf products is NaN. The
    # ReLU inside a convolution's primitive would make that NaN a 0 and the run go on unseen, so the stack may
    # run it there only where a bound proves no sum can overflow; here it must not.
    rng = np.random.default_rng(34)
    links = _cnn_links(rng, (16, 32))
    links[0].W.array[...] *= np.float32(1e36)
    x = _x(rng, (2, 1, 64, 64)) * np.float32(1e3)
    assert np.isfinite(x).all() and np.isfinite(links[0].W.array).all()
    gy = _x(rng, (2, 32, 13, 13))
    with _forward_calls() as calls:
        fused = _stack_run(links, x, gy, one_node=True)
    separate = _stack_run(links, x, gy, one_node=False)
    assert calls == [False, False]
    assert np.isnan(fused[0]).any()
    for mine, theirs in zip(fused, separate):
        np.testing.assert_array_equal(mine, theirs)
    # and the bound itself: the same stack with ordinary weights passes it, with an infinite input it fails
    assert onednn._cannot_overflow(x / np.float32(1e3), [links[0].W.array / np.float32(1e36), links[1].W.array],
                                   [links[0].b.array, links[1].b.array])
    x[0, 0, 0, 0] = np.inf
    assert not onednn._cannot_overflow(x, [links[1].W.array], [links[1].b.array])


@needs_library
def test_a_stack_in_one_node_keeps_nan_and_has_no_second_derivative():
    rng = np.random.default_rng(32)
    links = _cnn_links(rng, (16, 32))
    x = _x(rng, (2, 1, 64, 64))
    x[1, 0, 30:36, 30:36] = np.nan
    gy = _x(rng, (2, 32, 13, 13))
    fused, separate = (_stack_run(links, x, gy, one_node) for one_node in (True, False))
    assert np.isnan(fused[0][1]).any() and not np.isnan(fused[0][0]).any()
    for mine, theirs in zip(fused, separate):
        np.testing.assert_array_equal(mine, theirs)
    variable = chainer.Variable(x[:1].copy())
    gx, = chainer.grad([fastconv.convolutions_with_relu(variable, links)], [variable],
                       grad_outputs=[chainer.Variable(gy[:1])], enable_double_backprop=True)
    with pytest.raises(NotImplementedError):
        chainer.grad([gx], [variable], grad_outputs=[chainer.Variable(x[:1])])


@needs_library
def test_the_classifier_runs_its_convolutions_as_one_node_where_it_can():
    rng = np.random.default_rng(33)
    cnn = models.CNN(3)
    x = _x(rng, (4, 1, 64, 64))
    assert cnn.fc.W.array is not None
    seen = []
    original = onednn.ConvolutionReLUStack.forward
    try:
        onednn.ConvolutionReLUStack.forward = lambda node, inputs: seen.append(len(inputs)) or original(node, inputs)
        logits = cnn(x)
        with chainer.using_config('specae_onednn', False):
            reference = cnn(x)
    finally:
        onednn.ConvolutionReLUStack.forward = original
    assert seen == [7]                                  # x and three weights and biases; the numpy path none
    _assert_close([logits.array], [reference.array])


def _autoencoder_links(rng, c_in, c_out, size, outsize=True):
    encoder = fastconv.Convolution2D(c_in, c_out, 6, stride=2)
    decoder = fastconv.Deconvolution2D(c_out, c_in, 6, stride=2, outsize=(size, size) if outsize else None)
    for link in (encoder, decoder):
        link.W.array[...] = _x(rng, link.W.shape) / np.sqrt(link.W[0].size)
        link.b.array[...] = _x(rng, link.b.shape)
    return [encoder, decoder]


@needs_library
@pytest.mark.parametrize('bf16', [False, pytest.param(True, marks=needs_amx)], ids=['float32', 'bfloat16'])
@pytest.mark.parametrize('c_in, c_out, size, batch, outsize', [
    (1, 16, 64, 30, True), (16, 32, 30, 7, True), (32, 32, 13, 1, True), (16, 32, 31, 3, False)],
    ids=['AE1', 'AE2, a partial batch', 'AE3, batch 1', 'no outsize: the smallest, 30 for 31'])
def test_an_autoencoder_layer_in_one_node_equals_it_node_by_node(c_in, c_out, size, batch, outsize, bf16):
    """An encoder and its decoder (a transposed convolution: to the input's size, one larger than the smallest
    where that is odd, or without an outsize to the smallest) with their ReLUs as one node: the values and gradients of the nodes one by one, bit for
    bit, and of stock Chainer within float32 rounding."""
    rng = np.random.default_rng(34)
    links = _autoencoder_links(rng, c_in, c_out, size, outsize)
    x = _x(rng, (batch, c_in, size, size))
    with chainer.using_config('specae_onednn_bf16', bf16):
        top = fastconv.convolutions_with_relu(x, links).shape
        gy = _layouts(rng, top)[1]                         # as the mean squared error hands it back
        fused = _stack_run(links, x, gy, one_node=True)
        separate = _stack_run(links, x, gy, one_node=False)
    assert top == ((batch, c_in, size, size) if outsize else (batch, c_in, 30, 30))
    for mine, theirs in zip(fused, separate):
        np.testing.assert_array_equal(mine, theirs)
    if bf16:
        return
    stock = [L.Convolution2D(c_in, c_out, 6, stride=2), L.Deconvolution2D(c_out, c_in, 6, stride=2, outsize=top[2:])]
    _assert_stock_agrees(stock, links, x, gy, fused)


@needs_library
def test_the_autoencoder_layer_trains_through_one_node_to_the_same_loss():
    rng = np.random.default_rng(35)
    layer = models.AutoencoderLayer(16, 32, 30)
    x = _layouts(rng, (5, 16, 30, 30))[1]
    loss = layer.reconstruction_loss(x)
    assert type(loss.creator.inputs[0].creator) is onednn.ConvolutionReLUStack
    with chainer.using_config('specae_onednn', False):
        reference = layer.reconstruction_loss(x)
    _assert_close([loss.array], [reference.array])


@needs_library
def test_mean_squared_error_second_derivatives_equal_stock():
    rng = np.random.default_rng(16)
    x0, x1 = (chainer.Variable(_layouts(rng, (3, 8, 5, 5))[1]) for _ in range(2))
    references = [chainer.Variable(v.array.copy()) for v in (x0, x1)]
    directions = [chainer.Variable(_x(rng, x0.shape)) for _ in range(2)]
    ours = chainer.grad([onednn.mean_squared_error(x0, x1)], [x0, x1], enable_double_backprop=True)
    theirs = chainer.grad([F.mean_squared_error(*references)], references, enable_double_backprop=True)
    assert type(ours[0].creator) is onednn.SquaredErrorGradient
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine.array, reference.array)
    second = chainer.grad(list(ours), [x0, x1], grad_outputs=directions)
    expected = chainer.grad(list(theirs), references, grad_outputs=[chainer.Variable(d.array.copy()) for d in directions])
    for mine, reference in zip(second, expected):
        np.testing.assert_allclose(mine.array, reference.array, rtol=1e-5, atol=1e-7)


@needs_library
def test_mean_squared_error_double_backward_checks_numerically():
    """Including the derivative with respect to the loss's own gradient, which the test above leaves at 1."""
    rng = np.random.default_rng(17)
    x0, x1 = (_x(rng, (2, 3, 4, 4)).astype(np.float32) for _ in range(2))
    gy = np.array(0.7, np.float32)
    ggx = [_x(rng, x0.shape).astype(np.float32) for _ in range(2)]
    chainer.gradient_check.check_double_backward(onednn.mean_squared_error, (x0, x1), gy, ggx,
                                                 dtype=np.float64, atol=1e-3, rtol=1e-3)


def _numpy_blas_threads():
    from threadpoolctl import threadpool_info
    counts = [pool['num_threads'] for pool in threadpool_info()
              if pool['user_api'] == 'blas' and 'numpy' in pool['filepath']]
    assert counts, 'numpy BLAS not found by threadpoolctl'
    return counts[0]


@needs_library
def test_training_keeps_numpy_blas_on_one_thread_only_beside_onednn():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(2, user_api='blas'):
        with onednn.blas_on_one_thread():
            assert _numpy_blas_threads() == 1
        assert _numpy_blas_threads() == 2                   # given back
        with chainer.using_config('specae_onednn', False):   # the numpy convolutions need BLAS's threads
            with onednn.blas_on_one_thread():
                assert _numpy_blas_threads() == 2


@needs_library
def test_a_training_run_keeps_numpy_blas_on_one_thread(tmp_path):
    from threadpoolctl import threadpool_limits
    from specae import trainer_setup
    model = L.Classifier(L.Linear(3, 2))
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(model)
    data = chainer.datasets.TupleDataset(np.zeros((4, 3), np.float32), np.zeros(4, np.int32))
    updater = chainer.training.updaters.StandardUpdater(chainer.iterators.SerialIterator(data, 2), optimizer)
    trainer = chainer.training.Trainer(updater, (2, 'iteration'), out=str(tmp_path))
    seen = []
    trainer.extend(lambda _: seen.append(_numpy_blas_threads()), trigger=(1, 'iteration'))
    with threadpool_limits(2, user_api='blas'):
        trainer_setup.run(trainer)
        assert _numpy_blas_threads() == 2
    assert seen == [1, 1]
