"""2-D convolution and transposed convolution on the CPU through oneDNN, for Chainer.

oneDNN is the library behind PyTorch's CPU convolutions (and Chainer's own iDeep, which has no build for
Python 3.11). The ``onednn-cpu-gomp`` wheel (requirements.txt) installs oneDNN 3.2's CPU build as
``<venv>/lib/libdnnl.so.3``; its C API is called here through ctypes, so nothing is compiled on the user's
machine. It runs its kernels on GNU OpenMP threads: ``OMP_NUM_THREADS`` sets how many, as it already does
for the Makefile's stages.

Three oneDNN primitives do all the work, for float32 numpy arrays:

* the convolution forward (with its bias);
* its backward-data, which is also the forward of the transposed convolution (``deconvolution_2d``);
* its backward-weights (with the bias gradient), which with the roles of the two activations swapped is
  also the weight gradient of the transposed convolution.

The gradients are expressed with the same function nodes, so double backprop works too. Primitives are
made once per shape and kept (``_CACHE_SIZE`` shapes, the least recently used freed first).

bfloat16 on AMX. Where the CPU has AMX tiles (Intel Xeon since Sapphire Rapids), the training scripts run
the convolutions of 16 or more input channels with their inputs (activations, weights, incoming gradients)
rounded to bfloat16 and the sums and outputs in float32, as PyTorch's autocast or TF32 on GPUs do: the
3-CNN's second layer, the costliest, runs 3-10x faster, a training step 1.1-1.6x (docs/speed.md), and the
comparison table and ``make human`` stayed within their seed noise. Only while a Trainer runs
(``trainer_setup.run``); ``SPECAE_ONEDNN_BF16=0`` keeps float32 there too. Inference stays float32.

ReLU and its gradient (``relu``) run on oneDNN's element-wise primitive too: on the OpenMP threads, where
numpy's element-wise loops use one core, and with the gradient taken in the layout of the ReLU's output
whatever the layout of the gradient that arrives (numpy multiplies an NCHW array by an NHWC one at a
tenth of its speed).

Memory layouts. Activations are plain arrays: the output of every node is a channels-last (NHWC) buffer
returned as an NCHW-shaped view, as ``specae.fastconv`` returns it; element-wise functions (ReLU, ...) keep
that layout, so the next layer takes it without a copy. An NCHW array of several channels is copied into
that layout once (batches of features come channels-last from ``concat_examples``, the Trainer's
converter). Weights are plain (O, C, kh, kw) arrays in Chainer; oneDNN's fast kernels want them in a
blocked layout of its own (``format_tag any``), so they are reordered at each call (a few microseconds
for these sizes), and the weight gradient is reordered back (``_Primitive`` reorders any argument whose
layout differs from the primitive's; with the activations given as NHWC, only the weights do).

If the library cannot be loaded (no wheel, no ``libgomp.so.1``, ``SPECAE_ONEDNN_LIBRARY`` pointing
elsewhere) ``available()`` is false and ``reason`` says why: ``specae.fastconv`` then keeps its numpy
kernels, and the training scripts say so in one line on stdout (``fallback_line``; stderr stays for
errors, one line each). ``SPECAE_ONEDNN=0`` turns the backend off; so does the Chainer
configuration ``chainer.config.specae_onednn = False`` (within one process, e.g. in the benchmarks).
"""

import collections
import contextlib
import ctypes
import os
import sys
import threading

import numpy

import chainer
import chainer.functions as F
from chainer import function_node
from chainer.utils import conv as conv_utils

__all__ = ['available', 'reason', 'enabled', 'library_path', 'convolution_2d', 'deconvolution_2d', 'relu',
           'mean_squared_error', 'concat_examples', 'Convolution2DFunction', 'Deconvolution2DFunction', 'Convolution2DGradW']

LIBRARY_VARIABLE = 'SPECAE_ONEDNN_LIBRARY'
SWITCH_VARIABLE = 'SPECAE_ONEDNN'
LIBRARY_NAME = 'libdnnl.so.3'

# Constants of oneDNN 3.2's C API (include/oneapi/dnnl/dnnl_types.h, dnnl_common_types.h).
_SUCCESS = 0
_ENGINE_CPU = 1
_STREAM_DEFAULT_FLAGS = 1
_BF16 = 2
_F32 = 3
_FORMAT_ANY = 1
_FORWARD_TRAINING = 64
_CONVOLUTION_DIRECT = 1
_ELTWISE_RELU = 0x20
_ELTWISE_RELU_USE_DST_FOR_BWD = 0x100    # ReLU whose backward reads its output, not its input
_QUERY_IMPL_INFO_STR = 8
_QUERY_EXEC_ARG_MD = 255
ARG_SRC, ARG_DST, ARG_WEIGHTS, ARG_BIAS = 1, 17, 33, 41
ARG_DIFF_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS, ARG_DIFF_BIAS = 129, 145, 161, 169
_MAX_NDIMS = 12

_Dims = ctypes.c_int64 * _MAX_NDIMS
_handle = ctypes.c_void_p
_ALLOCATE = _handle(-1)     # DNNL_MEMORY_ALLOCATE: the library allocates the buffer


class _ExecArg(ctypes.Structure):
    _fields_ = [('arg', ctypes.c_int), ('memory', _handle)]


class OnednnError(RuntimeError):
    """A oneDNN call that did not return dnnl_success."""


def _signatures(lib):
    """Declares the C functions used (argument and result types), so ctypes converts and checks them."""
    p, i32, size = _handle, ctypes.c_int, ctypes.c_size_t
    out = ctypes.POINTER(_handle)
    table = {
        'dnnl_engine_create': ([out, i32, size], i32),
        'dnnl_stream_create': ([out, p, ctypes.c_uint], i32),
        'dnnl_stream_wait': ([p], i32),
        'dnnl_memory_desc_create_with_strides': ([out, i32, _Dims, i32, _Dims], i32),
        'dnnl_memory_desc_create_with_tag': ([out, i32, _Dims, i32, i32], i32),
        'dnnl_memory_desc_destroy': ([p], i32),
        'dnnl_memory_desc_equal': ([p, p], i32),
        'dnnl_memory_desc_get_size': ([p], size),
        'dnnl_memory_create': ([out, p, p, p], i32),
        'dnnl_memory_set_data_handle': ([p, p], i32),
        'dnnl_memory_destroy': ([p], i32),
        'dnnl_convolution_forward_primitive_desc_create': (
            [out, p, i32, i32, p, p, p, p, _Dims, _Dims, _Dims, _Dims, p], i32),
        'dnnl_convolution_backward_data_primitive_desc_create': (
            [out, p, i32, p, p, p, _Dims, _Dims, _Dims, _Dims, p, p], i32),
        'dnnl_convolution_backward_weights_primitive_desc_create': (
            [out, p, i32, p, p, p, p, _Dims, _Dims, _Dims, _Dims, p, p], i32),
        'dnnl_reorder_primitive_desc_create': ([out, p, p, p, p, p], i32),
        'dnnl_eltwise_forward_primitive_desc_create': ([out, p, i32, i32, p, p, ctypes.c_float, ctypes.c_float, p],
                                                       i32),
        'dnnl_eltwise_backward_primitive_desc_create': (
            [out, p, i32, p, p, p, ctypes.c_float, ctypes.c_float, p, p], i32),
        'dnnl_primitive_attr_create': ([out], i32),
        'dnnl_primitive_attr_set_post_ops': ([p, p], i32),
        'dnnl_post_ops_create': ([out], i32),
        'dnnl_post_ops_append_eltwise': ([p, i32, ctypes.c_float, ctypes.c_float], i32),
        'dnnl_post_ops_destroy': ([p], i32),
        'dnnl_primitive_desc_query': ([p, i32, i32, p], i32),
        'dnnl_primitive_desc_query_md': ([p, i32, i32], p),
        'dnnl_primitive_desc_next_impl': ([p], i32),
        'dnnl_primitive_desc_destroy': ([p], i32),
        'dnnl_primitive_create': ([out, p], i32),
        'dnnl_primitive_execute': ([p, p, i32, ctypes.POINTER(_ExecArg)], i32),
        'dnnl_primitive_destroy': ([p], i32),
    }
    for name, (argtypes, restype) in table.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype


