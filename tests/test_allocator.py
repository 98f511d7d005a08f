"""specae.allocator: freed arrays come back from pages already touched, judged by the kernel's count of
page faults (getrusage), in fresh processes; large_array gives plain zeroed arrays."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Allocates and touches six 2 MiB arrays, then frees them together, 50 times (as a training step makes
# and drops its activations and gradients), and prints the minor page faults of the last 40: ~3000 each
# (12 MiB / 4 KiB) when glibc hands the free top of its heap back to the kernel, none when it keeps it.
PROBE = """
import resource, sys, numpy as np
from specae import allocator
print(allocator.keep_freed_memory() if sys.argv[1] == "keep" else "untouched")
def step():
    arrays = [np.empty(1 << 19, np.float32) for _ in range(6)]
    for a in arrays: a.fill(1.0)
    del arrays, a
for _ in range(10): step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40): step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def probe(mode, **environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(environment, PYTHONPATH=ROOT)
    lines = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return lines[0], int(lines[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator and getrusage's fault count")
def test_freed_arrays_are_reused_without_page_faults():
    untouched, faults_before = probe("untouched")
    kept, faults_after = probe("keep")
    assert kept == "True" and faults_after < 100
    assert faults_before > 40 * 1500  # glibc as it comes: the pages go back to the kernel at each free
    # a setting the user made through glibc's own variable is left alone
    refused, faults_user = probe("keep", MALLOC_TRIM_THRESHOLD_="0", MALLOC_MMAP_THRESHOLD_="65536")
    assert refused == "False" and faults_user > 40 * 1500


def test_large_arrays_are_plain_zeroed_writable_arrays():
    from specae import allocator
    import numpy as np
    a = allocator.large_array((3, 5, 7), np.float32)
    assert a.shape == (3, 5, 7) and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    assert not a.any()
    a[1, 2, 3] = 4.0
    assert a.sum() == 4.0 and allocator.large_array((0, 4), np.float64).shape == (0, 4)
