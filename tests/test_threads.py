"""Thread-count independence of the parallel kernels, and ``n_jobs``.

The kernels run serially; a kernel with a parallel twin (a ``prange`` over
the same fixed chunks, reduced in the same order) must give the same bits as
its serial kernel with 1 and 2 Numba threads (``np.array_equal``, no
tolerance), and a fit with ``n_jobs=2`` (which calls the twins for large
``n``) the same bits as with ``n_jobs=1``. With a single CPU Numba cannot
start a second thread and the comparison would be vacuous: those tests skip.
"""

import numba
import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor
from skmoe._kernels import _fused, _gaussian, _linear, _softmax
from skmoe.datasets import make_moe_regression
from skmoe.solvers import _em as em_module
from skmoe.utils import _threads
from skmoe.utils._threads import (
    kernel_threads,
    numba_threads,
    resolve_n_threads,
    use_threads,
)

# deliberately short fits (fixed iteration counts, tol=0)
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="Numba was started with one thread")


def _with_numba_threads(n, fun, *args):
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        return fun(*args)
    finally:
        numba.set_num_threads(previous)


def _data(n=3001, d=3, K=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    coef = rng.standard_normal((K, d))
    intercept = rng.standard_normal(K)
    R = rng.random_sample((n, K))
    return X, y, coef, intercept, R


@two_threads
@pytest.mark.parametrize("kernel", ["gate", "suffstats", "estep", "fused_estep",
                                    "fused_estep_wide"])
def test_kernels_bit_identical_for_1_and_2_threads(kernel):
    if kernel == "fused_estep_wide":
        # d=230, K=4: 26796 packed entries per Gram matrix
        X, y, coef, intercept, R = _data(n=400, d=230)
        kernel = "fused_estep"
    else:
        X, y, coef, intercept, R = _data()
    n, K = R.shape
    w = R[:, 0].copy()
    module, name, args = {
        "fused_estep": (_fused, "fused_estep_statistics",
                        (X, y, w, coef - coef[-1], intercept - intercept[-1],
                         coef[::-1].copy(), intercept, np.ones(K), R.copy(),
                         True)),
        "gate": (_softmax, "softmax_gate_objective",
                 (X, coef, intercept, R, True)),
        "suffstats": (_linear, "linear_expert_suffstats",
                      (X, y, R, np.hstack([coef, intercept[:, None]]), True)),
        "estep": (_gaussian, "gaussian_estep_linear",
                  (X, y, coef, intercept, coef[::-1].copy(), intercept,
                   np.ones(coef.shape[0]))),
    }[kernel]
    serial = getattr(module, name)
    parallel = getattr(module, name + "_parallel")
    # fresh copies: the fused E-step rewrites its responsibilities argument
    want = serial(*[np.copy(a) for a in args])
    for threads in (1, 2):
        got = _with_numba_threads(threads, parallel, *[np.copy(a) for a in args])
        for a, b in zip(want, got, strict=True):
            assert np.array_equal(a, b)


@two_threads
@pytest.mark.parametrize("gating, init_params", [
    ("softmax", "auto"), ("softmax", "random"), ("hierarchical_softmax", "auto"),
    ("gaussian", "random")])
def test_fit_bit_identical_for_n_jobs_1_and_2(monkeypatch, gating, init_params):
    # the parallel twins from 100 rows on (PARALLEL_MIN_ROWS): this fit with
    # n_jobs=2 runs them (the fused pass and the E-step of the softmax gate,
    # the gate objective and the experts' statistics of the hierarchical and
    # Gaussian ones: the latter's update then runs its steps in Python around
    # the objective's parallel twin, not its serial kernel)
    monkeypatch.setattr(_threads, "PARALLEL_MIN_ROWS", 100)
    # the compiled path (serial) runs fits below FUSED_FROM_N rows
    monkeypatch.setattr(em_module, "FUSED_FROM_N", 0)
    calls = []
    def counted(real, name):
        def spy(*args):
            calls.append(name)
            return real(*args)
        return spy

    for module, name in [(_fused, "fused_estep_statistics_parallel"),
                         (_softmax, "softmax_gate_objective_parallel"),
                         (_linear, "linear_expert_suffstats_parallel")]:
        monkeypatch.setattr(module, name, counted(getattr(module, name), name))
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, n_experts=4,
                                  random_state=0)
    fits = []
    for n_jobs in (1, 2):
        fits.append(MixtureOfExpertsRegressor(4, gating=gating, max_iter=30,
                                              tol=0.0, random_state=0,
                                              init_params=init_params,
                                              n_jobs=n_jobs).fit(X, y))
        assert bool(calls) == (n_jobs == 2)
    if gating == "softmax":
        assert "fused_estep_statistics_parallel" in calls
    else:
        assert {"softmax_gate_objective_parallel",
                "linear_expert_suffstats_parallel"} <= set(calls)
    a, b = (f.params_ for f in fits)
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(fits[0].history_, fits[1].history_)
    assert np.array_equal(fits[0].predict(X), fits[1].predict(X))


