"""Thread-count independence of the parallel kernels, and ``n_jobs``.

The parallel kernels reduce rows in a fixed number of chunks, then the chunks
in a fixed order, so 1 and 2 Numba threads must give the same bits
(``np.array_equal``, no tolerance). With a single CPU Numba cannot start a
second thread and the comparison would be vacuous: those tests skip.
"""

import numba
import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor
from skmoe._kernels._fused import fused_estep_statistics, fused_residuals
from skmoe._kernels._gaussian import gaussian_estep_linear
from skmoe._kernels._linear import linear_expert_suffstats
from skmoe._kernels._softmax import softmax_gate_objective
from skmoe.datasets import make_moe_regression
from skmoe.utils._threads import numba_threads, resolve_n_threads

# deliberately short fits (fixed iteration counts, tol=0)
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="Numba was started with one thread")


def _with_threads(n, fun, *args):
    with numba_threads(n):
        return fun(*args)


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
                                    "fused_residuals", "fused_estep_wide"])
def test_kernels_bit_identical_for_1_and_2_threads(kernel):
    if kernel == "fused_estep_wide":
        # d=230, K=4: one row's block product (10 weights x 26796 packed
        # entries) exceeds 2**18 multiply-adds, so blocks have one row and
        # OpenBLAS may use its own threads
        X, y, coef, intercept, R = _data(n=400, d=230)
        kernel = "fused_estep"
    else:
        X, y, coef, intercept, R = _data()
    n, K = R.shape
    w = R[:, 0].copy()
    fun, args = {
        "fused_estep": (fused_estep_statistics,
                        (X, y, w, coef - coef[-1], intercept - intercept[-1],
                         coef[::-1].copy(), intercept, np.ones(K), R.copy(),
                         True)),
        "fused_residuals": (fused_residuals, (X, y, R, coef, intercept)),
        "gate": (softmax_gate_objective, (X, coef, intercept, R, True)),
        "suffstats": (linear_expert_suffstats, (X, y, R, True)),
        "estep": (gaussian_estep_linear,
                  (X, y, coef, intercept, coef[::-1].copy(), intercept,
                   np.ones(coef.shape[0]))),
    }[kernel]
    # fresh copies: the fused E-step rewrites its responsibilities argument
    one = _with_threads(1, fun, *[np.copy(a) for a in args])
    two = _with_threads(2, fun, *[np.copy(a) for a in args])
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a, b)


@two_threads
@pytest.mark.parametrize("init_params", ["auto", "random"])
def test_fit_bit_identical_for_n_jobs_1_and_2(init_params):
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, n_experts=3,
                                  random_state=0)
    fits = [MixtureOfExpertsRegressor(3, max_iter=30, tol=0.0, random_state=0,
                                      init_params=init_params,
                                      n_jobs=n_jobs).fit(X, y)
            for n_jobs in (1, 2)]
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
    with numba_threads(1):
        with pytest.raises(RuntimeError, match="fit failed"):
            MixtureOfExpertsRegressor(2, random_state=0, n_jobs=-1).fit(X, y)
        assert seen[-1] == numba.config.NUMBA_NUM_THREADS
        assert numba.get_num_threads() == 1


@pytest.mark.parametrize("method", ["log_density", "bic", "aic", "icl",
                                    "standard_errors"])
def test_n_jobs_also_sets_threads_of_likelihood_methods(monkeypatch, method):
    # these methods reach the row-parallel E-step / gate kernels, so they run
    # with n_jobs threads (None -> 1), not Numba's process-wide default
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
        seen.append(numba.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    before = numba.get_num_threads()
    with numba_threads(-1):
        getattr(est, method)(X, y)
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    assert seen and set(seen) == {1}
    assert numba.get_num_threads() == before