def default_library_path():
    """``$SPECAE_ONEDNN_LIBRARY`` if set, else the wheel's copy in this interpreter's prefix (the venv)."""
    return os.environ.get(LIBRARY_VARIABLE) or os.path.join(sys.prefix, 'lib', LIBRARY_NAME)


class _Library(object):
    """The loaded library, one CPU engine and one stream."""

    def __init__(self, path):
        self.path = path
        self.lib = ctypes.CDLL(path)
        _signatures(self.lib)
        self.engine = self.make('dnnl_engine_create', _ENGINE_CPU, 0)
        self.stream = self.make('dnnl_stream_create', self.engine, _STREAM_DEFAULT_FLAGS)
        # The attribute of a convolution followed by a ReLU in the same primitive (a post-op: applied to
        # each output as it is stored, the same max(y, 0) as the element-wise primitive's); kept for the
        # life of the library (a descriptor copies what it needs of it).
        self.relu_after = self.make('dnnl_primitive_attr_create')
        post_ops = self.make('dnnl_post_ops_create')
        self.call('dnnl_post_ops_append_eltwise', post_ops, _ELTWISE_RELU, 0.0, 0.0)
        self.call('dnnl_primitive_attr_set_post_ops', self.relu_after, post_ops)
        self.call('dnnl_post_ops_destroy', post_ops)
        # The GNU OpenMP runtime oneDNN runs on (already loaded with it): its current thread count.
        self.openmp = ctypes.CDLL('libgomp.so.1')
        self.openmp.omp_get_max_threads.restype = ctypes.c_int

    def threads(self):
        """How many OpenMP threads a primitive made now would use (``OMP_NUM_THREADS``, omp_set_num_threads)."""
        return self.openmp.omp_get_max_threads()

    def call(self, name, *args):
        status = getattr(self.lib, name)(*args)
        if status != _SUCCESS:
            raise OnednnError('{} failed with oneDNN status {}'.format(name, status))

    def make(self, name, *args):
        """Calls a ``dnnl_*_create`` function and returns the handle it made."""
        handle = _handle()
        self.call(name, ctypes.byref(handle), *args)
        return handle

    def plain_md(self, shape, strides):
        """Memory descriptor of a plain float32 array with these element strides."""
        dims, steps = _Dims(*shape), _Dims(*strides)
        return self.make('dnnl_memory_desc_create_with_strides', len(shape), dims, _F32, steps)

    def any_md(self, shape, data_type=_F32):
        """Memory descriptor that lets the primitive choose the layout."""
        return self.make('dnnl_memory_desc_create_with_tag', len(shape), _Dims(*shape), data_type, _FORMAT_ANY)

    def implementation(self, pd):
        name = ctypes.c_char_p()
        self.call('dnnl_primitive_desc_query', pd, _QUERY_IMPL_INFO_STR, 0, ctypes.byref(name))
        return name.value.decode()


_library = None
reason = None


# GNU OpenMP's idle threads spin this many times for work before they sleep (300000 by default). On two
# cores shared with the Python thread between primitives, that spinning took more than half of a
# 2-thread training step; 10000 doubled the 2-CNN's (docs/speed.md). Read when libgomp loads, so set
# before the library; a user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY is left alone.
OPENMP_SPIN_COUNT = '10000'


def _load():
    global _library, reason
    if os.environ.get(SWITCH_VARIABLE, '1').strip().lower() in ('0', 'no', 'off', 'false'):
        reason = '{}={} turned it off'.format(SWITCH_VARIABLE, os.environ[SWITCH_VARIABLE])
        return
    if 'OMP_WAIT_POLICY' not in os.environ:
        os.environ.setdefault('GOMP_SPINCOUNT', OPENMP_SPIN_COUNT)
    path = default_library_path()
    try:
        _library = _Library(path)
    except (OSError, AttributeError, OnednnError) as error:
        reason = 'cannot load {}: {}'.format(path, error)


_load()
chainer.global_config.specae_onednn = True
# bfloat16 convolutions (see ``_Convolution``): ``chainer.config.specae_onednn_bf16``, off by default; the
# training scripts turn it on while their Trainer runs (``bf16_for_training``) unless SPECAE_ONEDNN_BF16=0.
# Everything else (inference, reports after training, the tests of float32) computes in float32, so a
# trained model gives the same answers on any machine.
BF16_VARIABLE = 'SPECAE_ONEDNN_BF16'
chainer.global_config.specae_onednn_bf16 = False


def bf16_for_training():
    """Whether training runs read bfloat16: unless ``SPECAE_ONEDNN_BF16`` says 0/no/off/false."""
    return os.environ.get(BF16_VARIABLE, '1').strip().lower() not in ('0', 'no', 'off', 'false')


def blas_on_one_thread():
    """A context in which numpy's BLAS (OpenBLAS) keeps to one thread while oneDNN runs the convolutions
    (``enabled()``), through threadpoolctl; elsewhere (the numpy convolutions of the fallback are BLAS
    products) one that changes nothing. What is left for BLAS in training is small (the fully connected
    layers' products, the varied images' 64 x 64 ones), and with two threads its idle worker busy-waits
    for the next product on the core that oneDNN's second OpenMP thread needs: a 2-CNN training step on
    2 cores took 3.42 ms with it and 3.06 ms without (docs/speed.md)."""
    if not enabled():
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1, user_api='blas')


def available():
    """Whether the library is loaded."""
    return _library is not None


def library_path():
    return _library.path if _library is not None else None


def fallback_line():
    """The line a training run prints when the library is not used, or None when it is."""
    if reason is None:
        return None
    return 'specae: oneDNN not used ({}); convolutions run on numpy (specae.fastconv)'.format(reason)


def enabled():
    """Whether convolutions go through oneDNN now: loaded and ``chainer.config.specae_onednn``."""
    return _library is not None and chainer.config.specae_onednn


# ---------------------------------------------------------------------------
# Layouts of numpy arrays
# ---------------------------------------------------------------------------

def _channels_last_strides(shape):
    n, c, h, w = shape
    return (h * w * c, 1, w * c, c)


def _channels_last(a):
    """The array as an NCHW-shaped view of a C-contiguous NHWC array: as it is if it already is one (this
    module's outputs, what element-wise functions make of them, any one-channel NCHW array), else
    copied. Every primitive here reads and writes activations in this layout: oneDNN's fast kernels take
    NHWC, and with an NCHW array (or with different layouts in and out) it offers only its GEMM-based or
    reference kernels, 3-100x slower on these shapes."""
    if a.transpose(0, 2, 3, 1).flags.c_contiguous:
        return a
    return numpy.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _empty_channels_last(shape):
    """An NCHW-shaped view of a new C-contiguous NHWC float32 array."""
    n, c, h, w = shape
    return numpy.empty((n, h, w, c), numpy.float32).transpose(0, 3, 1, 2)


def _contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


# ---------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------

def _preferred_implementation(lib, create):
    """A descriptor made by ``create()``, moved to the implementation used here: the first of oneDNN's
    direct JIT kernels (``jit:``, widest instruction set first) where one is offered, else oneDNN's own
    first choice.

    oneDNN lists its implementations best first by its own rules, but on these small-channel, stride-2
    shapes its first choice is often a ``brgconv_strided`` kernel that is slower: measured on the 2-core
    machine (AVX-512), one thread, batch 30, the backward-data of the 16 -> 32-channel layer took 2.5 ms
    with ``jit:avx512_core`` and 3.9 ms with ``brgconv_strided``, and the 1 -> 16-channel one 6.8 against
    10.0 ms; elsewhere the two were within 10 %. Timing every candidate at run time instead was tried: on a
    machine shared with other jobs it picked kernels 5x slower by chance, so the choice is a fixed rule.
    """
    pd = create()
    while not lib.implementation(pd).startswith('jit:'):
        if lib.lib.dnnl_primitive_desc_next_impl(pd) != _SUCCESS:
            lib.call('dnnl_primitive_desc_destroy', pd)
            return create()
    return pd