def test_resolve_n_threads():
    top = numba.config.NUMBA_NUM_THREADS
    assert resolve_n_threads(None) == 1
    assert resolve_n_threads(1) == 1
    assert resolve_n_threads(-1) == top
    assert resolve_n_threads(10 ** 6) == top


def test_kernels_use_threads_only_in_a_threaded_block():
    top = numba.config.NUMBA_NUM_THREADS
    many = _threads.PARALLEL_MIN_ROWS
    assert kernel_threads() == 1 and not use_threads(many)
    with numba_threads(-1):
        assert kernel_threads() == top
        assert use_threads(many) == (top > 1) and not use_threads(many - 1)
        with numba_threads(1):
            assert kernel_threads() == 1 and not use_threads(many)
        assert kernel_threads() == top
    assert kernel_threads() == 1


def test_n_jobs_restores_the_thread_count(monkeypatch):
    X, y, _ = make_moe_regression(n_samples=100, n_features=2, n_experts=2,
                                  random_state=0)
    seen = []
    import skmoe._estimator as est_mod

    real = est_mod.fit_moe

    def spy(*args, **kwargs):
        seen.append(numba.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(est_mod, "fit_moe", spy)
    before = numba.get_num_threads()
    MixtureOfExpertsRegressor(2, max_iter=5, tol=0.0, random_state=0,
                              n_jobs=-1).fit(X, y)
    assert seen == [numba.config.NUMBA_NUM_THREADS]
    assert numba.get_num_threads() == before

    def boom(*args, **kwargs):
        seen.append(numba.get_num_threads())
        raise RuntimeError("fit failed")

    monkeypatch.setattr(est_mod, "fit_moe", boom)
    numba.set_num_threads(1)
    try:
        with pytest.raises(RuntimeError, match="fit failed"):
            MixtureOfExpertsRegressor(2, random_state=0, n_jobs=-1).fit(X, y)
        assert seen[-1] == numba.config.NUMBA_NUM_THREADS
        # restored: Numba's count and the kernels'
        assert numba.get_num_threads() == 1 and kernel_threads() == 1
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("method", ["log_density", "bic", "aic", "icl",
                                    "standard_errors"])
def test_n_jobs_also_sets_threads_of_likelihood_methods(monkeypatch, method):
    # these methods reach the E-step / gate kernels, so they run with n_jobs
    # threads (None -> 1: the serial kernels), not Numba's process-wide default
    X, y, _ = make_moe_regression(n_samples=200, n_features=1, n_experts=2,
                                  random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    seen = []
    import skmoe.inference as inference
    from skmoe._params import MoEParams

    # the likelihood methods go through MoEParams._posterior, the standard
    # errors through the Hessian of the gradient kernels
    owner, name = ((inference, "_hessian") if method == "standard_errors"
                   else (MoEParams, "_posterior"))
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(kernel_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    before = numba.get_num_threads()
    with numba_threads(-1):
        assert kernel_threads() == numba.config.NUMBA_NUM_THREADS
        getattr(est, method)(X, y)
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    assert seen and set(seen) == {1}
    assert numba.get_num_threads() == before
