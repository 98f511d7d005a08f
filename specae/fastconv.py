"""Fast CPU 2-D convolution / transposed convolution for Chainer.

Stock Chainer 7.8.1 on CPU builds the im2col columns twice per layer and step
(the weight gradient recomputes the forward's columns), moves data through
``tensordot``/``rollaxis`` copies and runs a slow ``col2im``.  This module
implements the same operators with

* a channels-last (NHWC) internal layout: the im2col columns of a layer are
  built with ONE strided copy whose innermost run is ``kw * C`` contiguous
  elements (one-channel images: the transposed columns, runs of ``ow``), and
  form a ``(B*oh*ow, kh*kw*C)`` matrix, so forward and grad-W are one GEMM
  each;
* the forward columns kept on the function node and reused by the weight
  gradient (no recomputation), then released;
* grad-x (= the transposed convolution, i.e. the deconvolution forward)
  decomposed into the ``sy*sx`` output phases, each a stride-1 convolution
  of ``gy`` with a sub-kernel, all in one im2col + one GEMM, so no
  overlapping col2im adds are needed; for one output channel it is a GEMM
  and ``kh*kw`` strided whole-array adds (col2im);
* large work buffers recycled (avoids page faults on fresh memory), and
  per-sample GEMMs where OpenBLAS threads a skinny product badly.

Outputs are returned as NCHW-shaped arrays that are *views* of the NHWC
result buffer (``transpose(0, 3, 1, 2)`` of a C-contiguous NHWC array),
like stock Chainer whose CPU convolution also returns a non-contiguous
``rollaxis`` view.  Element-wise functions (ReLU, ...) keep that memory
layout, so the next layer gets its NHWC input without a copy.

float32 numpy arrays go to oneDNN's kernels (:mod:`specae.onednn`) where that library can be loaded;
where it cannot, the numpy code below does the work (the training scripts say so in one line).
Only numpy arrays (float32 / float64) take the fast path.  Everything else
(cupy, chainerx, ideep arrays, other dtypes) and the features not
implemented here (dilation, groups) go to the unchanged stock
``chainer.functions.convolution_2d`` / ``deconvolution_2d``.

Public API
----------
``convolution_2d(x, W, b=None, stride=1, pad=0)``
``deconvolution_2d(x, W, b=None, stride=1, pad=0, outsize=None)``
``Convolution2D`` / ``Deconvolution2D``: subclasses of the stock links (same
constructor, parameters, initialisers and serialisation); only ``forward``
differs.
``Convolution2DFunction`` / ``Deconvolution2DFunction`` /
``Convolution2DGradW``: the function nodes (numpy only).  Every backward is
expressed with these nodes, so double backprop works too.
``release_buffers()``: drops the recycled work buffers.
``convolutions_with_relu(x, links)``: ``relu(link(x))`` link after link, as one
oneDNN node (``onednn.ConvolutionReLUStack``) where it can (first order only).
"""

import sys
import threading

import numpy
from numpy.lib.stride_tricks import as_strided

import chainer
import chainer.functions as F
import chainer.links as L
from chainer import function_node
from chainer.utils import conv as conv_utils
from chainer.utils import type_check

from specae import onednn

__all__ = [
    'Convolution2DFunction', 'Deconvolution2DFunction', 'Convolution2DGradW',
    'convolution_2d', 'deconvolution_2d', 'Convolution2D', 'Deconvolution2D',
    'release_buffers',
]

_FAST_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _pair(x):
    if hasattr(x, '__getitem__'):
        return int(x[0]), int(x[1])
    return int(x), int(x)


# ---------------------------------------------------------------------------
# Reuse of large work buffers
# ---------------------------------------------------------------------------
# A fresh multi-megabyte numpy array is often backed by pages that malloc has
# just obtained from the kernel, and touching them costs one page fault per
# 4 KiB: for the 3-layer CNN that is ~2800 faults (10-15 % of a training
# step) per step, mostly for the retained im2col columns.  Large buffers are
# therefore recycled: a pooled array is handed out again only once nothing
# but the pool refers to it (checked with its reference count, as
# ``ndarray.resize`` does; every view keeps its base alive, so views count).