class _Primitive(object):
    """One oneDNN primitive, ready to run on numpy arrays in given plain layouts.

    ``create()`` makes its descriptor (see ``_preferred_implementation`` for the kernel chosen; with
    ``choose=False`` the descriptor is taken as made).
    ``user`` maps each argument (``ARG_*``) to the memory descriptor of the numpy array that will be
    passed for it. Where the primitive's own descriptor for that argument differs (the blocked weights
    layout of its kernels), a reorder primitive and a buffer are made once; inputs are reordered into the
    buffer before the primitive runs, outputs out of it after. Memory objects are made once and only
    their data pointers change from call to call, under a lock (a primitive's buffers serve one call at
    a time).
    """

    def __init__(self, lib, create, user, outputs, choose=True):
        self.lib = lib
        self.pd = pd = _preferred_implementation(lib, create) if choose else create()
        self.handle = lib.make('dnnl_primitive_create', pd)
        self.implementation = lib.implementation(pd)
        self.lock = threading.Lock()
        self.user_memory = {}
        self.reorders = []          # (primitive, exec args, is_output)
        self.own_memory = []        # the buffers of the reordered arguments
        exec_args = []
        for arg, user_md in user.items():
            memory = lib.make('dnnl_memory_create', user_md, lib.engine, None)
            self.user_memory[arg] = memory
            own_md = lib.lib.dnnl_primitive_desc_query_md(pd, _QUERY_EXEC_ARG_MD, arg)
            if lib.lib.dnnl_memory_desc_equal(user_md, own_md):
                exec_args.append((arg, memory))
                continue
            own = lib.make('dnnl_memory_create', own_md, lib.engine, _ALLOCATE)
            self.own_memory.append(own)
            is_output = arg in outputs
            source, target = ((own_md, user_md) if is_output else (user_md, own_md))
            reorder_pd = lib.make('dnnl_reorder_primitive_desc_create', source, lib.engine, target, lib.engine,
                                  None)
            reorder = lib.make('dnnl_primitive_create', reorder_pd)
            lib.call('dnnl_primitive_desc_destroy', reorder_pd)
            pair = (own, memory) if is_output else (memory, own)
            self.reorders.append((reorder, _exec_args([(ARG_SRC, pair[0]), (ARG_DST, pair[1])]), is_output))
            exec_args.append((arg, own))
        self.exec_args = _exec_args(exec_args)

    def release(self):
        """Frees what oneDNN allocated for it (the primitive is not used again)."""
        lib = self.lib
        for reorder, _, _ in self.reorders:
            lib.call('dnnl_primitive_destroy', reorder)
        for memory in list(self.user_memory.values()) + self.own_memory:
            lib.call('dnnl_memory_destroy', memory)
        lib.call('dnnl_primitive_destroy', self.handle)
        lib.call('dnnl_primitive_desc_destroy', self.pd)

    def __call__(self, arrays):
        """Runs on ``{ARG_*: numpy array}`` (the arrays in the layouts given when it was made)."""
        lib = self.lib
        with self.lock:
            for arg, array in arrays.items():
                lib.call('dnnl_memory_set_data_handle', self.user_memory[arg], array.ctypes.data)
            for reorder, args, is_output in self.reorders:
                if not is_output:
                    lib.call('dnnl_primitive_execute', reorder, lib.stream, 2, args)
            lib.call('dnnl_primitive_execute', self.handle, lib.stream, len(self.exec_args), self.exec_args)
            for reorder, args, is_output in self.reorders:
                if is_output:
                    lib.call('dnnl_primitive_execute', reorder, lib.stream, 2, args)
            lib.call('dnnl_stream_wait', lib.stream)


def _exec_args(pairs):
    array = (_ExecArg * len(pairs))()
    for slot, (arg, memory) in zip(array, pairs):
        slot.arg, slot.memory = arg, memory
    return array


def _pair(value):
    if hasattr(value, '__getitem__'):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _right_pad(size, k, s, pad, out):
    """Right (bottom) padding that gives ``out`` outputs from ``size`` inputs with left padding ``pad``:
    oneDNN asks for ``(size - k + pad + right) // s + 1 == out``. Any value from the least that reaches
    the last window to ``s - 1`` more does; ``pad`` itself where it is among them (a plain convolution),
    more where the output needs it (``cover_all``), less for the phase convolutions of
    ``_transposed_by_phases``."""
    least = (out - 1) * s + k - size - pad
    return max(least, min(pad, least + s - 1))


class _Convolution(object):
    """The primitives of one convolution shape: ``src (N, C, H, W)`` with ``weights (O, C, kh, kw)`` to
    ``dst (N, O, oh, ow)``, in given activation layouts (element strides of src and dst).

    The right padding is what makes the given output size: ``pad`` unless the output needs more
    (``cover_all``, i.e. a transposed convolution with a larger ``outsize``).

    With ``bf16`` each primitive reads its inputs (activations, weights, incoming gradients) rounded to
    bfloat16 and accumulates and writes float32, on AMX tiles (see ``bf16_wanted``); the rounding is a
    reorder of the float32 arrays into the primitive's own buffers, made by ``_Primitive``. A primitive for
    which oneDNN offers no AMX kernel is made in float32 instead.
    """

    def __init__(self, lib, src_shape, weight_shape, dst_shape, stride, pad, bf16=False):
        self.lib = lib
        (n, c, h, w), (o, _, kh, kw), (_, _, oh, ow) = src_shape, weight_shape, dst_shape
        (sy, sx), (ph, pw) = stride, pad
        right = (_right_pad(h, kh, sy, ph, oh), _right_pad(w, kw, sx, pw, ow))
        self.geometry = (_Dims(sy, sx), _Dims(0, 0), _Dims(ph, pw), _Dims(*right))
        self.src = lib.plain_md(src_shape, _channels_last_strides(src_shape))
        self.dst = lib.plain_md(dst_shape, _channels_last_strides(dst_shape))
        self.weights = lib.plain_md(weight_shape, _contiguous_strides(weight_shape))
        self.bias = lib.plain_md((o,), (1,))
        self.any_weights = lib.any_md(weight_shape)
        self.descriptors = [self.src, self.dst, self.weights, self.bias, self.any_weights]
        self.hint = self._forward_descriptor(self.src, self.any_weights, self.bias)
        self.bf16_inputs = None
        if bf16:
            # what the primitives read, in bfloat16 and the layouts their AMX kernels choose
            inputs = (lib.any_md(src_shape, _BF16), lib.any_md(weight_shape, _BF16), lib.any_md(dst_shape, _BF16))
            self.descriptors.extend(inputs)
            try:
                self.bf16_hint = self._forward_descriptor(*inputs[:2], self.bias)
                self.bf16_inputs = inputs
            except OnednnError:     # no bfloat16 convolution on this CPU (AVX2 and older): float32
                pass
        self.primitives = {}

    def _forward_descriptor(self, src, weights, bias, attr=None):
        return self.lib.make('dnnl_convolution_forward_primitive_desc_create', self.lib.engine, _FORWARD_TRAINING,
                             _CONVOLUTION_DIRECT, src, weights, bias, self.dst, *self.geometry, attr)

    def __del__(self):
        try:
            self.release()
        except Exception:       # at interpreter exit the library may be gone first
            pass

    def release(self):
        """Frees its primitives and descriptors (when the cache has dropped this shape and nothing uses it)."""
        for primitive in self.primitives.values():
            primitive.release()
        self.lib.call('dnnl_primitive_desc_destroy', self.hint)
        if self.bf16_inputs is not None:
            self.lib.call('dnnl_primitive_desc_destroy', self.bf16_hint)
        for md in self.descriptors:
            self.lib.call('dnnl_memory_desc_destroy', md)

    def primitive(self, kind, with_bias):
        """The primitive ``kind`` ('forward', 'forward_relu': the forward with a ReLU on its output,
        'backward_data', 'backward_weights'), made the first time it is asked for."""
        key = (kind, with_bias)
        made = self.primitives.get(key)
        if made is None:
            made = None if self.bf16_inputs is None else self._make(kind, with_bias, bf16=True)
            if made is None:
                made = self._make(kind, with_bias, bf16=False)
            self.primitives[key] = made
        return made

    def _make(self, kind, with_bias, bf16):
        """The primitive ``kind`` (see ``primitive``); with ``bf16`` on AMX, or None where oneDNN's first
        choice for it is not an AMX kernel."""
        lib = self.lib
        bias = self.bias if with_bias else None
        src, weights, dst = self.bf16_inputs if bf16 else (self.src, self.any_weights, self.dst)
        hint = self.bf16_hint if bf16 else self.hint
        if kind in ('forward', 'forward_relu'):
            attr = lib.relu_after if kind == 'forward_relu' else None

            def create():
                return self._forward_descriptor(src, weights, bias, attr)
            user = {ARG_SRC: self.src, ARG_WEIGHTS: self.weights, ARG_DST: self.dst}
            if with_bias:
                user[ARG_BIAS] = self.bias
            outputs = (ARG_DST,)
        elif kind == 'backward_data':
            def create():
                return lib.make('dnnl_convolution_backward_data_primitive_desc_create', lib.engine,
                                _CONVOLUTION_DIRECT, self.src, weights, dst, *self.geometry, hint, None)
            user = {ARG_DIFF_DST: self.dst, ARG_WEIGHTS: self.weights, ARG_DIFF_SRC: self.src}
            outputs = (ARG_DIFF_SRC,)
        else:
            def create():
                return lib.make('dnnl_convolution_backward_weights_primitive_desc_create', lib.engine,
                                _CONVOLUTION_DIRECT, src, self.any_weights, bias, dst, *self.geometry, hint, None)
            user = {ARG_SRC: self.src, ARG_DIFF_DST: self.dst, ARG_DIFF_WEIGHTS: self.weights}
            if with_bias:
                user[ARG_DIFF_BIAS] = self.bias
            outputs = (ARG_DIFF_WEIGHTS, ARG_DIFF_BIAS)
        if bf16:
            try:
                pd = create()
            except OnednnError:
                return None
            if 'amx' not in lib.implementation(pd):
                lib.call('dnnl_primitive_desc_destroy', pd)
                return None
            return _Primitive(lib, lambda: pd, user, outputs, choose=False)
        return _Primitive(lib, create, user, outputs)


