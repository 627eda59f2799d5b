"""Importing skmoe compiles nothing (Numba compiles lazily, on first call)."""

import subprocess
import sys

CODE = """
import importlib, pkgutil
import numba
import skmoe
import skmoe._kernels as kernels
compiled = []
n_dispatchers = 0
for info in pkgutil.iter_modules(kernels.__path__):
    mod = importlib.import_module(f"skmoe._kernels.{info.name}")
    for name, obj in vars(mod).items():
        if isinstance(obj, numba.core.registry.CPUDispatcher):
            n_dispatchers += 1
            if obj.signatures:
                compiled.append(name)
print(n_dispatchers, ",".join(compiled))
"""


def test_import_compiles_no_kernel():
    # a fresh interpreter: in this one the test suite has called the kernels
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True,
                         text=True, check=True).stdout.split()
    n_dispatchers = int(out[0])
    compiled = out[1] if len(out) > 1 else ""
    assert n_dispatchers >= 10  # the kernels were found
    assert compiled == "", f"compiled at import: {compiled}"
