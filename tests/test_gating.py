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


def _n_experts(gating, K=3):
    """The first of K, K + 1, ... that the family accepts (n_groups divides)."""
    while True:
        try:
            gating.check_n_experts(K, 2)
            return K
        except ValueError:
            K += 1


def _is_sparse(gating, K):
    top_k = gating.get_params().get("top_k")
    return top_k is not None and top_k < K


def _setup(gating, n=300, d=2, K=None, seed=0):
    """Data, weights, responsibilities on the gate's support, and a start."""
    K = _n_experts(gating) if K is None else K
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    w = rng.randint(1, 3, size=n).astype(float)
    fields = gating.init(X, w, K, rng)
    params = MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                       gating=gating, **fields)
    # EM's responsibilities are zero wherever the gate is zero
    support = np.isfinite(gating.log_weights(X, params))
    R = rng.dirichlet(np.ones(K), size=n) * support
    R *= (w / R.sum(axis=1))[:, None]
    return X, w, np.ascontiguousarray(R), params


def _truth_and_R(gating, X, w, seed=2):
    """A random gate of the family and the responsibilities it implies.

    With ``R = w * g*(x)`` the gate objective sum_ik R_ik log g_k(x_i) is
    maximised by g = g* (Gibbs' inequality): the optimum is known exactly.
    """
    K = _n_experts(gating)
    d = X.shape[1]
    fields = gating.random_params(d, K, 2.0, np.random.RandomState(seed))
    truth = MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                      gating=gating, **fields)
    R = np.exp(gating.log_weights(X, truth)) * w[:, None]
    return truth, np.ascontiguousarray(R)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_weights_on_the_simplex(gating):
    X, _, _, params = _setup(gating)
    g = np.exp(gating.log_weights(X * 50, params))
    assert np.all(g >= 0)
    assert_allclose(g.sum(axis=1), 1.0, rtol=1e-12)
    K = params.n_experts
    if _is_sparse(gating, K):
        # a fit starts from a smoothed selection (all weights positive); the
        # exact gate gives weight to exactly top_k experts, the others exactly 0
        truth, _ = _truth_and_R(gating, X, np.ones(len(X)))
        g = np.exp(gating.log_weights(X * 50, truth))
        assert_allclose(g.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all((g > 0).sum(axis=1) == gating.top_k)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_m_step_never_decreases_the_objective(gating):
    X, w, R, params = _setup(gating)
    values = [gating.weighted_objective(X, R, params)]
    for _ in range(5):
        params = params.replace(**gating.m_step(X, R, params))
        values.append(gating.weighted_objective(X, R, params))
    # never decreases beyond the round-off of a sum of 300 terms (~1e-13 |Q|)
    assert np.all(np.diff(values) >= -1e-12 * abs(values[0])), values
    if not _is_sparse(gating, params.n_experts):
        assert values[-1] > values[0]


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_m_step_finds_the_gate_that_generated_R(gating):
    X, w, _, _ = _setup(gating)
    truth, R = _truth_and_R(gating, X, w)
    if _is_sparse(gating, truth.n_experts):
        pytest.skip("non-smooth: the fixed-point test covers top-K gates")
    # start near the truth: gates with an activation are not concave
    theta = gating.pack(truth)
    theta = theta + 0.3 * np.random.RandomState(5).standard_normal(theta.size)
    params = truth.replace(**gating.unpack(theta, truth))
    for _ in range(30):
        params = params.replace(**gating.m_step(X, R, params))
    # Newton updates reach round-off (~1e-14); the L-BFGS update of activated
    # gates stops at a gradient of 1e-10 W or when no step increases Q beyond
    # its round-off, ~1e-8 in the log-weights (measured); 1e-6 fails any
    # update that stops short
    assert_allclose(gating.log_weights(X, params), gating.log_weights(X, truth),
                    atol=1e-6)
    # stationarity; for the softmax it is moment matching,
    # sum_i (R_ik - w_i g_k(x_i)) [x_i, 1] = 0
    assert_allclose(gating.grad(X, params, R), 0.0, atol=1e-6 * w.sum())


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_m_step_is_a_fixed_point_at_the_optimum(gating):
    X, w, _, _ = _setup(gating)
    truth, R = _truth_and_R(gating, X, w)
    again = truth.replace(**gating.m_step(X, R, truth))
    assert_allclose(gating.pack(again), gating.pack(truth), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_normalised_and_permutable(gating):
    X, _, _, params = _setup(gating)
    norm = params.replace(**gating.normalize(params))
    assert_allclose(gating.log_weights(X, norm), gating.log_weights(X, params),
                    atol=1e-12)
    # the normalisation is idempotent
    again = norm.replace(**gating.normalize(norm))
    assert again.allclose(norm, rtol=1e-12, atol=1e-14)
    # a relabelling every family accepts: its canonical order of increasing
    # masses (reversed labels; whole groups of a hierarchical gate move as
    # blocks; a pinned normalized sigmoid keeps its pinned expert last)
    order = np.asarray(gating.canonical_order(np.arange(params.n_experts)))
    assert not np.array_equal(order, np.arange(params.n_experts))
    perm = params.replace(**gating.permute(params, order))
    assert_allclose(gating.log_weights(X, perm),
                    gating.log_weights(X, params)[:, order], atol=1e-12)


def test_softmax_normalisation_fixes_the_last_row():
    X, _, _, params = _setup(SoftmaxGating())
    norm = params.gating.normalize(params)
    assert np.all(norm["gate_coef"][-1] == 0) and norm["gate_intercept"][-1] == 0


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_clone_and_pickle(gating):
    c = clone(gating)
    assert c is not gating and c.get_params() == gating.get_params()
    assert pickle.loads(pickle.dumps(gating)).get_params() == gating.get_params()


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_init_is_row_order_and_n_independent_for_every_family(gating):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((100, 2))
    K = _n_experts(gating)
    a = gating.init(X, np.ones(100), K, np.random.RandomState(1))
    b = gating.init(X[::-1], np.ones(100), K, np.random.RandomState(1))
    c = gating.init(np.repeat(X, 2, axis=0), np.ones(200), K,
                    np.random.RandomState(1))
    for key in ("gate_coef", "gate_intercept"):
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
    K = params.n_experts
    params = params.replace(**gating.normalize(params))
    # G must vanish where the gate is exactly zero (a top-K gate); steps of
    # 1e-6 do not change the selected sets of these 60 rows
    support = np.isfinite(gating.log_weights(X, params))
    G = np.random.RandomState(3).standard_normal((60, K)) * support
    theta = gating.pack(params)
    assert theta.size == gating.n_free_params(2, K)

    def objective(t):
        p = params.replace(**gating.unpack(t, params))
        return float(np.sum(G[support] * gating.log_weights(X, p)[support]))

    _fd_check(objective, theta, gating.grad(X, params, G))


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_pack_unpack_round_trip(gating):
    X, w, R, params = _setup(gating)
    params = params.replace(**gating.normalize(params))
    back = params.replace(**gating.unpack(gating.pack(params), params))
    assert back.allclose(params, rtol=0)