_CACHE_SIZE = 64
_cache = collections.OrderedDict()
_cache_lock = threading.Lock()


def _cached(cache, key, make):
    """``cache[key]``, made by ``make()`` the first time; the least recently used beyond _CACHE_SIZE go."""
    with _cache_lock:
        made = cache.get(key)
        if made is None:
            made = cache[key] = make()
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)      # freed (``__del__``) once no call uses it any more
        else:
            cache.move_to_end(key)
        return made


def _convolution(src_shape, weight_shape, dst_shape, stride, pad):
    # oneDNN's kernels divide their work for the thread count at the time they are made and keep to it, so
    # primitives made for one count are not reused after it changes (threadpoolctl, omp_set_num_threads):
    # they would run a 2-thread training on 1 thread, or the reverse.
    key = (src_shape, weight_shape, dst_shape, stride, pad, _library.threads(), bf16_wanted(src_shape))
    return _cached(_cache, key, lambda: _Convolution(_library, *key[:5], bf16=key[6]))


# Below this many input channels a convolution stays in float32: with one input channel (the first layer,
# the decoder's last) AMX has nothing to multiply along its tiles' depth, and oneDNN's bfloat16 weight
# gradient of the 1 -> 16-channel layer took 0.39 ms against 0.19 in float32 (batch 30, one thread).
BF16_MIN_CHANNELS = 16


def bf16_wanted(src_shape):
    """Whether a convolution of this input shape reads bfloat16 (``chainer.config.specae_onednn_bf16``)."""
    return bool(chainer.config.specae_onednn_bf16) and src_shape[1] >= BF16_MIN_CHANNELS


_amx = None


def amx_available():
    """Whether oneDNN runs bfloat16 convolutions on AMX tiles on this CPU (asked once, of a 16-channel
    forward); where it does not, ``SPECAE_ONEDNN_BF16`` changes nothing."""
    global _amx
    if _amx is None:
        _amx = _library is not None and 'amx' in _Convolution(
            _library, (1, 16, 8, 8), (16, 16, 3, 3), (1, 16, 6, 6), (1, 1), (0, 0), bf16=True
        ).primitive('forward', False).implementation
    return _amx


def precision_line():
    """The line a training run prints when its convolutions read bfloat16, or None when they do not."""
    if not (enabled() and bf16_for_training() and amx_available()):
        return None
    return ('specae: oneDNN convolutions of {} or more input channels read bfloat16 on AMX and sum in float32 '
            '({}=0 keeps float32)'.format(BF16_MIN_CHANNELS, BF16_VARIABLE))


def implementations():
    """``{(kind, 'bf16' or 'f32', shapes...): oneDNN implementation name}`` of the primitives made so far (for
    reports; 'bf16' where their inputs were to be read in bfloat16, the primitive's name says if they are)."""
    with _cache_lock:
        return {(kind, 'bf16' if key[6] else 'f32') + key[:3]: primitive.implementation
                for key, convolution in _cache.items()
                for (kind, _), primitive in convolution.primitives.items()}


# ---------------------------------------------------------------------------
# The three operations on numpy arrays
# ---------------------------------------------------------------------------

def _output_size(h, w, kh, kw, stride, pad, cover_all):
    return (conv_utils.get_conv_outsize(h, kh, stride[0], pad[0], cover_all=cover_all),
            conv_utils.get_conv_outsize(w, kw, stride[1], pad[1], cover_all=cover_all))


def _needs_cover_all(small_shape, large_shape, ksize, stride, pad):
    """Whether a convolution of ``large_shape`` (N, C, H, W) to ``small_shape`` needs ``cover_all``: when the
    transposed convolution that made ``large_shape`` was given an outsize above its smallest, the plain
    convolution back covers the extra rows and columns only with it."""
    kh, kw = ksize
    return tuple(small_shape[2:]) != _output_size(large_shape[2], large_shape[3], kh, kw, stride, pad, False)


def forward(x, W, b, stride, pad, cover_all=False, relu=False):
    """Convolution of ``x (N, C, H, W)`` with ``W (O, C, kh, kw)`` (+ ``b``): an NCHW view of NHWC.
    ``x`` is read as it is if it is channels-last (see ``_channels_last``), else copied. With ``relu``,
    ``max(y, 0)`` in the same primitive (a NaN of ``y`` becomes 0 there, as in oneDNN's own ReLU)."""
    x = _channels_last(x)
    n, _, h, w = x.shape
    o, _, kh, kw = W.shape
    oh, ow = _output_size(h, w, kh, kw, stride, pad, cover_all)
    if oh <= 0 or ow <= 0:
        raise ValueError('convolution output size must be positive, got {}x{}'.format(oh, ow))
    y = _empty_channels_last((n, o, oh, ow))
    convolution = _convolution(x.shape, W.shape, y.shape, stride, pad)
    arrays = {ARG_SRC: x, ARG_WEIGHTS: numpy.ascontiguousarray(W), ARG_DST: y}
    if b is not None:
        arrays[ARG_BIAS] = numpy.ascontiguousarray(b)
    convolution.primitive('forward_relu' if relu else 'forward', b is not None)(arrays)
    return y


