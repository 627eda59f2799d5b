"""Where skmoe's Numba kernels keep their on-disk cache: a per-user directory.

Numba's own ``cache=True`` writes the compiled kernels next to their source,
in ``skmoe/_kernels/__pycache__``. For a regular install (``pip install .``)
that is inside ``site-packages``, and pip never removes those files: after
``pip install -e .`` in the same environment (which uninstalls the regular
copy first) a ``site-packages/skmoe/`` directory holding only cache files is
left behind. Python imports it as an empty namespace package ahead of the
editable install, so ``import skmoe`` outside the source tree fails.

skmoe's kernels therefore cache under one per-user directory,
:func:`kernel_cache_dir`: ``$NUMBA_CACHE_DIR`` when the user has set it (Numba's
own setting, honoured as Numba does), else ``skmoe/numba`` in the user cache
directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, as Numba's own
user-wide cache). Each source folder gets its own subfolder, so two installs
or checkouts never share entries, and Numba still invalidates an entry when
its source file changes. Nothing is written inside the installed package.

Only skmoe's kernels are affected: :func:`njit` gives each kernel its own
cache object, and neither ``numba.config`` nor Numba's list of cache locators
is changed, so the user's other Numba code caches where it always did.

On a cold cache the first compilation also starts a second process that
compiles the default model's gate step (:data:`PREFETCH`) into the cache,
on a second core, while the fit compiles its other kernels; the fit's first
call of that kernel waits for the process and loads the kernel from the
cache (``SKMOE_NO_PREFETCH=1`` switches this off; a one-core machine never
prefetches).

This relies on parts of ``numba.core.caching`` that are not public but have
not changed from Numba 0.58 to 0.68 (``_CacheLocator``,
``_SourceFileBackedLocatorMixin``, ``CompileResultCacheImpl``,
``FunctionCache``) and on ``Dispatcher.enable_caching`` setting
``Dispatcher._cache``, which is all that ``cache=True`` does.
"""

import atexit
import importlib
import os
import subprocess
import sys

import numba
from numba.core import caching, event, sigutils
from numba.core.dispatcher import Dispatcher
from numba.misc.appdirs import AppDirs


def kernel_cache_dir():
    """The directory under which skmoe's compiled kernels are cached.

    Returns
    -------
    path : str
        ``numba.config.CACHE_DIR`` (the ``NUMBA_CACHE_DIR`` environment
        variable) when set, else ``<user cache dir>/skmoe/numba``.
    """
    if numba.config.CACHE_DIR:
        return numba.config.CACHE_DIR
    return os.path.join(AppDirs("skmoe", appauthor=False).user_cache_dir, "numba")