_POOL_MIN_BYTES = 1 << 18
_POOL_MAX_BUFFERS = 16
_pool = []
_pool_lock = threading.Lock()


def _find_free(bufs, shape, dtype, free_refs):
    for i, buf in enumerate(bufs):
        if (buf.shape == shape and buf.dtype == dtype
                and sys.getrefcount(buf) <= free_refs):
            return i
    return -1


def _calibrate_free_refs():
    """Reference count :func:`_find_free` sees for an unreferenced buffer."""
    for refs in range(1, 16):
        if _find_free([numpy.empty(0)], (0,), numpy.dtype(float), refs) == 0:
            return refs
    raise RuntimeError('cannot calibrate the buffer pool')


_FREE_REFS = _calibrate_free_refs()


def _empty(shape, dtype):
    """``numpy.empty`` that recycles large buffers no longer in use."""
    dtype = numpy.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if nbytes < _POOL_MIN_BYTES:
        return numpy.empty(shape, dtype)
    with _pool_lock:
        i = _find_free(_pool, shape, dtype, _FREE_REFS)
        if i >= 0:
            buf = _pool.pop(i)
        else:
            buf = numpy.empty(shape, dtype)
            if len(_pool) >= _POOL_MAX_BUFFERS:
                del _pool[0]            # least recently handed out
        _pool.append(buf)
        return buf


def release_buffers():
    """Drops the recycled work buffers (they are freed once unused)."""
    with _pool_lock:
        del _pool[:]


# ---------------------------------------------------------------------------
# numpy kernels (channels-last internal layout)
# ---------------------------------------------------------------------------

class _Geometry(object):
    """Kernel size, stride and padding of one convolution."""

    __slots__ = ('kh', 'kw', 'sy', 'sx', 'ph', 'pw')

    def __init__(self, kh, kw, stride, pad):
        self.kh, self.kw = int(kh), int(kw)
        self.sy, self.sx = _pair(stride)
        self.ph, self.pw = _pair(pad)

    def conv_outsize(self, h, w, cover_all=False):
        return (conv_utils.get_conv_outsize(
                    h, self.kh, self.sy, self.ph, cover_all=cover_all),
                conv_utils.get_conv_outsize(
                    w, self.kw, self.sx, self.pw, cover_all=cover_all))

    def needs_cover_all(self, h, w, oh, ow):
        """Whether a conv of an ``h x w`` image must yield ``oh x ow``
        with ``cover_all`` (deconvolution with a non-minimal outsize)."""
        return (oh, ow) != self.conv_outsize(h, w)

    def buffer_size(self, h, w, oh, ow):
        """Padded image size covering both the image and every window."""
        return (max(h + 2 * self.ph, (oh - 1) * self.sy + self.kh),
                max(w + 2 * self.pw, (ow - 1) * self.sx + self.kw))


def _to_nhwc(x):
    """NCHW-shaped array -> C-contiguous NHWC array (free if the memory
    already is channels-last, e.g. the output of this module)."""
    return numpy.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _nchw_view(yh):
    """C-contiguous NHWC array -> NCHW-shaped view."""
    return yh.transpose(0, 3, 1, 2)


def _w_matrix(W):
    """(O, C, kh, kw) weight -> (O, kh*kw*C) matrix matching the columns."""
    O = W.shape[0]
    return W.transpose(0, 2, 3, 1).reshape(O, -1)


def _w_from_matrix(Wm, C, kh, kw):
    """Inverse of :func:`_w_matrix` (returns a C-contiguous array)."""
    O = Wm.shape[0]
    return numpy.ascontiguousarray(
        Wm.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))


