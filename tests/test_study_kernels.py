"""The convergence studies' inner solvers: the faster kernels give the same bits.

The Levenberg-Marquardt update of the FFN experts evaluates its trials only
for the experts that try and only on the free columns
(:func:`~skmoe._kernels._ffn.ffn_nls_into`); every statistic it reads is
accumulated as :func:`~skmoe._kernels._ffn.ffn_nls` accumulates it, so the
update is bit-identical to the one that evaluated every expert on every
column (its loop is kept here, :func:`_lm_update_all_columns`;
``ffn_nls`` is ``ffn_nls_into`` on all experts and columns, checked against
NumPy in ``test_kernels.py``). Exact
equality (``array_equal``) is the test: the claim is the same operations in
the same order, not closeness.
"""

import numpy as np
import pytest

from skmoe._kernels._ffn import ffn_nls, ffn_nls_into
from skmoe._kernels._ffn_steps import ffn_lm_update, lm_solve
from skmoe._kernels._linalg import (
    ROUNDOFF,
    cholesky_solve_into,
    damped_cholesky_solve,
    ridge_cholesky,
)
from skmoe._kernels._sigmoid import (
    sigmoid_gate_objective,
    sigmoid_gate_objective_into,
)
from skmoe._kernels._sigmoid_steps import (
    sigmoid_newton_ascent,
    sigmoid_objective_into,
)
from skmoe.convergence import deepseek_estimator, deepseek_truth, near_true_init
from skmoe.datasets import sample_moe_regression

from .conftest import assert_non_decreasing

ACTIVATIONS = [0, 1, 2, 3]
FREE = [np.array([0, 1], dtype=np.int64), np.array([0, 1, 2], dtype=np.int64),
        np.array([0, 1, 2, 3], dtype=np.int64), np.array([1, 3], dtype=np.int64)]


def _data(n, K, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 1))
    P = rng.standard_normal((K, 4))
    y = np.maximum(X[:, 0] - 0.5, 0.0) * 1.5 + 0.3 * rng.standard_normal(n)
    R = rng.dirichlet(np.ones(K), n)
    R[::7, 0] = 0.0  # zero weights are skipped
    return X, y, R, P


@pytest.mark.parametrize("code", ACTIVATIONS)
@pytest.mark.parametrize("free", FREE, ids=str)
@pytest.mark.parametrize("gn", [True, False])
def test_ffn_nls_into_is_ffn_nls_on_free_columns(code, free, gn):
    X, y, R, P = _data(500, 3)
    sse, jte, jtj = ffn_nls(X, y, R, P, code, True)
    active = np.array([True, False, True])
    m = free.shape[0]
    s, g, H = np.full(3, 7.0), np.full((3, m), 7.0), np.full((3, m, m), 7.0)
    ffn_nls_into(X, y, R, P, code, free, active, gn, s, g, H)
    for k in (0, 2):
        assert s[k] == sse[k]
        assert np.array_equal(g[k], jte[k, free])
        if gn:
            assert np.array_equal(H[k], jtj[k][np.ix_(free, free)])
    assert s[1] == 7.0 and np.all(g[1] == 7.0) and np.all(H[1] == 7.0)
    if not gn:
        assert np.all(H == 7.0)


def _lm_update_all_columns(X, y, R, P, code, free, max_gn_iter, max_tries,
                           lambda0, step_tol):
    """The update with every trial evaluated for all experts and all columns
    by ``ffn_nls`` (the loop of ``ffn_lm_update`` before the trials were
    restricted, with its round-off rule)."""
    K, q = P.shape
    m = free.shape[0]
    sums = R.sum(axis=0)  # only compared with 1e-10 of the total
    todo = sums > 1e-10 * sums.sum()
    lam = np.full(K, lambda0)
    sse, jte, jtj = ffn_nls(X, y, R, P, code, True)
    step = np.empty(m)
    for _ in range(max_gn_iter):
        trying, accepted = todo.copy(), np.zeros(K, bool)
        converged = np.zeros(K, bool)
        if not todo.any():
            break
        for _ in range(max_tries):
            if not trying.any():
                break
            trial = P.copy()
            for k in np.flatnonzero(trying):
                A = np.ascontiguousarray(jtj[k][np.ix_(free, free)])
                b = np.ascontiguousarray(jte[k, free])
                lm_solve(A, b, lam[k], step)
                pred = 0.0
                for a in range(m):
                    hs = 0.0
                    for c in range(m):
                        hs += A[a, c] * step[c]
                    pred += step[a] * (2.0 * b[a] - hs)
                if not pred > ROUNDOFF * sse[k]:
                    trying[k] = False  # the round-off rule
                    continue
                trial[k, free] += step
                converged[k] = (np.abs(step).max()
                                <= step_tol * (1.0 + np.abs(P[k]).max()))
            if not trying.any():
                break
            sse_t, jte_t, jtj_t = ffn_nls(X, y, R, trial, code, True)
            for k in np.flatnonzero(trying):
                if np.isfinite(sse_t[k]) and sse_t[k] <= sse[k]:
                    P[k], sse[k] = trial[k], sse_t[k]
                    jte[k], jtj[k] = jte_t[k], jtj_t[k]
                    accepted[k] = True
                    lam[k] = max(lam[k] / 10.0, 1e-15)
                    trying[k] = False
                else:
                    lam[k] *= 10.0
        todo = accepted & ~converged
    return P