def backward_data(gy, W, out_hw, stride, pad):
    """Gradient of a convolution with respect to its input of size ``out_hw``, from ``gy``: the transposed
    convolution of ``gy (N, O, oh, ow)`` with ``W (O, C, kh, kw)``; an NCHW view of NHWC."""
    gy = _channels_last(gy)
    n, o, oh, ow = gy.shape
    if _by_phases(gy.shape, W.shape, out_hw, stride, pad):
        return _transposed_by_phases(gy, W, out_hw, stride, pad)
    gx = _empty_channels_last((n, W.shape[1]) + tuple(out_hw))
    convolution = _convolution(gx.shape, W.shape, gy.shape, stride, pad)
    convolution.primitive('backward_data', False)(
        {ARG_DIFF_DST: gy, ARG_WEIGHTS: numpy.ascontiguousarray(W), ARG_DIFF_SRC: gx})
    return gx


# Transposed convolutions with few output channels go by phases (when the sy*sx*C channels of the phase
# convolution fit in one 16-channel block): oneDNN's backward-data kernels are slow for them. Measured,
# one thread, batch 30, 6x6 kernels, stride 2 (bench of the 2-core machine, loaded): 16 -> 1 channel,
# 30x30 -> 64x64, 3.3 ms direct, 1.5 ms by phases; 32 -> 16 channels, 13x13 -> 30x30, 1.4 ms direct,
# 1.7 ms by phases.
_PHASES_MAX_CHANNELS = 16