def _pad_image(xh, top, bottom, left, right):
    """Zero-pads an NHWC image; negative amounts crop."""
    if top == bottom == left == right == 0:
        return xh
    B, H, W, C = xh.shape
    out = numpy.zeros((B, H + top + bottom, W + left + right, C),
                      dtype=xh.dtype)
    src = xh[:, max(-top, 0):H - max(-bottom, 0),
             max(-left, 0):W - max(-right, 0)]
    out[:, max(top, 0):max(top, 0) + src.shape[1],
        max(left, 0):max(left, 0) + src.shape[2]] = src
    return out


def _im2col(xh, g, oh, ow):
    """NHWC image ``(B, H, W, C)`` -> columns, a ``(B*oh*ow, kh*kw*C)``
    matrix (column order kh, kw, C).

    One strided copy (plus a zero-padded copy of the image when padding is
    needed).  With several channels the result is C-contiguous, so the copy
    moves runs of ``kw*C`` contiguous elements.  With one channel those runs
    would be only ``kw`` long, so the columns are built transposed instead
    (a C-contiguous ``(kh*kw, B*oh*ow)`` array whose ``.T`` is returned;
    runs of ``ow``); the GEMMs take either layout without a copy.
    """
    B, H, W, C = xh.shape
    Hp, Wp = g.buffer_size(H, W, oh, ow)
    xh = _pad_image(xh, g.ph, Hp - H - g.ph, g.pw, Wp - W - g.pw)
    # Strides are computed from the shape (not taken from xh.strides), since
    # numpy leaves arbitrary strides on size-1 axes of contiguous arrays.
    it = xh.itemsize
    s_w = C * it
    s_h = Wp * s_w
    windows = as_strided(
        xh, shape=(B, oh, ow, g.kh, g.kw, C),
        strides=(Hp * s_h, g.sy * s_h, g.sx * s_w, s_h, s_w, it),
        writeable=False)
    K = g.kh * g.kw * C
    if C > 1:
        col = _empty((B * oh * ow, K), xh.dtype)
        col.reshape(windows.shape)[...] = windows
        return col
    colT = _empty((K, B * oh * ow), xh.dtype)
    colT.reshape(g.kh, g.kw, C, B, oh, ow)[...] = windows.transpose(
        3, 4, 5, 0, 1, 2)
    return colT.T


def _col2im(c6, g, H, W):
    """Columns viewed as ``(kh, kw, C, B, oh, ow)`` -> NHWC ``(B, H, W, C)``,
    summing the overlapping windows: ``kh*kw`` strided whole-array adds."""
    _, _, C, B, oh, ow = c6.shape
    Hp, Wp = g.buffer_size(H, W, oh, ow)
    buf = numpy.zeros((B, Hp, Wp, C), dtype=c6.dtype)
    ylim, xlim = g.sy * oh, g.sx * ow
    for i in range(g.kh):
        rows = buf[:, i:i + ylim:g.sy]
        for j in range(g.kw):
            dst = rows[:, :, j:j + xlim:g.sx]
            numpy.add(dst, c6[i, j].transpose(1, 2, 3, 0), out=dst)
    return buf[:, g.ph:g.ph + H, g.pw:g.pw + W]


# OpenBLAS splits a GEMM over its threads along the output matrix.  For the
# long, skinny products of a one-channel layer (e.g. 27000x36 @ 36x16) that
# costs more than it gains: measured 2-4x slower on the 2-core machine than
# numpy's batched matmul, which runs one small (single-threaded) GEMM per
# sample.  Products whose small operand has more elements use one GEMM.
_SMALL_OPERAND = 4096


def _gemm(a, b, B):
    """``a @ b`` for ``a`` of shape ``(B*P, k)`` and ``b`` of ``(k, n)``."""
    if b.size <= _SMALL_OPERAND:
        return numpy.matmul(a.reshape(B, -1, a.shape[1]), b).reshape(
            -1, b.shape[1])
    return numpy.dot(a, b)


