"""The two-loss gradient method (solver="two_loss")."""

import numpy as np
import pytest

from skmoe import FFNExperts, MixtureOfExpertsRegressor
from skmoe.datasets import make_orthogonal_moe_regression
from skmoe.metrics import parameter_error
from skmoe.solvers._two_loss import expert_loss, landscape_experts, two_loss_start


def _orthogonal_tensor(K, seed):
    rng = np.random.RandomState(seed)
    V, _ = np.linalg.qr(rng.standard_normal((K, K)))
    lam = 1.0 + rng.uniform(size=K)
    return lam, V, np.einsum("l,il,jl,kl->ijk", lam, V, V, V)


def test_expert_loss_gradient_matches_central_differences():
    # central differences with h = 1e-6 have error O(h^2) ~ 1e-12 times the
    # third derivative plus round-off ~1e-16 / h = 1e-10: rtol 1e-6 leaves
    # margin for both
    _, _, M3 = _orthogonal_tensor(3, 0)
    M3 = M3 + 0.1 * np.random.RandomState(1).standard_normal(M3.shape)
    B = np.random.RandomState(2).standard_normal((3, 3))
    _, grad = expert_loss(B, M3)
    h = 1e-6
    fd = np.zeros_like(B)
    for idx in np.ndindex(*B.shape):
        E = np.zeros_like(B)
        E[idx] = h
        fd[idx] = (expert_loss(B + E, M3)[0] - expert_loss(B - E, M3)[0]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_expert_loss_is_a_fourth_order_orthogonal_objective():
    # sum_m M3_m (x) M3_m = sum_l lam_l^2 v_l^(x)4 for an orthogonal M3, so the
    # loss at the true components is 0 (exact up to round-off)
    lam, V, M3 = _orthogonal_tensor(3, 3)
    T4 = np.einsum("mab,mcd->abcd", M3, M3)
    np.testing.assert_allclose(
        T4, np.einsum("l,al,bl,cl,dl->abcd", lam**2, V, V, V, V), atol=1e-12)
    assert abs(expert_loss(V, M3)[0]) < 1e-12


@pytest.mark.parametrize("K", [2, 3])
def test_landscape_every_random_start_finds_the_components(K):
    # no spurious local minima: 5 random starts all reach the components
    # (L-BFGS stops at gtol 1e-10, so the components agree to ~1e-6)
    lam, V, M3 = _orthogonal_tensor(K, 4)
    for seed in range(5):
        got_lam, U, loss = landscape_experts(M3, np.random.RandomState(seed))
        assert loss < 1e-10
        order = np.argmax(np.abs(U.T @ V), axis=1)
        assert sorted(order) == list(range(K))
        np.testing.assert_allclose(U, V[:, order], atol=1e-5)
        np.testing.assert_allclose(got_lam, lam[order], rtol=1e-5)


def test_two_loss_holds_the_experts_fixed():
    from skmoe import LinearExperts, SoftmaxGating
    from skmoe.solvers._gradient import run_lbfgs

    n, K = 3000, 2
    X, y, _ = make_orthogonal_moe_regression(n, 6, K, noise=0.3, random_state=0)
    var_floor = 1e-6 * y.var()
    start = two_loss_start(X, y, np.ones(n), K, SoftmaxGating(), LinearExperts(),
                           np.random.RandomState(0), var_floor)
    result = run_lbfgs(X, y, np.ones(n), start, objective="likelihood",
                       max_iter=200, tol=1e-8, var_floor=var_floor,
                       fixed_experts=True)
    assert np.array_equal(result.params.expert_params, start.expert_params)
    assert result.history[-1] > result.history[0]
    # the estimator draws the same start from random_state=0 (its rows may be
    # reordered by the canonical expert order)
    est = MixtureOfExpertsRegressor(K, solver="two_loss", random_state=0).fit(X, y)
    rows = sorted(map(tuple, est.params_.expert_params))
    assert rows == sorted(map(tuple, start.expert_params))


def test_two_loss_recovers_directions_with_enough_data():
    X, y, truth = make_orthogonal_moe_regression(32000, 10, 2, random_state=1)
    est = MixtureOfExpertsRegressor(2, solver="two_loss", random_state=0).fit(X, y)
    assert parameter_error(est.params_, truth)["expert_coef"].max() < 0.2


def test_two_loss_bad_input():
    X, y, _ = make_orthogonal_moe_regression(200, 3, 2, random_state=0)
    with pytest.raises(ValueError, match="solver='two_loss' needs experts linear"):
        MixtureOfExpertsRegressor(2, solver="two_loss", experts=FFNExperts()).fit(X, y)
    with pytest.raises(ValueError, match="expected n_experts <= n_features=3"):
        MixtureOfExpertsRegressor(4, solver="two_loss").fit(X, y)
