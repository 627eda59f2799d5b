"""Numba thread-count control for the ``n_jobs`` parameter."""

from contextlib import contextmanager

import numba
from joblib import effective_n_jobs


def resolve_n_threads(n_jobs):
    """Number of Numba threads for ``n_jobs``, with scikit-learn's semantics.

    ``None`` means 1 unless a :func:`joblib.parallel_config` context sets
    ``n_jobs``; ``-1`` means all CPUs, ``-2`` all but one, and so on (as
    :func:`joblib.effective_n_jobs` resolves them). The result is clipped to
    ``[1, numba.config.NUMBA_NUM_THREADS]`` (Numba cannot start more threads
    than it was launched with).
    """
    n = effective_n_jobs(n_jobs)
    return int(min(max(n, 1), numba.config.NUMBA_NUM_THREADS))


@contextmanager
def numba_threads(n_jobs):
    """Run the block with ``resolve_n_threads(n_jobs)`` Numba threads.

    The previous setting of the calling thread is restored on exit, also when
    the block raises. BLAS threads are left alone (use ``threadpoolctl``).
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(resolve_n_threads(n_jobs))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