def _gemm_tn(a, c, B):
    """``a.T @ c`` for ``a (B*P, n)`` and ``c (B*P, k)``."""
    n, k = a.shape[1], c.shape[1]
    if n * k <= _SMALL_OPERAND:
        return numpy.matmul(a.reshape(B, -1, n).transpose(0, 2, 1),
                            c.reshape(B, -1, k)).sum(axis=0)
    return numpy.dot(a.T, c)


def _phase_weight(W, g):
    """Weight matrix of :func:`_transposed_conv_by_phases`.

    Row ``(u, v, o)`` (a ``ay x ax`` window of the padded ``gy``), column
    ``(r, q, c)`` (the output phase and channel):
    ``W[o, c, sy*(ay-1-u) + r, sx*(ax-1-v) + q]``, zero outside the kernel.
    """
    O, C, kh, kw = W.shape
    ay, ax = -(-kh // g.sy), -(-kw // g.sx)
    Wp = numpy.zeros((O, C, ay * g.sy, ax * g.sx), dtype=W.dtype)
    Wp[:, :, :kh, :kw] = W
    Wp = Wp.reshape(O, C, ay, g.sy, ax, g.sx)[:, :, ::-1, :, ::-1, :]
    # -> (u, v, o, r, q, c)
    return Wp.transpose(2, 4, 0, 3, 5, 1).reshape(ay * ax * O, -1)


def _transposed_conv_by_phases(gyh, W, g, H, Wd):
    """Transposed convolution (gx of a convolution) without col2im.

    Output pixel ``Y = sy*Y' + r`` only sees kernel rows ``i = sy*a + r``
    and input rows ``y = Y' - a``, so each of the ``sy*sx`` output phases is
    a stride-1 convolution of the zero-padded ``gy`` with an
    ``ceil(kh/sy) x ceil(kw/sx)`` kernel.  All phases share the same im2col
    columns, so this is one im2col, one GEMM and one interleaving copy.
    """
    B, oh, ow, O = gyh.shape
    C = W.shape[1]
    sy, sx = g.sy, g.sx
    ay, ax = -(-g.kh // sy), -(-g.kw // sx)
    Hh, Wh = -(-(H + g.ph) // sy), -(-(Wd + g.pw) // sx)   # phase grid
    gpad = _pad_image(gyh, ay - 1, Hh - oh, ax - 1, Wh - ow)
    col = _im2col(gpad, _Geometry(ay, ax, 1, 0), Hh, Wh)
    out = _gemm(col, _phase_weight(W, g), B)      # (B*Hh*Wh, sy*sx*C)
    y = _empty((B, Hh, sy, Wh, sx, C), out.dtype)
    y[...] = out.reshape(B, Hh, Wh, sy, sx, C).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(B, Hh * sy, Wh * sx, C)[:, g.ph:g.ph + H,
                                              g.pw:g.pw + Wd]


def _conv_forward(xh, Wm, b, g, oh, ow):
    """Returns (NHWC output, columns)."""
    B = xh.shape[0]
    col = _im2col(xh, g, oh, ow)
    y = _gemm(col, Wm.T, B)
    if b is not None:
        y += b
    return y.reshape(B, oh, ow, Wm.shape[0]), col


def _conv_backward_data(gyh, W, b, g, H, Wd):
    """Transposed convolution of NHWC ``gyh (B, oh, ow, O)`` with ``W (O, C,
    kh, kw)`` -> C-contiguous NHWC ``(B, H, Wd, C)``.

    Several channels: by output phases (one GEMM, no overlapping adds).  One
    channel: per-sample GEMMs giving columns ``(B, kh*kw, P)``, then
    ``kh*kw`` adds with runs of ``ow`` elements.
    """
    B, oh, ow, O = gyh.shape
    C = W.shape[1]
    if C > 1:
        y = _transposed_conv_by_phases(gyh, W, g, H, Wd)
    else:
        gcol = numpy.matmul(_w_matrix(W).T,
                            gyh.reshape(B, -1, O).transpose(0, 2, 1))
        c6 = gcol.reshape(B, g.kh, g.kw, C, oh, ow).transpose(1, 2, 3, 0, 4, 5)
        y = _col2im(c6, g, H, Wd)
    y = numpy.ascontiguousarray(y)
    if b is not None:
        y += b
    return y


def _conv_backward_weight(gyh, col, g, C):
    """Weight gradient (O, C, kh, kw) from NHWC ``gyh`` and the columns."""
    B, O = gyh.shape[0], gyh.shape[3]
    gWm = _gemm_tn(gyh.reshape(-1, O), col, B)
    return _w_from_matrix(gWm, C, g.kh, g.kw)


# ---------------------------------------------------------------------------
# Function nodes
# ---------------------------------------------------------------------------

def _require_numpy(inputs):
    if not all(type(a) is numpy.ndarray for a in inputs):
        raise TypeError(
            'specae.fastconv function nodes take numpy arrays only; use '
            'convolution_2d / deconvolution_2d, which dispatch other arrays '
            'to the stock Chainer functions')


def _check_bias(in_types, x_type, n_out):
    if type_check.eval(in_types.size()) == 3:
        b_type = in_types[2]
        type_check.expect(
            b_type.dtype == x_type.dtype,
            b_type.ndim == 1,
            b_type.shape[0] == n_out,
        )


class Convolution2DFunction(function_node.FunctionNode):
    """2-D convolution on numpy arrays (inputs ``x, W[, b]``).

    ``cover_all`` is for internal use (the backward of a deconvolution whose
    ``outsize`` is not the minimal one).
    """

    def __init__(self, stride=1, pad=0, cover_all=False):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.cover_all = bool(cover_all)
        self.col = None

    def check_type_forward(self, in_types):
        n_in = in_types.size()
        type_check.expect(2 <= n_in, n_in <= 3)
        x_type, w_type = in_types[:2]
        type_check.expect(
            x_type.dtype.kind == 'f',
            w_type.dtype == x_type.dtype,
            x_type.ndim == 4,
            w_type.ndim == 4,
            x_type.shape[1] == w_type.shape[1],
        )
        _check_bias(in_types, x_type, w_type.shape[0])

    def forward(self, inputs):
        _require_numpy(inputs)
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        g = _Geometry(W.shape[2], W.shape[3], self.stride, self.pad)
        oh, ow = g.conv_outsize(x.shape[2], x.shape[3], self.cover_all)
        if oh <= 0 or ow <= 0:
            raise ValueError('convolution output size must be positive, '
                             'got {}x{}'.format(oh, ow))
        yh, self.col = _conv_forward(_to_nhwc(x), _w_matrix(W), b, g, oh, ow)
        return _nchw_view(yh),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        # The columns serve one weight gradient; dropping them here frees
        # (or returns to the pool) the largest buffer of the layer early.  A
        # second backward pass recomputes them.
        col, self.col = self.col, None
        ret = []
        if 0 in indexes:
            gx, = Deconvolution2DFunction(
                self.stride, self.pad, outsize=x.shape[2:]).apply((gy, W))
            ret.append(gx)
        if 1 in indexes:
            gW, = Convolution2DGradW(
                W.shape[2:], self.stride, self.pad, col=col).apply((x, gy))
            ret.append(gW)
        if 2 in indexes:
            ret.append(F.sum(gy, axis=(0, 2, 3)))
        return ret


class Deconvolution2DFunction(function_node.FunctionNode):
    """2-D transposed convolution on numpy arrays (inputs ``x, W[, b]``,
    ``W`` of shape ``(in_channels, out_channels, kh, kw)``)."""

    def __init__(self, stride=1, pad=0, outsize=None):
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        # Like stock: ``None`` or ``(None, None)`` means the minimal size.
        if outsize is None:
            outsize = (None, None)
        self.outsize = tuple(None if o is None else int(o) for o in outsize)

    def _outsize(self, x_shape, w_shape):
        return tuple(
            conv_utils.get_deconv_outsize(
                x_shape[axis], w_shape[axis], self.stride[axis - 2],
                self.pad[axis - 2]) if size is None else size
            for axis, size in ((2, self.outsize[0]), (3, self.outsize[1])))

    def check_type_forward(self, in_types):
        n_in = in_types.size()
        type_check.expect(2 <= n_in, n_in <= 3)
        x_type, w_type = in_types[:2]
        type_check.expect(
            x_type.dtype.kind == 'f',
            w_type.dtype == x_type.dtype,
            x_type.ndim == 4,
            w_type.ndim == 4,
            x_type.shape[1] == w_type.shape[0],
        )
        for axis, size in ((2, self.outsize[0]), (3, self.outsize[1])):
            if size is not None:
                k = w_type.shape[axis]
                s = self.stride[axis - 2]
                p = self.pad[axis - 2]
                type_check.expect(
                    conv_utils.get_conv_outsize(size, k, s, p)
                    <= x_type.shape[axis],
                    x_type.shape[axis] <= conv_utils.get_conv_outsize(
                        size, k, s, p, cover_all=True),
                )
        _check_bias(in_types, x_type, w_type.shape[1])

    def forward(self, inputs):
        _require_numpy(inputs)
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        H, Wd = self._outsize(x.shape, W.shape)
        if H <= 0 or Wd <= 0:
            raise ValueError('deconvolution output size must be positive, '
                             'got {}x{}'.format(H, Wd))
        g = _Geometry(W.shape[2], W.shape[3], self.stride, self.pad)
        yh = _conv_backward_data(_to_nhwc(x), W, b, g, H, Wd)
        return _nchw_view(yh),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        g = _Geometry(W.shape[2], W.shape[3], self.stride, self.pad)
        cover_all = g.needs_cover_all(gy.shape[2], gy.shape[3],
                                      x.shape[2], x.shape[3])
        ret = []
        col = None
        if 0 in indexes:
            conv = Convolution2DFunction(self.stride, self.pad, cover_all)
            gx, = conv.apply((gy, W))
            col = conv.col      # im2col(gy), shared with the weight gradient
            ret.append(gx)
        if 1 in indexes:
            gW, = Convolution2DGradW(
                W.shape[2:], self.stride, self.pad, col=col).apply((gy, x))
            ret.append(gW)
        if 2 in indexes:
            ret.append(F.sum(gy, axis=(0, 2, 3)))
        return ret


class Convolution2DGradW(function_node.FunctionNode):
    """Weight gradient of a convolution: inputs ``(x, gy)`` -> ``gW``.

    ``col`` may be the im2col columns of ``x`` already built by the forward
    pass (then they are reused instead of being recomputed).
    """

    def __init__(self, ksize, stride=1, pad=0, col=None):
        self.ksize = _pair(ksize)
        self.stride = _pair(stride)
        self.pad = _pair(pad)
        self.col = col

    def forward(self, inputs):
        _require_numpy(inputs)
        self.retain_inputs((0, 1))
        x, gy = inputs
        g = _Geometry(self.ksize[0], self.ksize[1], self.stride, self.pad)
        oh, ow = gy.shape[2:]
        col = self.col
        self.col = None      # only needed once; do not keep it alive
        if col is None:
            col = _im2col(_to_nhwc(x), g, oh, ow)
        return _conv_backward_weight(_to_nhwc(gy), col, g, x.shape[1]),

    def backward(self, indexes, grad_outputs):
        x, gy = self.get_retained_inputs()
        ggW, = grad_outputs
        g = _Geometry(self.ksize[0], self.ksize[1], self.stride, self.pad)
        ret = []
        if 0 in indexes:
            gx, = Deconvolution2DFunction(
                self.stride, self.pad, outsize=x.shape[2:]).apply((gy, ggW))
            ret.append(gx)
        if 1 in indexes:
            cover_all = g.needs_cover_all(x.shape[2], x.shape[3],
                                          gy.shape[2], gy.shape[3])
            ggy, = Convolution2DFunction(
                self.stride, self.pad, cover_all).apply((x, ggW))
            ret.append(ggy)
        return ret


# ---------------------------------------------------------------------------
# Dispatching functions
# ---------------------------------------------------------------------------

def _raw(a):
    return a.array if isinstance(a, chainer.Variable) else a


def _use_fast_path(x, W, b):
    x, W = _raw(x), _raw(W)
    if type(x) is not numpy.ndarray or type(W) is not numpy.ndarray:
        return False
    if x.dtype not in _FAST_DTYPES or W.dtype != x.dtype:
        return False
    if b is not None:
        b = _raw(b)
        if type(b) is not numpy.ndarray or b.dtype != x.dtype:
            return False
    return True


def convolution_2d(x, W, b=None, stride=1, pad=0):
    """2-D convolution, like :func:`chainer.functions.convolution_2d`.

    numpy float32/float64 inputs use the fast CPU implementation, anything
    else (e.g. cupy arrays) the stock function unchanged.
    """
    if onednn.takes(x, W, b):
        return onednn.convolution_2d(x, W, b, stride, pad)
    if _use_fast_path(x, W, b):
        y, = Convolution2DFunction(stride, pad).apply(onednn.function_inputs(x, W, b))
        return y
    return F.convolution_2d(x, W, b, stride, pad)


def deconvolution_2d(x, W, b=None, stride=1, pad=0, outsize=None):
    """2-D transposed convolution, like
    :func:`chainer.functions.deconvolution_2d` (fast path for numpy)."""
    if onednn.takes(x, W, b):
        return onednn.deconvolution_2d(x, W, b, stride, pad, outsize)
    if _use_fast_path(x, W, b):
        y, = Deconvolution2DFunction(stride, pad, outsize).apply(
            onednn.function_inputs(x, W, b))
        return y
    return F.deconvolution_2d(x, W, b, stride, pad, outsize)


# ---------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------

def _plain(link):
    return tuple(link.dilate) == (1, 1) and link.groups == 1


class Convolution2D(L.Convolution2D):
    """:class:`chainer.links.Convolution2D` using :func:`convolution_2d`.

    Same constructor, parameters and serialisation as the stock link; links
    with ``dilate``/``groups`` or in ``cudnn_fast`` mode use the stock path.
    """

    def forward(self, x):
        if not _plain(self) or self.cudnn_fast:
            return super(Convolution2D, self).forward(x)
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        return convolution_2d(x, self.W, self.b, self.stride, self.pad)


class Deconvolution2D(L.Deconvolution2D):
    """:class:`chainer.links.Deconvolution2D` using
    :func:`deconvolution_2d` (same constructor and parameters as stock)."""

    def forward(self, x):
        if not _plain(self):
            return super(Deconvolution2D, self).forward(x)
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        return deconvolution_2d(x, self.W, self.b, self.stride, self.pad,
                                self.outsize)


def _stacks(link):
    """A link ``convolutions_with_relu`` can put in one node: a plain convolution or transposed convolution
    of this module with a bias and its weights made."""
    return (type(link) in (Convolution2D, Deconvolution2D) and _plain(link) and not getattr(link, 'cudnn_fast', False)
            and link.b is not None and link.W.array is not None)


def convolutions_with_relu(x, links):
    """``relu(link(x))`` for each link in turn (convolutions and transposed convolutions): as one oneDNN node
    (``onednn.ConvolutionReLUStack``) where every link is of this module, with a bias, and the arrays are
    float32 numpy, else link by link."""
    if all(_stacks(link) for link in links) and all(onednn.takes(x, link.W, link.b) for link in links):
        layers = [onednn.StackLayer(isinstance(link, Deconvolution2D), link.stride, link.pad,
                                    getattr(link, 'outsize', None)) for link in links]
        return onednn.convolution_relu_stack(x, [(link.W, link.b) for link in links], layers)
    for link in links:
        x = onednn.relu(link(x))
    return x
