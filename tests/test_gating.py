"""Contract tests run on every gating family (discovered from the registry)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax
from sklearn.base import clone

from skmoe import MoEParams, SoftmaxGating
from skmoe._kernels._softmax import softmax_gate_objective

from ._instances import gating_instances

GATINGS = gating_instances()


def _setup(gating, n=300, d=2, K=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    w = rng.randint(1, 3, size=n).astype(float)
    fields = gating.init(X, w, K, rng)
    params = MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                       gating=gating, **fields)
    R = rng.dirichlet(np.ones(K), size=n) * w[:, None]
    return X, w, np.ascontiguousarray(R), params


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_weights_on_the_simplex(gating):
    X, _, _, params = _setup(gating)
    g = np.exp(gating.log_weights(X * 50, params))
    assert np.all(g >= 0)
    assert_allclose(g.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_m_step_increases_objective_to_the_optimum(gating):
    X, w, R, params = _setup(gating)
    before = gating.weighted_objective(X, R, params)
    new = params
    for _ in range(10):
        new = new.replace(**gating.m_step(X, R, new))
    after = gating.weighted_objective(X, R, new)
    assert after > before
    # optimality (moment matching): at the maximiser the gate reproduces the
    # responsibilities on average, sum_i (R_ik - w_i g_k(x_i)) [x_i, 1] = 0
    g = np.exp(gating.log_weights(X, new))
    moments = (R - w[:, None] * g).T @ np.hstack([X, np.ones((len(w), 1))])
    assert_allclose(moments, 0.0, atol=1e-8 * w.sum())


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_m_step_is_a_fixed_point_at_the_optimum(gating):
    X, w, R, params = _setup(gating)
    for _ in range(10):
        params = params.replace(**gating.m_step(X, R, params))
    again = params.replace(**gating.m_step(X, R, params))
    assert_allclose(again.gate_coef, params.gate_coef, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_normalised_and_permutable(gating):
    X, _, _, params = _setup(gating)
    norm = gating.normalize(params)
    assert np.all(norm["gate_coef"][-1] == 0) and norm["gate_intercept"][-1] == 0
    shifted = params.replace(**norm)
    assert_allclose(gating.log_weights(X, shifted), gating.log_weights(X, params),
                    atol=1e-12)
    order = np.array([1, 2, 0])
    perm = params.replace(**gating.permute(params, order))
    assert_allclose(gating.log_weights(X, perm),
                    gating.log_weights(X, params)[:, order], atol=1e-12)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_clone_and_pickle(gating):
    c = clone(gating)
    assert c is not gating and c.get_params() == gating.get_params()
    assert pickle.loads(pickle.dumps(gating)).get_params() == gating.get_params()


def test_init_is_row_order_and_n_independent():
    g = SoftmaxGating()
    rng = np.random.RandomState(0)
    X = rng.standard_normal((100, 2))
    a = g.init(X, np.ones(100), 3, np.random.RandomState(1))
    b = g.init(X[::-1], np.ones(100), 3, np.random.RandomState(1))
    c = g.init(np.repeat(X, 2, axis=0), np.ones(200), 3, np.random.RandomState(1))
    for key in a:
        assert_allclose(a[key], b[key], rtol=1e-12)
        assert_allclose(a[key], c[key], rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.1, 1.0, 7.0])
def test_temperature_is_softmax_of_scaled_logits(temperature):
    X, _, _, params = _setup(SoftmaxGating(temperature=temperature))
    Z = X @ params.gate_coef.T + params.gate_intercept
    assert_allclose(params.gating.log_weights(X, params),
                    log_softmax(Z / temperature, axis=1), rtol=1e-12, atol=1e-12)


def test_temperature_one_is_plain_softmax():
    X, w, R, params = _setup(SoftmaxGating())
    p1 = params.replace(gating=SoftmaxGating(temperature=1.0))
    assert np.array_equal(p1.gating.log_weights(X, p1),
                          params.gating.log_weights(X, params))


def test_temperature_only_rescales_the_optimum():
    # the objective depends on theta / tau only: the optimum scales with tau
    X, w, R, params = _setup(SoftmaxGating())
    fits = {}
    for tau in (1.0, 2.5):
        p = params.replace(gating=SoftmaxGating(temperature=tau))
        for _ in range(10):
            p = p.replace(**p.gating.m_step(X, R, p))
        fits[tau] = p.gate_coef
    assert_allclose(fits[2.5], 2.5 * fits[1.0], rtol=1e-7)


def test_gate_gradient_and_hessian_by_finite_differences():
    X, w, R, params = _setup(SoftmaxGating(), n=80, d=2, K=3)
    coef, intercept = params.gate_coef, params.gate_intercept
    _, grad, neg_hess = softmax_gate_objective(X, coef, intercept, R, True)
    theta = np.hstack([coef, intercept[:, None]])[:-1].ravel()

    def unpack(t):
        full = np.zeros((3, 3))
        full[:-1] = t.reshape(2, 3)
        return np.ascontiguousarray(full[:, :2]), np.ascontiguousarray(full[:, 2])

    def value(t):
        return softmax_gate_objective(X, *unpack(t), R, False)[0]

    def gradient(t):
        return softmax_gate_objective(X, *unpack(t), R, False)[1]

    h = 1e-6
    eye = np.eye(theta.size)
    fd_grad = np.array([(value(theta + h * e) - value(theta - h * e)) / (2 * h)
                        for e in eye])
    fd_hess = np.array([(gradient(theta + h * e) - gradient(theta - h * e)) / (2 * h)
                        for e in eye])
    # central differences: truncation O(h^2) ~ 1e-12, round-off ~ eps*|Q|/h ~ 1e-8
    assert_allclose(grad, fd_grad, rtol=1e-6, atol=1e-6)
    assert_allclose(-neg_hess, fd_hess, rtol=1e-6, atol=1e-6)


def _fd_check(f, x, grad, h=1e-6, rtol=1e-6, atol=1e-7):
    """Central differences of ``f`` along every coordinate of ``x``.

    Truncation error is O(h^2 f''') ~ 1e-12 and round-off ~ eps |f| / h ~ 1e-9
    for the O(1)-O(100) objectives used here, so 1e-6 separates a correct
    gradient from any wrong one.
    """
    x = np.asarray(x, dtype=float)
    fd = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd[idx] = (f(x + e) - f(x - e)) / (2 * h)
    assert_allclose(grad, fd, rtol=rtol, atol=atol)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_grad_by_finite_differences(gating):
    X, w, R, params = _setup(gating, n=60)
    params = params.replace(**gating.normalize(params))
    G = np.random.RandomState(3).standard_normal((60, 3))
    theta = gating.pack(params)
    assert theta.size == gating.n_free_params(2, 3)

    def objective(t):
        p = params.replace(**gating.unpack(t, params))
        return float(np.sum(G * gating.log_weights(X, p)))

    _fd_check(objective, theta, gating.grad(X, params, G))


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_pack_unpack_round_trip(gating):
    X, w, R, params = _setup(gating)
    params = params.replace(**gating.normalize(params))
    back = params.replace(**gating.unpack(gating.pack(params), params))
    assert back.allclose(params, rtol=0)
