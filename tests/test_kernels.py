"""Every Numba kernel against its NumPy twin in ``_reference.py``.

The kernels reduce in a different order from NumPy, so results agree to
round-off, not bit for bit: rtol=1e-12 (a few hundred ulps on these sizes).
This file also runs with NUMBA_DISABLE_JIT=1 in CI, so the kernel bodies are
exercised as plain Python.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe._kernels._gaussian import gaussian_estep, weighted_residual_ss
from skmoe._kernels._linear import linear_expert_suffstats
from skmoe._kernels._logspace import log_softmax_rows
from skmoe._kernels._softmax import softmax_gate_objective

from . import _reference as ref

SHAPES = [(1, 1, 1), (7, 1, 2), (50, 3, 3), (200, 4, 5)]  # (n, d, K)
RTOL = 1e-12


def _data(n, d, K, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    coef = rng.standard_normal((K, d))
    coef[-1] = 0
    intercept = rng.standard_normal(K)
    intercept[-1] = 0
    R = rng.random_sample((n, K)) * rng.random_sample(n)[:, None]
    means = rng.standard_normal((n, K))
    variances = rng.random_sample(K) + 0.1
    return X, y, coef, intercept, np.ascontiguousarray(R), means, variances


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_log_softmax_rows(n, d, K):
    Z = np.random.RandomState(1).standard_normal((n, K)) * 30
    assert_allclose(log_softmax_rows(Z), ref.log_softmax_rows(Z), rtol=RTOL,
                    atol=1e-13)


def test_log_softmax_rows_keeps_minus_inf():
    Z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 5.0, -np.inf]])
    out = log_softmax_rows(Z)
    assert np.isneginf(out[0, 1]) and np.isneginf(out[1, 0]) and out[1, 1] == 0.0
    assert_allclose(np.exp(out).sum(axis=1), 1.0, rtol=1e-15)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_gaussian_estep(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
    resp, loglik = gaussian_estep(log_gate, means, variances, y)
    resp_ref, loglik_ref = ref.gaussian_estep(log_gate, means, variances, y)
    assert_allclose(resp, resp_ref, rtol=RTOL, atol=1e-15)
    assert_allclose(loglik, loglik_ref, rtol=RTOL)


def test_gaussian_estep_zero_gate_gives_zero_responsibility():
    with np.errstate(divide="ignore"):
        log_gate = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]))
    means = np.zeros((2, 3))
    resp, loglik = gaussian_estep(log_gate, means, np.ones(3), np.zeros(2))
    assert resp[0, 2] == 0.0 and resp[1, 0] == 0.0 and resp[1, 2] == 0.0
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-15)
    assert_allclose(loglik, -0.5 * np.log(2 * np.pi), rtol=1e-15)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_weighted_residual_ss(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    assert_allclose(weighted_residual_ss(y, means, R),
                    ref.weighted_residual_ss(y, means, R), rtol=RTOL)


@pytest.mark.parametrize("n, d, K", SHAPES)
@pytest.mark.parametrize("hessian", [True, False])
def test_softmax_gate_objective(n, d, K, hessian):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    got = softmax_gate_objective(X, coef, intercept, R, hessian)
    want = ref.softmax_gate_objective(X, coef, intercept, R, hessian)
    for g, w in zip(got, want, strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_linear_expert_suffstats(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    F = np.ascontiguousarray(np.hstack([X, np.ones((n, 1))]))
    for g, w in zip(linear_expert_suffstats(F, y, R),
                    ref.linear_expert_suffstats(F, y, R), strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-12)


def test_kernels_do_not_modify_inputs():
    X, y, coef, intercept, R, means, variances = _data(30, 2, 3)
    arrays = [X, y, coef, intercept, R, means, variances]
    before = [a.copy() for a in arrays]
    log_gate = log_softmax_rows(X @ coef.T + intercept)
    gaussian_estep(log_gate, means, variances, y)
    weighted_residual_ss(y, means, R)
    softmax_gate_objective(X, coef, intercept, R, True)
    linear_expert_suffstats(X, y, R)
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(a, b)
