"""Integer sample weights are equivalent to repeated rows (a stronger check than
scikit-learn's: n >> p, and the parameters themselves are compared)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Weighted sums and sums over repeated rows differ in the order of floating
# point additions only (~1e-16 relative per sum). Measured after 30 EM
# iterations on this data: largest relative difference 1.3e-14. 1e-10 leaves
# margin and still fails for any real mismatch (an unweighted statistic
# anywhere in the start or the updates changes the parameters by > 1e-3).
RTOL = 1e-10


@pytest.mark.parametrize("init_params", ["auto", "random"])
def test_integer_weights_equal_repeated_rows(init_params):
    X, y, _ = make_moe_regression(400, 2, 3, random_state=0)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    kw = dict(n_experts=3, init_params=init_params, max_iter=30, tol=0,
              random_state=0)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(**kw).fit(Xr, yr)
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert_allclose(getattr(a.params_, name), getattr(b.params_, name),
                        rtol=RTOL, atol=RTOL, err_msg=name)
    assert_allclose(a.predict_gates(X), b.predict_gates(X), rtol=RTOL, atol=RTOL)
    assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-10)


def test_zero_weight_rows_are_ignored():
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    w = np.ones(len(y))
    w[::3] = 0
    kw = dict(n_experts=2, max_iter=30, tol=0, random_state=0)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(**kw).fit(X[w > 0], y[w > 0])
    assert_allclose(a.params_.expert_params, b.params_.expert_params, rtol=RTOL)
    assert_allclose(a.params_.gate_coef, b.params_.gate_coef, rtol=RTOL, atol=RTOL)


def test_weights_change_the_fit():
    # guards against sample_weight being silently ignored
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    w = np.where(X[:, 0] > 0, 10.0, 0.1)
    a = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    assert not np.allclose(a.params_.expert_params, b.params_.expert_params)
