"""Thread counts for the ``n_jobs`` parameter: Numba's, and the kernels' choice.

The kernels run serially unless the fit asked for threads: :func:`numba_threads`
sets, for the duration of a block, the number of threads the kernels may use
(:func:`kernel_threads`, 1 outside any block), and Numba's own thread count
when that number exceeds 1. A caller with a serial kernel and a parallel twin
(``prange`` over the same fixed chunks, so the same bits) asks
:func:`use_threads` which one to call. With one thread Numba's threading layer
is never started, and Numba is not imported here: ``import skmoe`` stays free
of it (the kernels import it on their first call).
"""

import contextvars
from contextlib import contextmanager

from joblib import effective_n_jobs

#: Fewest rows for which a parallel kernel is called: below it the serial
#: kernel is as fast or faster with two threads (``benchmarks/bench_dispatch.py``
#: and ``bench_large_pass.py`` measure the cut-off).
PARALLEL_MIN_ROWS = 32768

_THREADS = contextvars.ContextVar("skmoe_kernel_threads", default=1)


def resolve_n_threads(n_jobs):
    """Number of threads for ``n_jobs``, with scikit-learn's semantics.

    ``None`` means 1 unless a :func:`joblib.parallel_config` context sets
    ``n_jobs``; ``-1`` means all CPUs, ``-2`` all but one, and so on (as
    :func:`joblib.effective_n_jobs` resolves them). The result is clipped to
    ``[1, numba.config.NUMBA_NUM_THREADS]`` (Numba cannot start more threads
    than it was launched with).
    """
    n = effective_n_jobs(n_jobs)
    if n <= 1:
        return 1
    import numba  # lazy: only a fit with threads needs Numba's configuration

    return int(min(n, numba.config.NUMBA_NUM_THREADS))


def kernel_threads():
    """Number of threads the kernels may use here: 1 outside :func:`numba_threads`."""
    return _THREADS.get()


def use_threads(n_rows):
    """Whether a kernel over ``n_rows`` rows should run its parallel twin.

    True when the current block allows more than one thread
    (:func:`kernel_threads`) and there are at least :data:`PARALLEL_MIN_ROWS`
    rows. Either choice gives the same bits: a parallel twin reduces the same
    fixed chunks in the same order.
    """
    return n_rows >= PARALLEL_MIN_ROWS and _THREADS.get() > 1


@contextmanager
def numba_threads(n_jobs):
    """Run the block with ``resolve_n_threads(n_jobs)`` kernel threads.

    Sets :func:`kernel_threads` and, for more than one thread, Numba's thread
    count of the calling thread; both are restored on exit, also when the
    block raises. With one thread Numba is left alone (the kernels then run
    serially). BLAS threads are left alone (use ``threadpoolctl``).
    """
    n = resolve_n_threads(n_jobs)
    token = _THREADS.set(n)
    try:
        if n == 1:
            yield
            return
        import numba  # lazy, as in resolve_n_threads

        previous = numba.get_num_threads()
        numba.set_num_threads(n)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
    finally:
        _THREADS.reset(token)
