"""Numba kernels: ``@njit(cache=True)`` functions on plain arrays, nothing else.

Every kernel assumes valid, finite, C-contiguous float64 input (the Python layer
normalises arrays with :func:`skmoe.utils._arrays.as_kernel_array` and validates
parameters first), never writes into its inputs and draws no random numbers.
Each has a NumPy twin in ``tests/_reference.py`` that it is tested against.

**The kernel modules load on first use.** The rest of the package imports this
package only (``from .. import _kernels``) and reaches a kernel as
``_kernels._<module>.<kernel>`` where it calls it: the first such access
imports the module (:func:`__getattr__`), and with it Numba, so ``import skmoe``
imports neither (``tests/test_import.py``). Importing a kernel module compiles
nothing either: compilation happens on a kernel's first call and is cached on
disk (:mod:`skmoe.utils._numba_cache`).
"""

import importlib


def __getattr__(name):
    """Import the kernel module ``name`` on first access (PEP 562).

    Parameters
    ----------
    name : str
        A module of this package, such as ``"_linear"``.

    Returns
    -------
    module : module
        ``skmoe._kernels.<name>``, imported; Python then finds it as an
        attribute of the package, so this runs once per module.

    Raises
    ------
    AttributeError
        If the package has no such module.
    """
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
