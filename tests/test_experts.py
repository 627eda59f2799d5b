"""Contract tests run on every expert family (discovered from the registry)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

from skmoe import LinearExperts

from ._instances import experts_instances

EXPERTS = experts_instances()


def _setup(n=200, d=3, K=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    R = np.ascontiguousarray(rng.dirichlet(np.ones(K), size=n))
    return X, y, R


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_m_step_minimises_weighted_squared_error(experts):
    # for any fixed variance the expert update minimises sum_i R_ik (y_i - h)^2
    # (exact families in one call; generalised-EM families, which only
    # decrease it, when iterated to a fixed point): no random perturbation of
    # the result does better
    if getattr(experts, "activation", None) == "relu":
        pytest.skip("a ReLU expert's squared error is not differentiable where "
                    "a hinge crosses a sample, and Gauss-Newton updates can "
                    "stop there; see tests/test_ffn.py")
    X, y, R = _setup()
    params = experts.init(X, y, R, np.random.RandomState(0))
    for _ in range(300):
        new = experts.m_step(X, y, R, params)
        if np.array_equal(new, params):
            break
        params = new

    def sse(p):
        return np.sum(R * (y[:, None] - experts.predict(X, p)) ** 2, axis=0)

    best = sse(params)
    rng = np.random.RandomState(1)
    theta = experts.pack(params)
    K, d = params.shape[0], X.shape[1]
    for _ in range(20):
        # perturb the free parameters only (frozen columns stay at zero)
        pert = experts.unpack(theta + 1e-3 * rng.standard_normal(theta.size),
                              K, d)
        assert np.all(sse(pert) >= best - 1e-12)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_m_step_never_increases_any_experts_squared_error(experts):
    # the generalised-EM contract, expert by expert, from a poor start
    X, y, R = _setup()
    rng = np.random.RandomState(3)
    theta = experts.pack(experts.init(X, y, R, rng))
    start = experts.unpack(theta + rng.standard_normal(theta.size), 3, X.shape[1])

    def sse(p):
        return np.sum(R * (y[:, None] - experts.predict(X, p)) ** 2, axis=0)

    new = experts.m_step(X, y, R, start)
    assert new.shape == start.shape and np.all(np.isfinite(new))
    assert np.all(sse(new) <= sse(start))


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_canonicalize_keeps_the_function(experts):
    X, y, R = _setup(n=50)
    rng = np.random.RandomState(4)
    theta = experts.pack(experts.random_params(X.shape[1], 3, rng))
    theta += 0.3 * rng.standard_normal(theta.size)
    theta[0] = -abs(theta[0])  # for FFN experts: a row that is not canonical
    params = experts.unpack(theta, 3, X.shape[1])
    canon = experts.canonicalize(params)
    assert canon is not params
    assert_allclose(experts.predict(X, canon), experts.predict(X, params),
                    rtol=1e-12, atol=1e-12)
    # a canonical row is its own representative
    assert_allclose(experts.canonicalize(canon), canon, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_random_params_belong_to_the_family(experts):
    params = experts.random_params(2, 4, np.random.RandomState(0))
    assert params.shape == (4, experts.n_params(2))
    assert np.array_equal(experts.unpack(experts.pack(params), 4, 2), params)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_blocks_cover_the_row(experts):
    d = 4
    blocks = experts.param_blocks(d)
    covered = np.zeros(experts.n_params(d), dtype=int)
    for block in blocks.values():
        covered[block] += 1
    assert np.all(covered == 1)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_clone_and_pickle(experts):
    assert clone(experts).get_params() == experts.get_params()
    assert pickle.loads(pickle.dumps(experts)).get_params() == experts.get_params()


def test_linear_m_step_equals_numpy_weighted_lstsq():
    X, y, R = _setup()
    params = LinearExperts().m_step(X, y, R, np.zeros((3, 4)))
    F = np.hstack([X, np.ones((len(y), 1))])
    for k in range(3):
        sw = np.sqrt(R[:, k])
        want = np.linalg.lstsq(F * sw[:, None], y * sw, rcond=None)[0]
        assert_allclose(params[k], want, rtol=1e-10)


def test_expert_without_mass_keeps_its_parameters():
    X, y, R = _setup()
    R[:, 1] = 0.0
    old = np.arange(12.0).reshape(3, 4)
    new = LinearExperts().m_step(X, y, np.ascontiguousarray(R), old)
    assert np.array_equal(new[1], old[1])


def test_fewer_samples_than_parameters_gives_min_norm_solution():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((3, 6)), rng.standard_normal(3)
    R = np.ones((3, 1))
    params = LinearExperts().m_step(X, y, R, np.zeros((1, 7)))
    F = np.hstack([X, np.ones((3, 1))])
    assert_allclose(F @ params[0], y, atol=1e-10)  # interpolates
    assert_allclose(params[0], np.linalg.pinv(F) @ y, rtol=1e-8)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_grad_by_finite_differences(experts):
    X, y, R = _setup(n=50)
    rng = np.random.RandomState(2)
    n_free = experts.pack(np.zeros((3, experts.n_params(X.shape[1])))).size
    theta = rng.standard_normal(n_free)
    G = rng.standard_normal((50, 3))
    params = experts.unpack(theta, 3, X.shape[1])
    assert np.array_equal(experts.pack(params), theta)
    grad = experts.grad(X, params, G)

    def objective(t):
        return float(np.sum(G * experts.predict(X, experts.unpack(t, 3, X.shape[1]))))

    h = 1e-6
    fd = np.array([(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                   for e in np.eye(n_free)])
    # central differences: truncation ~1e-12, round-off ~1e-9 (see test_gating)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