@pytest.mark.parametrize("code", ACTIVATIONS)
@pytest.mark.parametrize("free", FREE[:3], ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ffn_lm_update_is_bit_identical_to_all_column_update(code, free, seed):
    X, y, R, P = _data(400, 3, seed)
    P[:, [c for c in range(4) if c not in free]] = 0.0
    # one expert at its optimum: its steps are rejected (the retries path)
    ffn_lm_update(X, y, R, P, code, free, 50, 10, 1e-3, 0.0)
    P[1, free] += 0.5
    want = _lm_update_all_columns(X, y, R, P.copy(), code, free, 3, 10, 1e-3,
                                  1e-10)
    got = P.copy()
    ffn_lm_update(X, y, R, got, code, free, 3, 10, 1e-3, 1e-10)
    assert np.array_equal(got, want)
    if seed == 0:  # not vacuous: here the update moves (at other seeds a
        # ReLU unit may be off on every row, and nothing moves)
        assert not np.array_equal(got, P)


# ------------------------------------------------- normalized sigmoid gate
def _sigmoid_data(n, K, seed=0, d=1):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, d))
    coef = rng.standard_normal((K, d))
    intercept = rng.standard_normal(K)
    R = rng.dirichlet(np.ones(K), n) * rng.uniform(0.5, 1.5, (n, 1))
    R[::11] = 0.0  # rows without weight
    R[::5, 1] = 0.0
    return X, R, coef, intercept


@pytest.mark.parametrize("K, d", [(2, 1), (3, 1), (3, 2)])
def test_sigmoid_objective_into_gives_the_line_search_bits(K, d):
    X, R, coef, intercept = _sigmoid_data(300, K, d=d)
    m = K * (d + 1)
    LW1, LW2 = np.empty((300, K)), np.empty((300, K))
    want = sigmoid_objective_into(X, coef, intercept, R, LW1, True)
    grad, F, D = np.empty(m), np.empty((m, m)), np.empty((m, m))
    got = sigmoid_gate_objective_into(X, coef, intercept, R, True, LW2, grad,
                                      F, D)
    assert got == want
    assert np.array_equal(LW1, LW2)
    value, g, H, Fi = sigmoid_gate_objective(X, coef, intercept, R, True)
    assert value == want
    assert np.array_equal(g, grad) and np.array_equal(Fi, F)
    assert np.array_equal(H, F + D)
    v2 = sigmoid_gate_objective_into(X, coef, intercept, R, False,
                                     np.empty((0, K)), grad, F, D)
    assert v2 == want and np.array_equal(g, grad)


def _newton_ascent_two_passes(X, R, coef, intercept, max_iter, step_tol,
                              pin_last, LW):
    """The ascent with every accepted step followed by a separate curvature
    pass, the last one included (the kernel's loop before the passes were
    fused, with its round-off rule, on the same objective kernels)."""
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    full = K * p
    m = (K - 1) * p if pin_last else full
    theta = np.hstack([coef, intercept[:, None]]).ravel()
    value, grad, neg_hess, fisher = sigmoid_gate_objective(X, coef, intercept,
                                                           R, True)
    sol = np.empty(m)
    L, B = np.empty((m, m)), np.empty((m, m))
    current = False
    passes = 1
    for _ in range(max_iter):
        g = grad[:m].copy()
        Fm = np.ascontiguousarray(fisher[:m, :m])
        scale = max(np.trace(Fm) / m, 1e-300)
        if ridge_cholesky(np.ascontiguousarray(neg_hess[:m, :m]),
                          1e-10 * scale, L, B):
            cholesky_solve_into(L, g, sol)
        elif not damped_cholesky_solve(Fm, g, sol):
            break
        step = np.zeros(full)
        step[:m] = sol
        slope = 0.0
        for a in range(m):
            slope += g[a] * sol[a]
        if not slope > 0:
            break
        t, accepted = 1.0, False
        for _ in range(40):
            if not t * slope > ROUNDOFF * abs(value):
                break  # the round-off rule
            new = theta + t * step
            coef[:], intercept[:] = new.reshape(K, p)[:, :d], new[d::p]
            v_new = sigmoid_objective_into(X, coef, intercept, R, LW, True)
            passes += 1
            if v_new >= value + 1e-4 * t * slope:
                accepted = True
                break
            current = False
            t *= 0.5
        if not accepted:
            coef[:], intercept[:] = theta.reshape(K, p)[:, :d], theta[d::p]
            break
        current = True
        theta = theta + t * step
        if np.abs(t * step).max() <= step_tol * (1.0 + np.abs(theta).max()):
            break
        value, grad, neg_hess, fisher = sigmoid_gate_objective(
            X, coef, intercept, R, True)
        passes += 1
    if not current:
        sigmoid_objective_into(X, coef, intercept, R, LW, True)
    return passes