class _UserCacheLocator(caching._SourceFileBackedLocatorMixin,
                        caching._CacheLocator):
    """Cache files of a kernel in ``kernel_cache_dir()/<folder>_<sha1 of path>``."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(kernel_cache_dir(),
                                        self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path


class _CompileNotice(event.Listener):
    """Say once per process, on stderr, that skmoe's kernels are compiling.

    Numba fires the event ``"numba:compile"`` only when it compiles (a kernel
    loaded from the on-disk cache fires none), so the notice appears on the
    first run with an empty cache, at the first fit that compiles, and never
    again in the process. A warning would do
    where a message is wanted, but with warnings as errors (pytest's
    ``-W error``) it would stop the fit.
    """

    said = False

    def on_start(self, ev):
        func = getattr(ev.data.get("dispatcher"), "py_func", None)
        if self.said or not getattr(func, "__module__", "").startswith("skmoe."):
            return
        # stays registered (removing a listener inside Numba's loop over them
        # would skip the next one)
        self.said = True
        if os.environ.get(_CHILD):
            return
        print("skmoe: compiling its Numba kernels on first use (a one-time cost, "
              f"then loaded from the cache in {kernel_cache_dir()})",
              file=sys.stderr, flush=True)
        if (func.__module__, func.__qualname__) not in _pending_names():
            _start_prefetch()

    def on_end(self, ev):
        pass


event.register("numba:compile", _CompileNotice())


#: kernels compiled in a second process on a cold cache: (module, name,
#: argument types). The gate step of the default model (softmax gate, linear
#: experts, Gaussian noise), the longest compilation of a first fit (about
#: 6 s of its 14): while the first fit compiles its start and E-step kernels
#: in this process, a second core compiles the gate step into the cache, and
#: the fit loads it from there (see :class:`_KernelCache`)
PREFETCH = (
    ("skmoe._kernels._softmax_steps", "softmax_newton_ascent",
     "(float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[::1], int64, "
     "float64[:, ::1])"),
)

#: environment variable marking the prefetching process (no notice, no
#: prefetch of its own); ``SKMOE_NO_PREFETCH=1`` switches prefetching off
_CHILD = "SKMOE_PREFETCH_CHILD"

#: (module, name) -> the process compiling that kernel
_pending = {}


def _pending_names():
    return {(module, name) for module, name, _ in PREFETCH}


def _start_prefetch():
    """Compile :data:`PREFETCH` in a second process (two cores or more)."""
    if ((os.cpu_count() or 1) < 2 or os.environ.get("SKMOE_NO_PREFETCH")
            or numba.config.DISABLE_JIT):
        return
    env = dict(os.environ, **{_CHILD: "1"})
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c",
             "from skmoe.utils._numba_cache import _prefetch; _prefetch()"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    except OSError:  # no second process: this one compiles everything
        return
    for module, name, _ in PREFETCH:
        _pending[(module, name)] = proc
    atexit.register(_stop, proc)


def _stop(proc):
    """At exit: stop a prefetching process still running (its work is moot)."""
    if proc.poll() is None:
        proc.terminate()


def _prefetch():
    """The prefetching process: compile (or find cached) :data:`PREFETCH`."""
    for module, name, signature in PREFETCH:
        kernel = getattr(importlib.import_module(module), name)
        args, _ = sigutils.normalize_signature(signature)
        # a tuple of types, as a call compiles it: the same cache entry
        kernel.compile(tuple(args))


class _KernelCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_UserCacheLocator]


class _KernelCache(caching.FunctionCache):
    """Numba's cache of a kernel, in :func:`kernel_cache_dir`.

    A kernel that a second process is compiling (:data:`PREFETCH`) waits for
    that process before it looks in the cache, so that it loads the result
    rather than compiling it a second time.
    """

    _impl_class = _KernelCacheImpl

    def load_overload(self, sig, target_context):
        func = self._py_func
        proc = _pending.pop((func.__module__, func.__qualname__), None)
        if proc is not None:
            try:
                proc.wait(timeout=600)
            except subprocess.TimeoutExpired:
                pass
        return super().load_overload(sig, target_context)


def njit(*args, cache=False, **options):
    """``numba.njit`` whose ``cache=True`` caches in :func:`kernel_cache_dir`.

    Used as ``@njit(cache=True)`` or ``@njit(cache=True, parallel=True)`` on
    every kernel in :mod:`skmoe._kernels`. Where the cache directory cannot be
    created or written, the kernel compiles once per process instead (Numba
    itself would raise). Under ``NUMBA_DISABLE_JIT=1`` the plain Python
    function is returned, as by Numba.

    Parameters
    ----------
    *args : callable, optional
        The function, when used as a bare ``@njit``.
    cache : bool, default=False
        Cache the compiled code on disk, in :func:`kernel_cache_dir`.
    **options
        Passed to :func:`numba.njit`.

    Returns
    -------
    dispatcher : numba Dispatcher or callable
        The compiled kernel, or a decorator when called without the function.
    """

    def decorate(func):
        kernel = numba.njit(**options)(func)
        if cache and isinstance(kernel, Dispatcher):
            try:
                kernel._cache = _KernelCache(kernel.py_func)
            except RuntimeError:  # no writable cache directory: no disk cache
                pass
        return kernel

    if args:
        (func,) = args
        return decorate(func)
    return decorate
