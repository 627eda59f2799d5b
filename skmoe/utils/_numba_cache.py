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
or checkouts never share entries. Nothing is written inside the installed
package.

An entry is invalidated when *any* Python file of its kernel's folder
changes, not only its own file as with Numba's ``cache=True``: the kernels
call each other across files, and Numba compiles a callee into its caller,
so a caller cached before its callee's file changed would keep running the
old callee (a stale result, or a crash when a signature changed).

Only skmoe's kernels are affected: :func:`njit` gives each kernel its own
cache object, and neither ``numba.config`` nor Numba's list of cache locators
is changed, so the user's other Numba code caches where it always did.

This relies on parts of ``numba.core.caching`` that are not public but have
not changed from Numba 0.58 to 0.68 (``_CacheLocator``,
``_SourceFileBackedLocatorMixin``, ``CompileResultCacheImpl``,
``FunctionCache``) and on ``Dispatcher.enable_caching`` setting
``Dispatcher._cache``, which is all that ``cache=True`` does.
"""

import hashlib
import os
import sys

import numba
from numba.core import caching, event
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

    def get_source_stamp(self):
        return folder_stamp(os.path.dirname(self._py_file))


_STAMPS = {}


def folder_stamp(folder):
    """A digest of every ``*.py`` file of ``folder``: names and contents.

    The source stamp of a cached kernel (Numba compares it with the one in
    the cache index and recompiles on a difference). Computed once per
    folder and process, at the import of its first kernel: the stamp is
    that of the sources the process imported, even if a file changes while
    it runs (as a kernel's bytecode is).

    Parameters
    ----------
    folder : str
        The kernel's source folder.

    Returns
    -------
    stamp : bytes
        SHA-256 digest.
    """
    if folder not in _STAMPS:
        digest = hashlib.sha256()
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                digest.update(name.encode())
                with open(os.path.join(folder, name), "rb") as fh:
                    digest.update(hashlib.sha256(fh.read()).digest())
        _STAMPS[folder] = digest.digest()
    return _STAMPS[folder]


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
        print("skmoe: compiling its Numba kernels on first use (a one-time cost, "
              f"then loaded from the cache in {kernel_cache_dir()})",
              file=sys.stderr, flush=True)

    def on_end(self, ev):
        pass


event.register("numba:compile", _CompileNotice())


class _KernelCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_UserCacheLocator]


class _KernelCache(caching.FunctionCache):
    _impl_class = _KernelCacheImpl


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