def _phase_grid(out_hw, stride, pad):
    """Rows and columns of each phase: ``ceil((H + ph) / sy)`` by ``ceil((W + pw) / sx)``."""
    return tuple(-(-(size + p) // s) for size, s, p in zip(out_hw, stride, pad))


def _by_phases(gy_shape, w_shape, out_hw, stride, pad):
    """Whether a transposed convolution goes by phases: strided, few output channels, and a phase grid
    that covers ``gy`` (no rows of ``gy`` to drop, which a stride-1 convolution cannot do by padding)."""
    grid = _phase_grid(out_hw, stride, pad)
    return (stride != (1, 1) and w_shape[1] * stride[0] * stride[1] <= _PHASES_MAX_CHANNELS
            and grid[0] >= gy_shape[2] and grid[1] >= gy_shape[3])


def _phase_weights(W, sy, sx):
    """Weights ``(sy*sx*C, O, ay, ax)`` of the phase convolution of ``W (O, C, kh, kw)``: output channel
    ``(r, q, c)``, input channel ``o``, tap ``(u, v)`` holds ``W[o, c, sy*(ay-1-u) + r, sx*(ax-1-v) + q]``
    (zero outside the kernel)."""
    o, c, kh, kw = W.shape
    ay, ax = -(-kh // sy), -(-kw // sx)
    padded = numpy.zeros((o, c, ay * sy, ax * sx), numpy.float32)
    padded[:, :, :kh, :kw] = W
    taps = padded.reshape(o, c, ay, sy, ax, sx)[:, :, ::-1, :, ::-1, :]     # (o, c, u, r, v, q)
    return numpy.ascontiguousarray(taps.transpose(3, 5, 1, 0, 2, 4)).reshape(sy * sx * c, o, ay, ax)


def _transposed_by_phases(gy, W, out_hw, stride, pad):
    """The transposed convolution as ``sy*sx`` stride-1 convolutions, one per output phase, done as one.

    Output pixel ``Y = sy*Y' + r`` only sees kernel rows ``i = sy*a + r`` and input rows ``Y' - a``, so
    phase ``(r, q)`` is a stride-1 convolution of ``gy`` (zero-padded by ``ay - 1`` on the left) with an
    ``ay x ax`` sub-kernel; with the phases as output channels that is one oneDNN forward convolution on a
    grid of ``ceil((H + ph) / sy)`` rows, then one copy that interleaves the phases and crops the padding.
    """
    n, o, oh, ow = gy.shape
    c, kh, kw = W.shape[1:]
    (sy, sx), (ph, pw), (h, w) = stride, pad, out_hw
    ay, ax = -(-kh // sy), -(-kw // sx)
    grid = _phase_grid(out_hw, stride, pad)
    weights = _phase_weights(W, sy, sx)
    phases = _empty_channels_last((n, sy * sx * c) + grid)
    convolution = _convolution(gy.shape, weights.shape, phases.shape, (1, 1), (ay - 1, ax - 1))
    convolution.primitive('forward', False)({ARG_SRC: gy, ARG_WEIGHTS: weights, ARG_DST: phases})
    interleaved = phases.transpose(0, 2, 3, 1).reshape(n, grid[0], grid[1], sy, sx, c).transpose(0, 1, 3, 2, 4, 5)
    gx = _empty_channels_last((n, c, h, w))
    gx.transpose(0, 2, 3, 1)[...] = interleaved.reshape(n, grid[0] * sy, grid[1] * sx, c)[:, ph:ph + h, pw:pw + w]
    return gx


def backward_weights(x, gy, ksize, stride, pad, with_bias):
    """``(gW, gb)`` of a convolution of ``x`` whose output gradient is ``gy`` (``gb`` None unless asked)."""
    x, gy = _channels_last(x), _channels_last(gy)
    shape = (gy.shape[1], x.shape[1]) + tuple(ksize)
    gW = numpy.empty(shape, numpy.float32)
    gb = numpy.empty(shape[0], numpy.float32) if with_bias else None
    convolution = _convolution(x.shape, shape, gy.shape, stride, pad)
    arrays = {ARG_SRC: x, ARG_DIFF_DST: gy, ARG_DIFF_WEIGHTS: gW}
    if with_bias:
        arrays[ARG_DIFF_BIAS] = gb
    convolution.primitive('backward_weights', with_bias)(arrays)
    return gW, gb


# ---------------------------------------------------------------------------
# Function nodes
# ---------------------------------------------------------------------------

def _split(inputs):
    return inputs[0], inputs[1], (inputs[2] if len(inputs) == 3 else None)


def _check_types(in_types, channel_axis_of_w, out_axis_of_w):
    n_in = in_types.size()
    chainer.utils.type_check.expect(2 <= n_in, n_in <= 3)
    x_type, w_type = in_types[:2]
    chainer.utils.type_check.expect(
        x_type.dtype == numpy.float32,
        w_type.dtype == numpy.float32,
        x_type.ndim == 4,
        w_type.ndim == 4,
        x_type.shape[1] == w_type.shape[channel_axis_of_w],
    )
    if chainer.utils.type_check.eval(n_in) == 3:
        b_type = in_types[2]
        chainer.utils.type_check.expect(
            b_type.dtype == numpy.float32, b_type.ndim == 1, b_type.shape[0] == w_type.shape[out_axis_of_w])


class _ChannelSum(function_node.FunctionNode):
    """``gy.sum(axis=(0, 2, 3))``, the bias gradient of a transposed convolution. numpy sums an NHWC
    buffer over its leading axes at a quarter of the speed it sums an NCHW one (0.57 against 0.12 ms,
    30x16x30x30), so a channels-last ``gy`` is summed as a product with a vector of ones (BLAS)."""

    def forward(self, inputs):
        gy, = inputs
        self.shape = gy.shape
        if gy.flags.c_contiguous:
            return gy.sum(axis=(0, 2, 3)),
        rows = _channels_last(gy).transpose(0, 2, 3, 1).reshape(-1, gy.shape[1])
        return numpy.ones(rows.shape[0], gy.dtype).dot(rows),

    def backward(self, indexes, grad_outputs):
        g, = grad_outputs
        return F.broadcast_to(F.reshape(g, (1, -1, 1, 1)), self.shape),


def _bias_gradient(gy):
    return _ChannelSum().apply((gy,))[0]


def _channels_last_of(array, hint):
    """``hint`` (a channels-last copy of ``array`` already made by another node of the same step) if it
    fits, else ``array`` as ``_channels_last`` makes it (None stays None)."""
    if array is None:
        return None
    return hint if hint is not None and hint.shape == array.shape else _channels_last(array)


class _Node(function_node.FunctionNode):
    """What the three nodes share: stride and padding, and channels-last copies of their two array
    inputs (``hints``) handed over from the node that made them.

    An activation that is not channels-last (cached features or a batch of data, a gradient coming
    from a fully connected layer or a loss) would otherwise be copied by each node that reads it: the
    forward and the weight gradient of a convolution both read its input, the input and the weight
    gradients both read the output gradient. The copy is made once and kept on the node (``copies``)
    until its backward hands it to the nodes that need it.
    """

    def __init__(self, stride, pad, hints=(None, None)):
        self.stride, self.pad = _pair(stride), _pair(pad)
        self.hints = hints
        self.copies = (None, None)

    def channels_last_inputs(self, first, second):
        """The two array inputs channels-last; copies made here are kept in ``copies``."""
        converted = tuple(_channels_last_of(array, hint) for array, hint in zip((first, second), self.hints))
        self.hints = (None, None)
        self.copies = tuple(None if new is old else new for new, old in zip(converted, (first, second)))
        return converted

    def take_copies(self):
        copies, self.copies = self.copies, (None, None)
        return copies


class Convolution2DFunction(_Node):
    """2-D convolution through oneDNN (inputs ``x, W[, b]``, float32 numpy arrays).

    ``cover_all`` is for the backward of a transposed convolution whose ``outsize`` is not the minimal one.
    """

    def __init__(self, stride=1, pad=0, cover_all=False, x_hint=None):
        super(Convolution2DFunction, self).__init__(stride, pad, (x_hint, None))
        self.cover_all = bool(cover_all)

    def check_type_forward(self, in_types):
        _check_types(in_types, 1, 0)

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, W, b = _split(inputs)
        x, _ = self.channels_last_inputs(x, None)
        return forward(x, W, b, self.stride, self.pad, self.cover_all),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        x_copy, _ = self.take_copies()
        gy_channels_last = _channels_last(gy.array)
        gradients = {}
        if 0 in indexes:
            gradients[0], = Deconvolution2DFunction(self.stride, self.pad, outsize=x.shape[2:],
                                                    x_hint=gy_channels_last).apply((gy, W))
        if 1 in indexes or 2 in indexes:
            wanted = Convolution2DGradW(W.shape[2:], self.stride, self.pad, with_bias=2 in indexes,
                                        hints=(x_copy, gy_channels_last)).apply((x, gy))
            gradients[1] = wanted[0]
            if 2 in indexes:
                gradients[2] = wanted[1]
        return [gradients[i] for i in indexes]


class Deconvolution2DFunction(_Node):
    """2-D transposed convolution through oneDNN (inputs ``x, W[, b]``, ``W (in, out, kh, kw)``)."""

    def __init__(self, stride=1, pad=0, outsize=None, x_hint=None):
        super(Deconvolution2DFunction, self).__init__(stride, pad, (x_hint, None))
        outsize = (None, None) if outsize is None else outsize
        self.outsize = tuple(None if size is None else int(size) for size in outsize)

    def _outsize(self, x_shape, w_shape):
        return tuple(conv_utils.get_deconv_outsize(x_shape[axis], w_shape[axis], self.stride[axis - 2],
                                                   self.pad[axis - 2]) if size is None else size
                     for axis, size in ((2, self.outsize[0]), (3, self.outsize[1])))

    def check_type_forward(self, in_types):
        _check_types(in_types, 0, 1)
        x_type, w_type = in_types[:2]
        for axis, size in ((2, self.outsize[0]), (3, self.outsize[1])):
            if size is not None:
                k, s, p = w_type.shape[axis], self.stride[axis - 2], self.pad[axis - 2]
                chainer.utils.type_check.expect(
                    conv_utils.get_conv_outsize(size, k, s, p) <= x_type.shape[axis],
                    x_type.shape[axis] <= conv_utils.get_conv_outsize(size, k, s, p, cover_all=True))

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, W, b = _split(inputs)
        out_hw = self._outsize(x.shape, W.shape)
        if out_hw[0] <= 0 or out_hw[1] <= 0:
            raise ValueError('deconvolution output size must be positive, got {}x{}'.format(*out_hw))
        x, _ = self.channels_last_inputs(x, None)
        y = backward_data(x, W, out_hw, self.stride, self.pad)
        if b is not None:
            y.transpose(0, 2, 3, 1)[...] += b       # the NHWC buffer: b runs along its last axis
        return y,

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        x_copy, _ = self.take_copies()
        gy_channels_last = _channels_last(gy.array)
        cover_all = _needs_cover_all(x.shape, gy.shape, W.shape[2:], self.stride, self.pad)
        gradients = {}
        if 0 in indexes:
            gradients[0], = Convolution2DFunction(self.stride, self.pad, cover_all,
                                                  x_hint=gy_channels_last).apply((gy, W))
        if 1 in indexes:
            gradients[1], = Convolution2DGradW(W.shape[2:], self.stride, self.pad,
                                               hints=(gy_channels_last, x_copy)).apply((gy, x))
        if 2 in indexes:
            gradients[2] = _bias_gradient(gy)
        return [gradients[i] for i in indexes]


class Convolution2DGradW(_Node):
    """Weight (and with ``with_bias`` bias) gradient of a convolution: inputs ``(x, gy)`` -> ``gW[, gb]``."""

    def __init__(self, ksize, stride=1, pad=0, with_bias=False, hints=(None, None)):
        super(Convolution2DGradW, self).__init__(stride, pad, hints)
        self.ksize = _pair(ksize)
        self.with_bias = bool(with_bias)

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, gy = self.channels_last_inputs(*inputs)
        self.copies = (None, None)      # not needed again: its backward reads other arrays
        gW, gb = backward_weights(x, gy, self.ksize, self.stride, self.pad, self.with_bias)
        return (gW, gb) if self.with_bias else (gW,)

    def backward(self, indexes, grad_outputs):
        x, gy = self.get_retained_inputs()
        ggW = grad_outputs[0]
        ggb = grad_outputs[1] if self.with_bias else None
        gradients = {}
        if 0 in indexes:
            gradients[0], = Deconvolution2DFunction(self.stride, self.pad, outsize=x.shape[2:]).apply((gy, ggW))
        if 1 in indexes:
            cover_all = _needs_cover_all(gy.shape, x.shape, self.ksize, self.stride, self.pad)
            args = (x, ggW) if ggb is None else (x, ggW, ggb)
            gradients[1], = Convolution2DFunction(self.stride, self.pad, cover_all).apply(args)
        return [gradients[i] for i in indexes]


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

class _ReLUPrimitives(object):
    """oneDNN's ReLU forward and backward for arrays of ``size`` elements, read as one run of memory: an
    element-wise function does not care about the layout as long as all its arrays share it."""

    def __init__(self, lib, size):
        self.lib = lib
        self.md = md = lib.plain_md((size,), (1,))

        def create_forward():
            return lib.make('dnnl_eltwise_forward_primitive_desc_create', lib.engine, _FORWARD_TRAINING,
                            _ELTWISE_RELU_USE_DST_FOR_BWD, md, md, 0.0, 0.0, None)
        self.hint = create_forward()

        def create_backward():
            return lib.make('dnnl_eltwise_backward_primitive_desc_create', lib.engine, _ELTWISE_RELU_USE_DST_FOR_BWD,
                            md, md, md, 0.0, 0.0, self.hint, None)
        self.forward = _Primitive(lib, create_forward, {ARG_SRC: md, ARG_DST: md}, outputs=(ARG_DST,))
        self.backward = _Primitive(lib, create_backward, {ARG_DST: md, ARG_DIFF_DST: md, ARG_DIFF_SRC: md},
                                   outputs=(ARG_DIFF_SRC,))

    def __del__(self):
        try:
            for primitive in (self.forward, self.backward):
                primitive.release()
            self.lib.call('dnnl_primitive_desc_destroy', self.hint)
            self.lib.call('dnnl_memory_desc_destroy', self.md)
        except Exception:       # at interpreter exit the library may be gone first
            pass


_relu_cache = collections.OrderedDict()


def _relu_primitives(size):
    # made for a thread count, like the convolutions
    return _cached(_relu_cache, (size, _library.threads()), lambda: _ReLUPrimitives(_library, size))


def _memory_run(a):
    """``a``'s elements in memory order as a 1-D view (no copy), or None where they are not one run."""
    flat = a.ravel(order='K')
    return flat if numpy.shares_memory(flat, a) else None


def _relu_into(x, y):
    """``y[...] = max(x, 0)`` by oneDNN's ReLU (``y`` in ``x``'s layout, or ``x`` itself: it runs in place);
    True where ``x`` holds a NaN. oneDNN's ReLU turns a NaN into 0 (a max instruction); numpy's and Chainer's
    keep it, and a NaN must reach the loss so that a diverging run stops before its model is written. One max
    over the input finds one (about a quarter of the ReLU's own time); such an array goes to numpy instead."""
    x_run = _memory_run(x)
    has_nan = bool(numpy.isnan(x_run.max()))
    if has_nan:
        numpy.maximum(x, 0, out=y)
    else:
        _relu_primitives(x.size).forward({ARG_SRC: x_run, ARG_DST: _memory_run(y)})
    return has_nan


class ReLU(function_node.FunctionNode):
    """``max(x, 0)`` through oneDNN, the output in the input's layout, a NaN kept as numpy keeps it; float32
    numpy arrays whose elements are one run of memory (C-contiguous or channels-last: ``relu`` checks)."""

    def forward(self, inputs):
        x, = inputs
        y = numpy.empty_like(x)        # the same layout (order 'K')
        self.has_nan = _relu_into(x, y)
        self.retain_outputs((0,))
        return y,

    def backward(self, indexes, grad_outputs):
        y, = self.get_retained_outputs()
        return ReLUGrad(y.array, self.has_nan).apply(grad_outputs)


class ReLUGrad(function_node.FunctionNode):
    """The ReLU's gradient ``gy`` where its output ``y`` > 0, else 0, in ``y``'s layout: a ``gy`` in another
    layout is copied into it first (once, at memory speed). Where ``y`` holds a NaN, numpy's ``gy * (y > 0)``
    as Chainer's (oneDNN's passes ``gy`` through at a NaN)."""

    def __init__(self, y, has_nan=False):
        self.y, self.has_nan = y, has_nan

    def forward(self, inputs):
        gy, = inputs
        if self.has_nan:
            return gy * (self.y > 0),
        if gy.strides != self.y.strides:
            same_layout = numpy.empty_like(self.y)
            same_layout[...] = gy
            gy = same_layout
        gx = numpy.empty_like(self.y)
        _relu_primitives(gx.size).backward(
            {ARG_DST: _memory_run(self.y), ARG_DIFF_DST: _memory_run(gy), ARG_DIFF_SRC: _memory_run(gx)})
        return gx,

    def backward(self, indexes, grad_outputs):
        return ReLUGrad(self.y, self.has_nan).apply(grad_outputs)


def relu(x):
    """Like :func:`chainer.functions.relu`: through oneDNN for a float32 numpy array whose elements are one
    run of memory (what the convolutions here return), the stock function otherwise."""
    a = x.array if isinstance(x, chainer.Variable) else x
    if (not enabled() or type(a) is not numpy.ndarray or a.dtype != numpy.float32 or a.size == 0
            or _memory_run(a) is None):
        return F.relu(x)
    y, = ReLU().apply((x,))
    return y


# A bound on every sum of a stack's layers at or below which float32 cannot overflow, with room for rounding
# (a sum of n float32 terms can exceed the exact sum of their magnitudes by a factor of about 1 + n * 2**-24).
_LARGEST_SAFE_SUM = float(numpy.finfo(numpy.float32).max) / 2


def _cannot_overflow(x, weights, biases):
    """Whether no output of a stack of convolutions and transposed convolutions with ReLUs can be NaN or
    infinite, by a bound on the magnitudes: each output of a layer is its bias plus a sum of products of
    inputs and weights, each weight at most once, so ``|y| <= max|x| * sum|W| + max|b|``, and the ReLU keeps
    that bound for the next layer. A NaN can only come from a NaN or an infinity in ``x`` or a parameter, or
    from a sum that overflows; where the bound stays finite and below ``_LARGEST_SAFE_SUM`` neither can happen
    (a NaN anywhere makes the bound NaN, which fails the test). Costs two passes over ``x`` and one over each
    parameter: less than the pass over each layer's output that ``_relu_into`` makes to find a NaN."""
    bound = float(numpy.maximum(x.max(), -x.min())) if x.size else 0.0
    for W, b in zip(weights, biases):
        bound = bound * float(numpy.abs(W).sum()) + (float(numpy.abs(b).max()) if b.size else 0.0)
        if not bound <= _LARGEST_SAFE_SUM:
            return False
    return bound <= _LARGEST_SAFE_SUM


StackLayer = collections.namedtuple('StackLayer', 'transposed stride pad outsize')
StackLayer.__doc__ = """One layer of a ``ConvolutionReLUStack``: a convolution, or with ``transposed`` a transposed
convolution to ``outsize`` (``(H, W)``, either None for the smallest, as the link's), then a ReLU."""


class ConvolutionReLUStack(function_node.FunctionNode):
    """``relu(layer_n(... relu(layer_1(x))))`` as one node, each layer a convolution or a transposed
    convolution with a bias (``StackLayer``): inputs ``x, W1, b1, ..., Wn, bn``, float32 numpy arrays.

    The same oneDNN primitives in the same order as ``n`` convolution and ``n`` ReLU nodes, so the same
    values and gradients bit for bit; what it saves is Chainer's work per node (a 3-CNN training step
    applied 22 function nodes, 10 with this; an autoencoder layer's 15, 7). Each layer's input and output
    are kept on the node until its backward, which is first order only (``StackGradient``).
    """

    def __init__(self, layers):
        self.layers = [StackLayer(bool(layer.transposed), _pair(layer.stride), _pair(layer.pad), layer.outsize)
                       for layer in layers]

    def check_type_forward(self, in_types):
        chainer.utils.type_check.expect(in_types.size() == 1 + 2 * len(self.layers))
        for in_type in in_types:
            chainer.utils.type_check.expect(in_type.dtype == numpy.float32)

    def forward(self, inputs):
        self.retain_inputs(tuple(range(len(inputs))))
        self.activations, self.has_nan = [_channels_last(inputs[0])], []
        # Where no sum can overflow, no layer makes a NaN, so a convolution's ReLU can run inside its primitive
        # (see _cannot_overflow); otherwise each output goes through _relu_into, which keeps a NaN. Proving it
        # costs a pass over the input, so only where the first layer's output is the larger (the classifiers
        # and AE1: 4096-element images to 14400-element maps; AE2 and AE3 read more than they write).
        fused = (not self.layers[0].transposed and self._first_output_size(inputs) > inputs[0].size
                 and _cannot_overflow(inputs[0], inputs[1::2], inputs[2::2]))
        for index, layer in enumerate(self.layers):
            x, W, b = self.activations[-1], inputs[1 + 2 * index], inputs[2 + 2 * index]
            if layer.transposed:
                out_hw = Deconvolution2DFunction(layer.stride, layer.pad, layer.outsize)._outsize(x.shape, W.shape)
                y = backward_data(x, W, out_hw, layer.stride, layer.pad)
                y.transpose(0, 2, 3, 1)[...] += b       # as Deconvolution2DFunction adds it
                ran_relu = False
            else:
                y = forward(x, W, b, layer.stride, layer.pad, relu=fused)
                ran_relu = fused
            # in place: the convolution's output is not needed again
            self.has_nan.append(False if ran_relu else _relu_into(y, y))
            self.activations.append(y)
        return self.activations[-1],

    def _first_output_size(self, inputs):
        (n, _, h, w), (o, _, kh, kw), layer = inputs[0].shape, inputs[1].shape, self.layers[0]
        oh, ow = _output_size(h, w, kh, kw, layer.stride, layer.pad, False)
        return n * o * oh * ow

    def backward(self, indexes, grad_outputs):
        # the inputs go in too, so that a second derivative reaches StackGradient's backward and fails there
        return StackGradient(self, indexes).apply(tuple(grad_outputs) + self.get_retained_inputs())


class StackGradient(function_node.FunctionNode):
    """The gradients of a ``ConvolutionReLUStack`` with respect to its inputs ``indexes``, in one node: inputs
    the gradient of its output and the stack's own inputs (its backward, a second derivative, is not
    implemented). Each layer's gradients are computed as the nodes of ``Convolution2DFunction.backward`` and
    ``Deconvolution2DFunction.backward`` compute them."""

    def __init__(self, node, indexes):
        # not self.stack: FunctionNode.stack is Chainer's (the traceback kept in debug mode)
        self.node, self.indexes = node, indexes

    def forward(self, inputs):
        gy, weights = inputs[0], inputs[2::2]
        stack, wanted = self.node, set(self.indexes)
        activations, stack.activations = stack.activations, None
        gradients = {}
        for index in reversed(range(len(weights))):
            layer, W, x = stack.layers[index], weights[index], activations[index]
            g = _channels_last(ReLUGrad(activations[index + 1], stack.has_nan[index]).forward((gy,))[0])
            if index > 0 or 0 in wanted:
                if layer.transposed:
                    cover_all = _needs_cover_all(x.shape, g.shape, W.shape[2:], layer.stride, layer.pad)
                    gy = forward(g, W, None, layer.stride, layer.pad, cover_all)
                else:
                    gy = backward_data(g, W, x.shape[2:], layer.stride, layer.pad)
                if index == 0:
                    gradients[0] = gy                   # of x; above it, of the layer below's output
            if 1 + 2 * index in wanted or 2 + 2 * index in wanted:
                if layer.transposed:
                    gW = backward_weights(g, x, W.shape[2:], layer.stride, layer.pad, with_bias=False)[0]
                    gb = _ChannelSum().forward((g,))[0]
                else:
                    gW, gb = backward_weights(x, g, W.shape[2:], layer.stride, layer.pad, with_bias=True)
                gradients[1 + 2 * index], gradients[2 + 2 * index] = gW, gb
        return tuple(gradients[index] for index in self.indexes)

    def backward(self, indexes, grad_outputs):
        raise NotImplementedError('second derivatives of specae.onednn.ConvolutionReLUStack')


def convolution_relu_stack(x, parameters, layers):
    """``relu(layer(...))`` for each ``StackLayer`` of ``layers`` in turn with its ``(W, b)`` of
    ``parameters``, as one node."""
    inputs = [x]
    for W, b in parameters:
        inputs += [W, b]
    y, = ConvolutionReLUStack(layers).apply(inputs)
    return y


class MeanSquaredError(F.loss.mean_squared_error.MeanSquaredError):
    """Chainer's mean squared error, its difference read in memory order: ``ravel()`` copies an NHWC view
    into NCHW order first (an autoencoder's output and its cached features are both channels-last), and
    the gradient made in two passes instead of three (the same values where the loss's own gradient is 1,
    as in training; the loss itself may differ from Chainer's in its last bits, the sum being in another
    order)."""

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        diff = inputs[0] - inputs[1]          # in the inputs' common layout (order 'K')
        flat = diff.ravel(order='K')
        return numpy.array(flat.dot(flat) / flat.size, dtype=diff.dtype),

    def backward(self, indexes, grad_outputs):
        return SquaredErrorGradient(indexes).apply(self.get_retained_inputs() + tuple(grad_outputs))


class SquaredErrorGradient(function_node.FunctionNode):
    """``MeanSquaredError``'s gradients with respect to its inputs ``indexes``, from ``x0, x1, gy``, in one node:
    ``(x0 - x1) * (gy * 2 / size)`` and its negation, the arrays that Chainer's expressions ``diff *
    F.broadcast_to(gy * (2. / diff.size), diff.shape)`` and ``-gx0`` give element for element (a
    ``MulConstant`` casts the constant to float32 first), without their four nodes (about a tenth of an
    AE3 training step). Its own backward, for second derivatives, is written with Chainer's functions."""

    def __init__(self, indexes):
        self.indexes = indexes

    def forward(self, inputs):
        self.retain_inputs((0, 1, 2))
        x0, x1, gy = inputs
        diff = x0 - x1
        gx0 = diff * (numpy.float32(2. / diff.size) * gy)
        return tuple(gx0 if index == 0 else -gx0 for index in self.indexes)

    def backward(self, indexes, grad_outputs):
        x0, x1, gy = self.get_retained_inputs()
        # d gx0 = (dx0 - dx1) * c + diff * dc with c = gy * 2 / size; gx1 = -gx0
        g = None
        for index, grad in zip(self.indexes, grad_outputs):
            if grad is not None:
                term = grad if index == 0 else -grad
                g = term if g is None else g + term
        if g is None:
            return [None] * len(indexes)
        scale = 2. / x0.size
        c = F.broadcast_to(gy * scale, x0.shape)
        gradients = {0: g * c, 1: -(g * c), 2: F.sum(g * (x0 - x1)) * scale}
        return [gradients[index] for index in indexes]


def mean_squared_error(x0, x1):
    """Like :func:`chainer.functions.mean_squared_error` (``MeanSquaredError`` for numpy arrays)."""
    arrays = [a.array if isinstance(a, chainer.Variable) else a for a in (x0, x1)]
    if not all(type(a) is numpy.ndarray for a in arrays):
        return F.mean_squared_error(x0, x1)
    loss, = MeanSquaredError().apply((x0, x1))
    return loss


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------

@chainer.dataset.converter()
def concat_examples(batch, device=None, padding=None):
    """``chainer.dataset.concat_examples``, with each 4-D float32 numpy array of more than one channel (a
    batch of cached features) made channels-last, the layout the convolutions here read and write (an
    NCHW-shaped view, the same values). The loss and the element-wise functions then see one layout:
    with NCHW batches and NHWC outputs numpy's element-wise loops run at a fraction of their speed, and
    an AE2 training step took 13.4 ms of CPU time instead of 11.8 (AE3: 5.1 against 4.6; one thread,
    batch 30, the loaded 2-core machine). Examples that are channels-last already (CHW views of HWC
    memory, as ``specae.greedy`` caches the frozen layers' features) come out of numpy's concatenation
    in that layout: one copy, where NCHW examples take a second, transposing one. Unchanged where oneDNN
    is not in use."""
    arrays = chainer.dataset.concat_examples(batch, device, padding)
    if not enabled():
        return arrays
    if isinstance(arrays, tuple):
        return tuple(_batch_channels_last(a) for a in arrays)
    if isinstance(arrays, dict):
        return {key: _batch_channels_last(a) for key, a in arrays.items()}
    return _batch_channels_last(arrays)


def _batch_channels_last(a):
    if type(a) is numpy.ndarray and a.ndim == 4 and a.shape[1] > 1 and a.dtype == numpy.float32:
        return _channels_last(a)
    return a


# ---------------------------------------------------------------------------
# Dispatching functions
# ---------------------------------------------------------------------------

def takes(x, W, b=None):
    """Whether these inputs (arrays or variables) go through oneDNN: float32 numpy, backend enabled."""
    if not enabled():
        return False
    for a in (x, W) if b is None else (x, W, b):
        a = a.array if isinstance(a, chainer.Variable) else a
        if type(a) is not numpy.ndarray or a.dtype != numpy.float32:
            return False
    return True


def function_inputs(x, W, b):
    """The inputs of a convolution FunctionNode: without a bias, two (also used by specae.fastconv)."""
    return (x, W) if b is None else (x, W, b)


def convolution_2d(x, W, b=None, stride=1, pad=0):
    """Like :func:`chainer.functions.convolution_2d` (no dilation or groups); float32 numpy inputs."""
    y, = Convolution2DFunction(stride, pad).apply(function_inputs(x, W, b))
    return y


def deconvolution_2d(x, W, b=None, stride=1, pad=0, outsize=None):
    """Like :func:`chainer.functions.deconvolution_2d` (no dilation or groups); float32 numpy inputs."""
    y, = Deconvolution2DFunction(stride, pad, outsize).apply(function_inputs(x, W, b))
    return y
