"""Every Numba kernel against its NumPy twin in ``_reference.py``.

The kernels reduce in a different order from NumPy, so results agree to
round-off, not bit for bit: rtol=1e-12 (a few hundred ulps on these sizes).
This file also runs with NUMBA_DISABLE_JIT=1 in CI, so the kernel bodies are
exercised as plain Python.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe._kernels._ffn import ffn_activation, ffn_nls, ffn_predict, ffn_vjp
from skmoe._kernels._gaussian import gaussian_estep, weighted_residual_ss
from skmoe._kernels._linear import linear_expert_suffstats
from skmoe._kernels._logspace import log_softmax_rows
from skmoe._kernels._objectives import gaussian_loglik_grad, least_squares_grad
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


# --------------------------------------------------------------- FFN experts
ACTIVATIONS = [0, 1, 2, 3]  # sigmoid, tanh, relu, gelu


def _ffn_data(n, d, K, seed=0):
    X, y, coef, intercept, R, means, variances = _data(n, d, K, seed)
    P = np.random.RandomState(seed + 1).standard_normal((K, d + 3))
    return X, y, R, P


@pytest.mark.parametrize("code", ACTIVATIONS)
def test_ffn_activation(code):
    # both branches of the sigmoid, the relu kink side, large |z|
    z = np.array([-40.0, -3.0, -1e-3, 0.0, 1e-3, 0.7, 3.0, 40.0])
    got = np.array([ffn_activation(v, code) for v in z]).T
    want = ref.ffn_activation(z, code)
    for g, w in zip(got, want, strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("n, d, K", SHAPES)
@pytest.mark.parametrize("code", ACTIVATIONS)
def test_ffn_predict_and_vjp(n, d, K, code):
    X, y, R, P = _ffn_data(n, d, K)
    G = np.random.RandomState(5).standard_normal((n, K))
    assert_allclose(ffn_predict(X, P, code), ref.ffn_predict(X, P, code),
                    rtol=RTOL, atol=1e-13)
    assert_allclose(ffn_vjp(X, P, G, code), ref.ffn_vjp(X, P, G, code),
                    rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("n, d, K", SHAPES)
@pytest.mark.parametrize("code", ACTIVATIONS)
@pytest.mark.parametrize("gn", [True, False])
def test_ffn_nls(n, d, K, code, gn):
    X, y, R, P = _ffn_data(n, d, K)
    got = ffn_nls(X, y, R, P, code, gn)
    want = ref.ffn_nls(X, y, R, P, code, gn)
    for g, w in zip(got, want, strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-12)


# ------------------------------------------------------ gradient objectives
@pytest.mark.parametrize("n, d, K", SHAPES)
def test_gaussian_loglik_grad(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
    w = R[:, 0].copy()
    w[::3] = 0.0  # zero weights are skipped
    got = gaussian_loglik_grad(log_gate, means, variances, y, w)
    want = ref.gaussian_loglik_grad(log_gate, means, variances, y, w)
    for g, v in zip(got, want, strict=True):
        assert_allclose(g, v, rtol=RTOL, atol=1e-13)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_least_squares_grad(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
    w = R[:, 0].copy()
    w[::3] = 0.0
    got = least_squares_grad(log_gate, means, y, w)
    want = ref.least_squares_grad(log_gate, means, y, w)
    for g, v in zip(got, want, strict=True):
        assert_allclose(g, v, rtol=RTOL, atol=1e-13)


def test_objective_kernels_give_zero_gradient_to_zero_gates():
    with np.errstate(divide="ignore"):
        log_gate = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]))
    means = np.arange(6.0).reshape(2, 3)
    y, w = np.array([0.3, -1.0]), np.ones(2)
    _, dg, dm, _ = gaussian_loglik_grad(log_gate, means, np.ones(3), y, w)
    _, lg, lm = least_squares_grad(log_gate, means, y, w)
    for a in (dg, dm, lg, lm):
        assert a[0, 2] == 0.0 and a[1, 0] == 0.0 and a[1, 2] == 0.0
        assert np.all(np.isfinite(a))


def test_new_kernels_do_not_modify_inputs():
    X, y, R, P = _ffn_data(30, 2, 3)
    _, _, coef, intercept, _, means, variances = _data(30, 2, 3)
    log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
    w = R[:, 0].copy()
    G = means.copy()
    arrays = [X, y, R, P, log_gate, means, variances, w, G]
    before = [a.copy() for a in arrays]
    ffn_predict(X, P, 1)
    ffn_vjp(X, P, G, 1)
    ffn_nls(X, y, R, P, 1, True)
    gaussian_loglik_grad(log_gate, means, variances, y, w)
    least_squares_grad(log_gate, means, y, w)
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(a, b)
