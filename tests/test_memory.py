"""A fit's NumPy allocations stay within the data and the responsibilities.

Issue 16 (target 5) bounds a fit's peak memory by ``X`` plus one ``(n, K)``
array of responsibilities. Two whole-``X`` copies had crept in outside the
EM: ``np.abs(X)`` in the data-scale check and ``X[sample_weight > 0]`` in the
check for coinciding experts (each ``X.nbytes``). A default fit at n = 1e6,
d = 10, K = 4 grew the resident set by 171 MiB against the budget of 107 MiB,
and by 44 MiB without them (``python benchmarks/bench_scaling.py --n 1000000
--mem-n 1000000 --speedup-n 0``, which measures the resident set, Numba's
own allocations included). ``tracemalloc`` sees every NumPy allocation, so
these tests bound the traced peak; it does not see arrays Numba allocates
inside a kernel, which the benchmark covers.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmoe import LinearExperts, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.utils._validation import check_data_scale


def traced_peak(fn):
    """Peak bytes traced by ``tracemalloc`` during ``fn()`` (above its start)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_moe_regression(200_000, 10, 4, random_state=0)
    return np.ascontiguousarray(X), y


def test_scale_check_allocates_no_copy_of_X(data):
    X, y = data
    # a copy of X would be X.nbytes = 16 MB; the column extrema are 160 bytes
    w = np.ones(X.shape[0])
    peak = traced_peak(lambda: check_data_scale(X, y, w, LinearExperts()))
    assert peak < X.nbytes / 100


def test_scale_check_value_is_max_abs():
    # max(max x, -min x) is max |x| exactly (no rounding in either)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * np.array([1e-3, 1.0, 1e3])
    X[7, 2] = -5e3  # the largest |x| of column 2 is negative
    scales = np.maximum(X.max(axis=0), -X.min(axis=0))
    np.testing.assert_array_equal(scales, np.abs(X).max(axis=0))
    # the scale the error names is that negative entry's magnitude (linear
    # experts accept magnitudes up to 2**256 ~ 1.16e77)
    with pytest.raises(ValueError, match=r"X has a column of scale 5e\+80 "):
        check_data_scale(X * np.array([1.0, 1.0, 1e77]), X[:, 0], np.ones(50),
                         LinearExperts())


def test_fit_traced_peak_within_budget(data):
    X, y = data
    K = 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = MixtureOfExpertsRegressor(K, max_iter=1, random_state=0).fit(
            X[:5000], y[:5000]).params_

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MixtureOfExpertsRegressor(K, init_params=start, max_iter=3, tol=0.0,
                                      random_state=0).fit(X, y)

    fit()  # compile outside the trace
    peak = traced_peak(fit)
    # measured 8.6 MB: the responsibilities (n K 8 = 6.4 MB) and 2.2 MB more;
    # 17.6 MB with the copies of X (16 MB each, not at the same time). Below
    # X.nbytes means no copy of X, and within the budget X + R.
    assert peak < X.nbytes


def test_coinciding_check_allocates_no_copy_of_X(data):
    # two experts with equal variances are candidates, so the check computes
    # the experts' means over the rows of non-zero weight: with every weight
    # positive those are X itself, not a boolean-indexed copy of it
    from skmoe import MoEParams
    from skmoe.solvers._finish import coinciding_experts

    X, _ = data
    n, d, K = X.shape[0], X.shape[1], 4
    params = MoEParams(gate_coef=np.zeros((K, d)), gate_intercept=np.zeros(K),
                       expert_params=np.arange(K * (d + 1), dtype=float)
                       .reshape(K, d + 1) / 10, variance=np.ones(K))
    w = np.ones(n)
    assert coinciding_experts(params, X, w) == []
    peak = traced_peak(lambda: coinciding_experts(params, X, w))
    # measured 9.8 MB: the experts' means (n K 8 = 6.4 MB) and differences;
    # a copy of X alone is X.nbytes = 16 MB
    assert peak < X.nbytes