@pytest.mark.parametrize("K, d, pin_last", [(2, 1, True), (3, 1, True),
                                            (3, 1, False), (3, 2, True)])
@pytest.mark.parametrize("max_iter", [1, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_sigmoid_newton_ascent_is_bit_identical_to_two_pass_ascent(
        K, d, pin_last, max_iter, seed):
    X, R, coef, intercept = _sigmoid_data(400, K, seed, d)
    if pin_last:
        coef[-1], intercept[-1] = 0.0, 0.0
    c1, i1, LW1 = coef.copy(), intercept.copy(), np.empty((400, K))
    passes = _newton_ascent_two_passes(X, R, c1, i1, max_iter, 1e-9, pin_last,
                                       LW1)
    c2, i2, LW2 = coef.copy(), intercept.copy(), np.empty((400, K))
    assert sigmoid_newton_ascent(X, R, c2, i2, max_iter, 1e-9, pin_last, LW2)
    assert np.array_equal(c1, c2) and np.array_equal(i1, i2)
    assert np.array_equal(LW1, LW2)
    assert passes >= 2 and not np.array_equal(c2, coef)  # not vacuous


# ------------------------------------------------ the round-off stopping rules
@pytest.mark.parametrize("code", ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ffn_lm_update_never_increases_an_experts_squared_error(code, seed):
    X, y, R, P = _data(400, 3, seed)
    free = FREE[1]
    P[:, 3] = 0.0
    for _ in range(6):
        before = ffn_nls(X, y, R, P, code, False)[0]
        ffn_lm_update(X, y, R, P, code, free, 3, 10, 1e-3, 1e-10)
        after = ffn_nls(X, y, R, P, code, False)[0]
        assert np.all(after <= before)


def test_ffn_lm_update_keeps_a_converged_expert_without_trials():
    # at a stationary point (200 steps) the predicted decrease of every step
    # is below the round-off of the sum: the rows stay bit for bit. ReLU, the
    # studies' activation (on these data the sigmoid and tanh units drift
    # along flat directions for hundreds of updates: no stationary point)
    code = 2
    X, y, R, P = _data(2000, 2, 0)
    free = FREE[1]
    P[:, 3] = 0.0
    ffn_lm_update(X, y, R, P, code, free, 200, 10, 1e-3, 0.0)
    again = P.copy()
    ffn_lm_update(X, y, R, again, code, free, 3, 10, 1e-3, 1e-10)
    assert np.array_equal(again, P)


@pytest.mark.parametrize("K, pin_last", [(2, True), (3, True), (3, False)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_newton_ascent_never_decreases_the_objective(K, pin_last, seed):
    X, R, coef, intercept = _sigmoid_data(400, K, seed)
    if pin_last:
        coef[-1], intercept[-1] = 0.0, 0.0
    LW = np.empty((400, K))
    for _ in range(6):
        before = sigmoid_gate_objective(X, coef, intercept, R, False)[0]
        assert sigmoid_newton_ascent(X, R, coef, intercept, 3, 1e-9, pin_last,
                                     LW)
        after = sigmoid_objective_into(X, coef, intercept, R, LW, False)
        assert after >= before
        # LW holds the log-weights of the returned gate
        want = np.empty_like(LW)
        sigmoid_objective_into(X, coef, intercept, R, want, True)
        assert np.array_equal(LW, want)


def test_sigmoid_newton_ascent_keeps_a_converged_gate():
    X, R, coef, intercept = _sigmoid_data(2000, 3, 0)
    coef[-1], intercept[-1] = 0.0, 0.0
    LW = np.empty((2000, 3))
    sigmoid_newton_ascent(X, R, coef, intercept, 100, 0.0, True, LW)
    c, i = coef.copy(), intercept.copy()
    sigmoid_newton_ascent(X, R, c, i, 3, 1e-9, True, LW)
    assert np.array_equal(c, coef) and np.array_equal(i, intercept)


# ------------------------------------------------ the studies' EM, end to end
@pytest.mark.parametrize("experiment", ["a", "c", "d"])
def test_study_fits_are_monotone(experiment):
    # the DeepSeekMoE studies' models (FFN experts, the sigmoid gate) with the
    # round-off rules: EM never decreases the log-likelihood beyond round-off
    truth = deepseek_truth(experiment)
    est = deepseek_estimator(experiment, max_iter=200)
    X, y = sample_moe_regression(truth, 3000, x_distribution="uniform",
                                 random_state=0)
    p = est.get_params()
    start = near_true_init(truth, 3, n_shared_experts=2, gating=p["gating"],
                           experts=p["experts"],
                           shared_experts=p["shared_experts"],
                           shared_weight=0.5, recipe="authors", noise=0.05,
                           n_samples=3000, random_state=1)
    est.set_params(init_params=start, random_state=0).fit(X, y)
    assert est.n_iter_ > 5
    assert_non_decreasing(est.history_)
