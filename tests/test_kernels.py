"""Every Numba kernel against its NumPy twin in ``_reference.py``.

The kernels reduce in a different order from NumPy, so results agree to
round-off, not bit for bit: rtol=1e-12 (a few hundred ulps on these sizes).
This file also runs with NUMBA_DISABLE_JIT=1 in CI, so the kernel bodies are
exercised as plain Python.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe._kernels._ffn import ffn_activation, ffn_nls, ffn_predict, ffn_vjp
from skmoe._kernels._fused import (
    BLOCK,
    fused_estep_statistics,
    fused_estep_statistics_parallel,
)
from skmoe._kernels._gaussian import (
    gaussian_estep,
    gaussian_estep_linear,
    gaussian_estep_linear_parallel,
    weighted_residual_ss,
)
from skmoe._kernels._linear import (
    linear_expert_suffstats,
    linear_expert_suffstats_parallel,
)
from skmoe._kernels._logspace import (
    EXP_MIN,
    log_softmax_rows,
    normalize_log_rows_inplace,
    soft_topk_log_weights,
    soft_topk_vjp,
    vexp,
)
from skmoe._kernels._objectives import gaussian_loglik_grad, least_squares_grad
from skmoe._kernels._sigmoid import sigmoid_gate_objective, sigmoid_log_weights
from skmoe._kernels._softmax import (
    softmax_gate_objective,
    softmax_gate_objective_parallel,
    topk_log_softmax_rows,
)
from skmoe._kernels._student_t import (
    lgamma_half_difference,
    student_t_estep,
    student_t_logpdf,
)

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


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_gaussian_estep_linear(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    rng = np.random.RandomState(1)
    B, c = rng.standard_normal((K, d)), rng.standard_normal(K)
    resp, loglik = gaussian_estep_linear(X, y, coef, intercept, B, c, variances)
    resp_ref, loglik_ref = ref.gaussian_estep_linear(X, y, coef, intercept, B, c,
                                                     variances)
    assert_allclose(resp, resp_ref, rtol=RTOL, atol=1e-14)
    assert_allclose(loglik, loglik_ref, rtol=RTOL)


def test_gaussian_estep_zero_gate_gives_zero_responsibility():
    with np.errstate(divide="ignore"):
        log_gate = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]))
    means = np.zeros((2, 3))
    resp, loglik = gaussian_estep(log_gate, means, np.ones(3), np.zeros(2))
    assert resp[0, 2] == 0.0 and resp[1, 0] == 0.0 and resp[1, 2] == 0.0
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-15)
    assert_allclose(loglik, -0.5 * np.log(2 * np.pi), rtol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 100, 999, 1000, 1001, 12345, 100000])
def test_lgamma_half_difference_exact_at_integers(n):
    # closed form: Gamma(n + 1/2) / Gamma(n) = n * C(2n, n) * sqrt(pi) / 4^n,
    # a rational times sqrt(pi); float(Fraction) is correctly rounded, so the
    # reference is exact to one rounding of the log (rtol 4 eps); covers both
    # branches of the kernel (series from 1000 on)
    exact = (math.log(float(Fraction(n * math.comb(2 * n, n), 4**n)))
             + 0.5 * math.log(math.pi))
    assert lgamma_half_difference(float(n)) == pytest.approx(exact, rel=1e-15)
    assert ref.lgamma_half_difference(float(n)) == pytest.approx(exact, rel=1e-15)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_student_t_kernels(n, d, K):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    # degrees of freedom over the whole allowed range [1, 1e6]
    df = np.geomspace(1.0, 1e6, K) if K > 1 else np.array([3.0])
    log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
    assert_allclose(student_t_logpdf(means, variances, df, y),
                    ref.student_t_logpdf(means, variances, df, y), rtol=RTOL)
    for got, want in zip(student_t_estep(log_gate, means, variances, df, y),
                         ref.student_t_estep(log_gate, means, variances, df, y),
                         strict=True):
        assert_allclose(got, want, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("n, d, K", SHAPES)
def test_normalize_log_rows_inplace(n, d, K):
    A = np.random.RandomState(0).standard_normal((n, K)) * 30
    if K > 1:
        A[0, 0] = -np.inf  # a zero-weight component gives an exact zero
    log_gate = np.full((n, K), -np.log(K))
    if n > 1:
        A[1] = -np.inf  # a row of -inf: log-likelihood -inf, the gate weights
    post, loglik = A.copy(), np.empty(n)
    normalize_log_rows_inplace(post, loglik, log_gate)
    post_ref, loglik_ref = ref.normalize_log_rows(A, log_gate)
    assert_allclose(post, post_ref, rtol=RTOL, atol=1e-300)
    assert_allclose(loglik, loglik_ref, rtol=RTOL)
    assert K == 1 or post[0, 0] == 0.0
    assert n == 1 or (loglik[1] == -np.inf and np.allclose(post[1], 1.0 / K))


def test_student_t_logpdf_matches_scipy():
    from scipy.stats import t

    y = np.array([-30.0, -1.0, 0.0, 0.5, 4.0, 1e3])
    means = np.repeat(np.array([[0.2, -1.0, 3.0]]), y.size, axis=0)
    variances = np.array([0.5, 2.0, 1e-4])
    df = np.array([1.0, 3.5, 200.0])
    want = t.logpdf(y[:, None], df, loc=means, scale=np.sqrt(variances))
    # scipy evaluates the same closed form by another route: agreement to
    # round-off of values up to ~1e2 in magnitude
    assert_allclose(student_t_logpdf(means, variances, df, y), want, rtol=1e-12)


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
@pytest.mark.parametrize("add_intercept", [True, False])
def test_linear_expert_suffstats(n, d, K, add_intercept):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    R[::3, -1] = 0.0  # rows without weight contribute nothing
    p = d + 1 if add_intercept else d
    B = np.random.RandomState(2).standard_normal((K, p))
    for at in (B, np.zeros((K, p))):
        for g, w in zip(linear_expert_suffstats(X, y, R, at, add_intercept),
                        ref.linear_expert_suffstats(X, y, R, at, add_intercept),
                        strict=True):
            assert_allclose(g, w, rtol=RTOL, atol=1e-12)


# 530-row chunks: two full blocks of BLOCK rows and a partial one of 18 rows
# (d = 2, K = 3: far below the BLAS cap)
FUSED_SHAPES = SHAPES + [(16 * (2 * BLOCK + 18), 2, 3), (2000, 30, 4)]


@pytest.mark.parametrize("n, d, K", FUSED_SHAPES)
@pytest.mark.parametrize("trial", [False, True])
def test_fused_estep_statistics(n, d, K, trial):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    rng = np.random.RandomState(1)
    B, c = rng.standard_normal((K, d)), rng.standard_normal(K)
    w = rng.random_sample(n) * 2
    w[::3] = 0.0  # zero-weight rows contribute nothing
    R[::5, 0] = 0.0
    resp = R.copy() if trial else np.full((n, K), np.nan)
    got = fused_estep_statistics(X, y, w, coef, intercept, B, c, variances, resp,
                                 trial)
    want, resp_ref = ref.fused_estep_statistics(X, y, w, coef, intercept, B, c,
                                                variances, R if trial else None)
    assert_allclose(resp, resp_ref, rtol=RTOL, atol=1e-14)
    for g, v in zip(got, want, strict=True):
        assert_allclose(g, v, rtol=RTOL, atol=1e-11)


@pytest.mark.parametrize("n, d, K", FUSED_SHAPES[-2:])
def test_parallel_twins_equal_their_serial_kernels(n, d, K):
    # bit for bit (with one thread here; tests/test_threads.py with two)
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    B, c = coef[::-1].copy(), intercept[::-1].copy()
    w = np.random.RandomState(1).random_sample(n)
    pairs = [
        (fused_estep_statistics, fused_estep_statistics_parallel,
         (X, y, w, coef, intercept, B, c, variances, R.copy(), True)),
        (linear_expert_suffstats, linear_expert_suffstats_parallel,
         (X, y, R, np.hstack([B, c[:, None]]), True)),
        (softmax_gate_objective, softmax_gate_objective_parallel,
         (X, coef, intercept, R, True)),
        (gaussian_estep_linear, gaussian_estep_linear_parallel,
         (X, y, coef, intercept, B, c, variances)),
    ]
    for serial, parallel, args in pairs:
        one = serial(*[np.copy(a) for a in args])
        two = parallel(*[np.copy(a) for a in args])
        for a, b in zip(one, two, strict=True):
            assert np.array_equal(a, b), serial.__name__


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(want)


def test_vexp_within_one_ulp_of_libm():
    # libm's exp (math.exp, correctly rounded but for rare cases) against the
    # vectorisable exp of the fused pass: at most 1 ulp over [EXP_MIN, 0],
    # uniformly, in the reduced range and around the reduction's breakpoints
    # (multiples of ln(2) / 2)
    rng = np.random.RandomState(0)
    breakpoints = (np.arange(-2040, 1) * math.log(2) / 2)[:, None]
    x = np.concatenate([rng.uniform(EXP_MIN, 0.0, 20000),
                        rng.uniform(-1.0, 0.0, 5000),
                        (breakpoints + np.linspace(-1e-9, 1e-9, 5)).ravel()])
    x = np.minimum(x[x >= EXP_MIN], 0.0)
    out = np.empty_like(x)
    vexp(x, out, np.empty(x.size, dtype=np.int64), x.size)
    libm = np.array([math.exp(v) for v in x])
    assert np.max(_ulps(out, libm)) <= 1.0
    assert np.max(_ulps(out, ref.vexp(x))) <= 1.0


def test_vexp_limits():
    x = np.array([0.0, -0.0, EXP_MIN, -708.5, -745.2, -1e300, -np.inf, np.nan,
                  -1e-300])
    out = np.empty_like(x)
    vexp(x, out, np.empty(x.size, dtype=np.int64), x.size)
    assert out[0] == out[1] == 1.0 and out[-1] == 1.0
    assert _ulps(out[2], math.exp(EXP_MIN)) <= 1.0  # the last normal result
    assert np.all(out[3:7] == 0.0)  # below the range: 0, not a subnormal
    assert np.isnan(out[7])
    # in place, over a prefix only
    y = np.array([-1.0, -2.0, -3.0])
    vexp(y, y, np.empty(3, dtype=np.int64), 2)
    assert_allclose(y, [math.exp(-1.0), math.exp(-2.0), -3.0], rtol=2.3e-16)


def test_kernels_do_not_modify_inputs():
    X, y, coef, intercept, R, means, variances = _data(30, 2, 3)
    arrays = [X, y, coef, intercept, R, means, variances]
    before = [a.copy() for a in arrays]
    log_gate = log_softmax_rows(X @ coef.T + intercept)
    gaussian_estep(log_gate, means, variances, y)
    gaussian_estep_linear(X, y, coef, intercept, coef, intercept, variances)
    weighted_residual_ss(y, means, R)
    softmax_gate_objective(X, coef, intercept, R, True)
    linear_expert_suffstats(X, y, R, np.ones((3, 3)), True)
    fused_estep_statistics(X, y, y * y, coef, intercept, coef, intercept,
                           variances, R.copy(), True)
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


TOP_K_SHAPES = [(1, 2, 1), (7, 3, 1), (7, 3, 2), (50, 4, 3), (200, 5, 2)]  # (n, K, k)


def _ties(n, K, seed):
    """Logits with exact ties (integers) to check the tie-breaking rule."""
    return np.random.RandomState(seed).randint(-2, 3, size=(n, K)).astype(float)


@pytest.mark.parametrize("n, K, k", TOP_K_SHAPES + [(30, 3, 3), (5, 1, 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_topk_log_softmax_rows(n, K, k, ties):
    Z = _ties(n, K, 1) if ties else np.random.RandomState(1).standard_normal((n, K)) * 5
    got = topk_log_softmax_rows(Z, k)
    want = ref.topk_log_softmax_rows(Z, k)
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    assert np.all(np.isfinite(got).sum(axis=1) == k)
    finite = np.isfinite(want)
    assert_allclose(got[finite], want[finite], rtol=RTOL, atol=1e-13)


def test_topk_equal_to_k_is_the_dense_softmax():
    Z = np.random.RandomState(0).standard_normal((20, 4)) * 10
    assert_allclose(topk_log_softmax_rows(Z, 4), log_softmax_rows(Z), rtol=RTOL,
                    atol=1e-13)


@pytest.mark.parametrize("n, K, k", TOP_K_SHAPES + [(30, 3, 3), (5, 1, 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_sigmoid_log_weights(n, K, k, ties):
    Z = _ties(n, K, 2) if ties else np.random.RandomState(2).standard_normal((n, K)) * 5
    got = sigmoid_log_weights(Z, k)
    want = ref.sigmoid_log_weights(Z, k)
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    assert_allclose(got[finite], want[finite], rtol=RTOL, atol=1e-13)


def test_sigmoid_log_weights_extreme_logits_stay_finite():
    Z = np.array([[800.0, -800.0, 0.0], [-900.0, -901.0, -950.0]])
    out = sigmoid_log_weights(Z, 3)
    assert np.all(np.isfinite(out))
    # log-weights are differences of log-sigmoids of size ~900: absolute
    # round-off ~900 eps = 2e-13
    assert_allclose(np.exp(out).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("n, d, K", SHAPES)
@pytest.mark.parametrize("hessian", [True, False])
def test_sigmoid_gate_objective(n, d, K, hessian):
    X, y, coef, intercept, R, means, variances = _data(n, d, K)
    got = sigmoid_gate_objective(X, coef, intercept, R, hessian)
    want = ref.sigmoid_gate_objective(X, coef, intercept, R, hessian)
    for g, w in zip(got, want, strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("n, K, k", TOP_K_SHAPES)
@pytest.mark.parametrize("smoothing", [0.01, 0.5, 3.0])
def test_soft_topk(n, K, k, smoothing):
    if k >= K:
        pytest.skip("the smoothed selection needs top_k < K")
    rng = np.random.RandomState(3)
    A, Z, G = (rng.standard_normal((n, K)) * 3 for _ in range(3))
    assert_allclose(soft_topk_log_weights(A, Z, k, smoothing),
                    ref.soft_topk_log_weights(A, Z, k, smoothing), rtol=RTOL,
                    atol=1e-12)
    for g, w in zip(soft_topk_vjp(G, A, Z, k, smoothing),
                    ref.soft_topk_vjp(G, A, Z, k, smoothing), strict=True):
        assert_allclose(g, w, rtol=RTOL, atol=1e-12)


def test_soft_topk_tends_to_the_exact_top_k():
    rng = np.random.RandomState(4)
    # every row a permutation of (3, 1, 0, -2) plus an offset: the 2nd and 3rd
    # largest logits are 1 apart, so at s = 0.01 the excluded experts' mask is
    # sigmoid(-50) ~ 2e-22 and the kept ones' 1 - 2e-22
    Z = np.array([rng.permutation([3.0, 1.0, 0.0, -2.0]) for _ in range(40)])
    Z += rng.standard_normal((40, 1))
    exact = np.exp(topk_log_softmax_rows(Z, 2))
    soft = np.exp(soft_topk_log_weights(Z, Z, 2, 0.01))
    assert_allclose(soft, exact, rtol=1e-13, atol=1e-20)


def test_soft_topk_vjp_by_finite_differences():
    rng = np.random.RandomState(5)
    A, Z, G = (rng.standard_normal((6, 4)) for _ in range(3))
    dA, dZ = soft_topk_vjp(G, A, Z, 2, 0.7)

    def f(a, z):
        return np.sum(G * soft_topk_log_weights(a, z, 2, 0.7))

    h = 1e-6
    for M, dM, which in ((A, dA, 0), (Z, dZ, 1)):
        fd = np.zeros_like(M)
        for idx in np.ndindex(M.shape):
            e = np.zeros_like(M)
            e[idx] = h
            args_p = (A + e, Z) if which == 0 else (A, Z + e)
            args_m = (A - e, Z) if which == 0 else (A, Z - e)
            fd[idx] = (f(*args_p) - f(*args_m)) / (2 * h)
        # central differences: truncation O(h^2), round-off ~1e-10
        assert_allclose(dM, fd, rtol=1e-6, atol=1e-7)


def test_gating_kernels_do_not_modify_inputs():
    X, y, coef, intercept, R, means, variances = _data(30, 2, 3)
    Z = X @ coef.T + intercept
    G = R.copy()
    arrays = [X, coef, intercept, R, Z, G]
    before = [a.copy() for a in arrays]
    topk_log_softmax_rows(Z, 2)
    sigmoid_log_weights(Z, 2)
    sigmoid_gate_objective(X, coef, intercept, R, True)
    soft_topk_log_weights(Z, Z, 2, 0.5)
    soft_topk_vjp(G, Z, Z, 2, 0.5)
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(a, b)
