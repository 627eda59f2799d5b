"""Polynomial experts: layout, closed forms, EM."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import PolynomialFeatures

from skmoe import LinearExperts, MixtureOfExpertsRegressor, PolynomialExperts
from skmoe.datasets import make_moe_regression
from skmoe.metrics import parameter_error

from .conftest import assert_non_decreasing


@pytest.mark.parametrize("d, degree", [(1, 1), (2, 2), (3, 3), (4, 2)])
def test_columns_follow_polynomial_features(d, degree):
    experts = PolynomialExperts(degree=degree)
    poly = PolynomialFeatures(degree, include_bias=False).fit(np.zeros((1, d)))
    assert np.array_equal(experts.powers(d), poly.powers_)
    X = np.random.RandomState(0).standard_normal((20, d))
    assert_allclose(experts._features(X), poly.transform(X), rtol=1e-14)
    assert experts.n_params(d) == poly.n_output_features_ + 1


def test_param_blocks_by_degree():
    blocks = PolynomialExperts(degree=3).param_blocks(2)
    assert blocks == {"coef": slice(0, 2), "degree2": slice(2, 5),
                      "degree3": slice(5, 9), "intercept": slice(9, 10)}


def test_degree_one_is_linear():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((100, 3)), rng.standard_normal(100)
    R = np.ascontiguousarray(rng.dirichlet(np.ones(2), size=100))
    a = PolynomialExperts(degree=1).m_step(X, y, R, np.zeros((2, 4)))
    b = LinearExperts().m_step(X, y, R, np.zeros((2, 4)))
    assert np.array_equal(a, b)


def test_one_expert_is_weighted_polynomial_regression():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 2))
    y = 1.0 + X[:, 0] - 2.0 * X[:, 0] * X[:, 1] + 0.5 * X[:, 1] ** 3
    y += 0.3 * rng.standard_normal(300)
    w = rng.randint(1, 4, size=300).astype(float)
    est = MixtureOfExpertsRegressor(1, experts=PolynomialExperts(degree=3))
    est.fit(X, y, sample_weight=w)
    F = PolynomialFeatures(3, include_bias=False).fit_transform(X)
    ols = LinearRegression().fit(F, y, sample_weight=w)
    # closed form: equal up to the conditioning of the normal equations
    assert_allclose(est.params_.expert_params[0, :-1], ols.coef_, rtol=1e-9,
                    atol=1e-10)
    assert_allclose(est.params_.expert_params[0, -1], ols.intercept_, rtol=1e-9)
    resid = y - ols.predict(F)
    assert_allclose(est.params_.variance[0], np.sum(w * resid**2) / w.sum(),
                    rtol=1e-9)


def test_em_is_monotone_and_recovers_quadratic_experts():
    X, y, truth = make_moe_regression(4000, 1, 2, experts="polynomial",
                                      random_state=2)
    est = MixtureOfExpertsRegressor(2, experts="polynomial", n_init=3,
                                    random_state=0).fit(X, y)
    assert_non_decreasing(est.history_)
    assert est.converged_
    # exactly specified, n=4000: the MLE is at least as likely as the truth up
    # to the chi-square(9)/2 ~ 4.5 expected gain
    assert est.log_likelihood_ >= truth.log_density(X, y).sum() - 1.0
    # thresholds about twice the largest errors of seeds 0, 2-5 of this set-up
    # (seed 1 ends in a local maximum with n_init=3): gate slopes 0.087,
    # expert blocks 0.038, variances 0.0021, RMS of the regression function
    # 0.054
    errors = parameter_error(est.params_, truth)
    assert errors["gate_coef"].max() < 0.18
    for block in ("expert_coef", "expert_degree2", "expert_intercept"):
        assert errors[block].max() < 0.08, block
    assert errors["variance"].max() < 0.005
    assert np.sqrt(np.mean((est.predict(X) - truth.predict(X)) ** 2)) < 0.11
