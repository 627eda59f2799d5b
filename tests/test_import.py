"""Importing skmoe compiles nothing (Numba compiles lazily, on first call)."""

import os
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


def test_import_loads_the_public_names_lazily():
    # `import skmoe` (and so `skmoe --help`, which must answer at once)
    # imports neither scikit-learn nor Numba; a public name loads its module
    code = ("import sys, skmoe; heavy = [m for m in ('sklearn', 'numba', 'scipy') "
            "if m in sys.modules]; from skmoe import MixtureOfExpertsRegressor; "
            "print(','.join(heavy), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["True"], out


def test_every_public_name_resolves():
    import skmoe

    for name in skmoe.__all__:
        assert getattr(skmoe, name) is not None
    assert set(skmoe.__all__) <= set(dir(skmoe))
    try:
        skmoe.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'not_a_name'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("skmoe.not_a_name resolved")
def test_import_loads_neither_numba_nor_the_kernels():
    # the kernel modules (and with them Numba) load on a kernel's first call,
    # sklearn.cluster on the first k-means start, sklearn.metrics on the first
    # score: import skmoe stays cheap
    code = ("import sys, skmoe; print(' '.join(sorted(m for m in sys.modules if "
            "m.split('.')[0] == 'numba' or m.startswith('skmoe._kernels.') "
            "or m.startswith(('sklearn.cluster', 'sklearn.metrics')))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True).stdout.split()
    assert loaded == []


def test_a_kernel_module_loads_on_first_access():
    code = ("import sys, skmoe._kernels as k; assert 'numba' not in sys.modules; "
            "f = k._linear.linear_expert_suffstats; "
            "print(type(f).__name__, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["CPUDispatcher", "True"]


def test_first_compilation_says_so_once(tmp_path):
    # an empty cache: the first kernel that compiles prints the notice, the
    # second does not; a second process loads both from the cache, silently
    code = ("import skmoe._kernels as k; k._chunks.chunk_bounds(10, 3); "
            "k._logspace.log_softmax_rows(__import__('numpy').zeros((2, 2)))")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, check=True, env=env).stderr
            for _ in range(2)]
    assert runs[0].count("skmoe: compiling") == 1, runs[0]
    assert "skmoe: compiling" not in runs[1], runs[1]


def test_the_estimator_import_loads_neither_numba_nor_the_kernels():
    # the estimator's modules reach their kernels through the lazy package
    # (``from .. import _kernels``): Numba loads at the first fit, not at
    # ``from skmoe import MixtureOfExpertsRegressor`` (a module importing a
    # kernel module directly made every estimator import load Numba)
    code = ("import sys; from skmoe import MixtureOfExpertsRegressor; "
            "print(' '.join(sorted(m for m in sys.modules if "
            "m.split('.')[0] == 'numba' or m.startswith('skmoe._kernels.') "
            "or m.startswith('sklearn.cluster'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True).stdout.split()
    assert loaded == []
