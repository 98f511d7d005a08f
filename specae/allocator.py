"""The C allocator, told to keep the memory a training step frees for the next step.

A training step allocates and frees the same few-megabyte arrays over and over: activations, gradients,
numpy's temporaries (ReLU's mask, Adam's updates). glibc's malloc serves a block above its mmap threshold
(128 KiB at first, raised as blocks are freed) with fresh pages from the kernel and hands them back when
the block is freed, and it trims the top of its heap whenever more than its trim threshold lies free
there. Every fresh page costs a page fault when first touched, one per 4 KiB: two epochs of the 3-CNN's
training script spent 1.7 of their 11 seconds in the kernel (docs/speed.md). ``specae.fastconv`` pools
its own large buffers for that reason; this setting covers every other array. The threshold above which
blocks come from the kernel is fixed at glibc's largest (32 MiB on 64-bit), and up to 64 MiB free at the
top of the heap are kept, so the step's arrays are served from pages already touched. The results are the
same bit for bit: only where the arrays lie changes.

Settings the user made through glibc's own variables (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) are left alone; on a C library without ``mallopt`` nothing changes.

``large_array`` is the other end: one large cache, filled once, in ordinary pages (see there).
"""
import ctypes
import ctypes.util
import mmap
import os

import numpy as np

# mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD_BYTES = 64 << 20
USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory():
    """Set glibc's mmap and trim thresholds as above, once per process; True when they were set."""
    if any(name in os.environ for name in USER_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def large_array(shape, dtype):
    """A new zeroed array of ``shape`` and ``dtype`` for a large cache that is filled once (``specae.greedy``'s
    features), in an anonymous map of ordinary 4 KiB pages (MADV_NOHUGEPAGE). numpy asks the kernel for
    transparent huge pages for every array of 4 MiB or more, and where the kernel's THP defrag setting is
    "madvise" (as on the development machine, a virtual machine) it compacts memory to find them at the
    page faults: AE2's 945 MB cache cost 2.2-2.5 s of system time that way, 0.5 s in 4 KiB pages, and its
    training steps, which read random rows of it, ran as fast either way. Freed with the array."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    memory = mmap.mmap(-1, max(1, count * dtype.itemsize), flags=mmap.MAP_PRIVATE)  # anonymous: no file (-1)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, dtype=dtype, count=count).reshape(shape)
