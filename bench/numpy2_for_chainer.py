"""Lets Chainer 7.8.1 import and run on NumPy 2, for the GPU check on a machine whose Python is 3.12 with
NumPy 2 and CuPy 14 and cannot install the project's pins (bench/gpu_check.sh installs this file as
``sitecustomize``, which Python imports at start-up; nothing of the project imports it).

Chainer 7.8.1 predates NumPy 2 and Python 3.12: at import it reads ``numpy.distutils`` (not shipped for
Python 3.12) and ``numpy.sctypes`` (removed in NumPy 2.0), and ``F.resize_images`` uses ``numpy.float``
(removed in 1.24). Those three are put back as they were; the rest of NumPy is untouched."""
import sys
import types

import numpy

try:
    import numpy.distutils.system_info  # noqa: F401
except ImportError:
    # Chainer asks it only on macOS, for the BLAS that NumPy links (its Accelerate warning): nothing found
    system_info = types.ModuleType("numpy.distutils.system_info")
    system_info.get_info = lambda name, notfound_action=0: {}
    distutils = types.ModuleType("numpy.distutils")
    distutils.system_info = system_info
    sys.modules.update({"numpy.distutils": distutils, "numpy.distutils.system_info": system_info})

if int(numpy.__version__.split(".")[0]) >= 2:
    numpy.sctypes = {"int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
                     "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
                     "float": [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
                     "complex": [numpy.complex64, numpy.complex128, numpy.clongdouble],
                     "others": [bool, object, bytes, str, numpy.void]}
    numpy.float = float
