"""Array normalisation before kernel calls."""

import numpy as np


def as_kernel_array(a):
    """Return ``a`` as a C-contiguous, writeable float64 array.

    Every kernel sees exactly one array type, so each kernel is compiled once
    (F-order, integer or read-only arrays would each add a specialisation).
    A copy is made only when needed.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not a.flags.writeable:
        a = a.copy()
    return a
