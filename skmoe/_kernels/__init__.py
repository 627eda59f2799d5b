"""Numba kernels: ``@njit(cache=True)`` functions on plain arrays, nothing else.

Every kernel assumes valid, finite, C-contiguous float64 input (the Python layer
normalises arrays with :func:`skmoe.utils._arrays.as_kernel_array` and validates
parameters first), never writes into its inputs and draws no random numbers.
Each has a NumPy twin in ``tests/_reference.py`` that it is tested against.
Importing this package compiles nothing: compilation happens on first call and
is cached on disk.
"""
