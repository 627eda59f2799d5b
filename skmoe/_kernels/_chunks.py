"""Fixed row chunks for parallel kernels with thread-count-independent sums.

Also the packed outer product, and its unpacking, shared by the kernels that
accumulate symmetric matrices.

A parallel kernel splits the rows into ``N_CHUNKS`` contiguous chunks, a
number that does not depend on the Numba thread count; each ``prange``
iteration reduces one chunk serially into its own slot of a per-chunk array,
and the slots are then added serially in chunk order. Every floating-point
operation and its order are therefore the same with 1, 2 or 64 threads, so
results are bit-identical whatever the thread count (a reduction variable
inside ``prange`` would not be).
"""

import numpy as np

from ..utils._numba_cache import njit
from ._codesize import optimize_for_size

#: Number of row chunks of every parallel kernel (enough for 16 threads).
N_CHUNKS = 16


@njit(cache=True)
def chunk_bounds(n, c):
    """Rows ``start:stop`` of chunk ``c`` of ``n`` rows split into ``N_CHUNKS``."""
    return c * n // N_CHUNKS, (c + 1) * n // N_CHUNKS


@njit(cache=True, inline="always")
def packed_outer(v, out):
    """Write the upper triangle of ``v v^T`` row by row into ``out``.

    ``out[t]`` for the ``t``-th pair ``a <= b`` is ``v[a] * v[b]``; ``out``
    has ``p (p + 1) / 2`` entries for ``p = len(v)``.
    """
    p = v.shape[0]
    t = 0
    for a in range(p):
        va = v[a]
        for b in range(a, p):
            out[t] = va * v[b]
            t += 1


@njit(cache=True)
def symmetric_from_packed(packed, p):
    """The full ``(m, p, p)`` matrices of ``m`` packed upper triangles.

    ``packed[k, t]`` is entry ``t`` of the row-major upper triangle ``a <= b``
    of matrix ``k`` (the layout of :func:`packed_outer`).
    """
    optimize_for_size()
    m = packed.shape[0]
    full = np.empty((m, p, p))
    for k in range(m):
        t = 0
        for a in range(p):
            for b in range(a, p):
                full[k, a, b] = packed[k, t]
                full[k, b, a] = packed[k, t]
                t += 1
    return full
