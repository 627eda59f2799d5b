"""ICL and the choice of the number of experts (BIC, ICL, cross-validation)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.model_selection import NExpertsSelection, select_n_experts

# over-specified candidates (K > K*) converge slowly by design; the tests
# below check the chosen K and the table, not the convergence of every fit
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


@pytest.fixture(scope="module")
def small():
    X, y, _ = make_moe_regression(300, 2, 2, random_state=3)
    est = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    return X, y, est


def _numpy_responsibilities(params, X, y):
    """E-step in NumPy from the public MoEParams methods."""
    log_g = params.log_gates(X)
    means = params.expert_means(X)
    var = params.variance
    a = log_g - 0.5 * np.log(2 * np.pi * var) - 0.5 * (y[:, None] - means) ** 2 / var
    loglik = logsumexp(a, axis=1)
    return np.exp(a - loglik[:, None]), loglik


def test_icl_is_bic_plus_twice_entropy(small):
    X, y, est = small
    resp, loglik = _numpy_responsibilities(est.params_, X, y)
    # reference BIC from the NumPy log-likelihood, not from est.bic
    k = est.params_.n_free_params()
    bic = -2 * loglik.sum() + k * np.log(len(y))
    entropy = -np.sum(resp * np.log(resp))
    assert entropy > 0  # the two experts overlap somewhere
    # rtol 1e-10: the kernel and NumPy E-steps differ by round-off in a sum
    # of 300 terms of size ~1
    assert_allclose(est.icl(X, y), bic + 2 * entropy, rtol=1e-10)
    assert_allclose(est.bic(X, y), bic, rtol=1e-10)


def test_icl_with_one_expert_equals_bic(small):
    X, y, _ = small
    est = MixtureOfExpertsRegressor(n_experts=1, random_state=0).fit(X, y)
    # one component: every responsibility is exactly 1, the entropy is 0
    assert est.icl(X, y) == est.bic(X, y)


def test_icl_refuses_least_squares(small):
    X, y, _ = small
    est = MixtureOfExpertsRegressor(
        n_experts=2, solver="lbfgs", objective="least_squares", max_iter=20,
        random_state=0,
    ).fit(X, y)
    with pytest.raises(ValueError, match="icl is not defined"):
        est.icl(X, y)


def test_selection_table_contents(small):
    X, y, _ = small
    est = MixtureOfExpertsRegressor(random_state=0, max_iter=50)
    result = select_n_experts(est, X, y, n_experts=[3, 1, 2, 2], criterion="icl")
    assert isinstance(result, NExpertsSelection)
    table = result.table
    assert_array_equal(table["n_experts"], [1, 2, 3])
    for K, est_K, crit, ll, it, conv, p in zip(
        table["n_experts"], result.estimators, table["criterion"],
        table["log_likelihood"], table["n_iter"], table["converged"],
        table["n_params"], strict=True,
    ):
        assert est_K.n_experts == K and est_K.params_.n_experts == K
        assert crit == est_K.icl(X, y)
        assert ll == est_K.log_likelihood_
        assert it == est_K.n_iter_ and conv == est_K.converged_
        # softmax gate (K - 1) * (d + 1), linear experts K * (d + 1), K variances
        assert p == (K - 1) * 3 + K * 3 + K
    best = int(np.argmin(table["criterion"]))
    assert result.best_n_experts_ == table["n_experts"][best]
    assert result.best_estimator_ is result.estimators[best]
    # the input estimator is cloned, not fitted
    assert not hasattr(est, "params_")
    frame = result.to_frame()
    assert list(frame.index) == [1, 2, 3]
    assert "NExpertsSelection(criterion='icl'" in repr(result)


def test_selection_cv_is_mean_heldout_log_density(small):
    X, y, _ = small
    est = MixtureOfExpertsRegressor(random_state=0, max_iter=50)
    result = select_n_experts(est, X, y, n_experts=[1, 2], criterion="cv", cv=3)
    assert result.cv_scores.shape == (2, 3)
    # recompute one fold by hand
    train, test = next(KFold(3).split(X))
    fold = MixtureOfExpertsRegressor(n_experts=2, random_state=0, max_iter=50)
    fold.fit(X[train], y[train])
    expected = -np.mean(fold.log_density(X[test], y[test]))
    assert_allclose(result.cv_scores[1, 0], expected, rtol=1e-12)
    assert_allclose(result.table["criterion"], result.cv_scores.mean(axis=1))
    assert result.best_n_experts_ == 2


def test_selection_parallel_equals_serial(small):
    from joblib import parallel_config

    X, y, _ = small
    est = MixtureOfExpertsRegressor(random_state=0, max_iter=30)
    serial = select_n_experts(est, X, y, n_experts=[1, 2], criterion="cv", cv=2)
    # threads: no process start-up in the test; every fit has its own
    # random_state, so the order of execution cannot change a number
    with parallel_config(backend="threading"):
        parallel = select_n_experts(est, X, y, n_experts=[1, 2], criterion="cv",
                                    cv=2, n_jobs=2)
    assert_array_equal(parallel.cv_scores, serial.cv_scores)
    assert_array_equal(parallel.log_likelihood, serial.log_likelihood)


def test_selection_least_squares(small):
    X, y, _ = small
    est = MixtureOfExpertsRegressor(
        solver="lbfgs", objective="least_squares", max_iter=30, random_state=0
    )
    for criterion in ("bic", "icl"):
        with pytest.raises(ValueError, match="estimates no conditional density"):
            select_n_experts(est, X, y, n_experts=[1, 2], criterion=criterion)
    result = select_n_experts(est, X, y, n_experts=[1, 2], criterion="cv", cv=2)
    assert result.criterion_label == "held-out mean squared error"
    assert np.all(np.isnan(result.table["log_likelihood"]))
    train, test = next(KFold(2).split(X))
    fold = est.set_params(n_experts=2).fit(X[train], y[train])
    assert_allclose(result.cv_scores[1, 0],
                    np.mean((y[test] - fold.predict(X[test])) ** 2), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(criterion="aic"), "criterion must be one of"),
        (dict(n_experts=[0, 1]), "n_experts must be"),
        (dict(n_experts=[]), "n_experts must be"),
    ],
)
def test_selection_bad_arguments(small, kwargs, match):
    X, y, _ = small
    with pytest.raises(ValueError, match=match):
        select_n_experts(MixtureOfExpertsRegressor(), X, y, **kwargs)


def test_selection_plot(small):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, _ = small
    result = select_n_experts(MixtureOfExpertsRegressor(random_state=0, max_iter=30),
                              X, y, n_experts=[1, 2])
    fig, ax = plt.subplots()
    assert result.plot(ax=ax) is ax
    assert_allclose(ax.lines[0].get_ydata(), result.table["criterion"])
    plt.close(fig)


def _picks(K_star, seed):
    """Chosen K by BIC and by ICL, from the same fits (n = 2000, d = 2)."""
    X, y, _ = make_moe_regression(2000, 2, K_star, random_state=seed)
    est = MixtureOfExpertsRegressor(n_init=3, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = select_n_experts(est, X, y, n_experts=range(1, K_star + 3))
    icl = [e.icl(X, y) for e in result.estimators]
    return result.best_n_experts_, int(result.n_experts[np.argmin(icl)])


# restarts that end at different optima are expected here (over-specified K): the
# MultipleOptimaWarning is right and not the subject of this test
@pytest.mark.filterwarnings("ignore::skmoe.MultipleOptimaWarning")
def test_bic_and_icl_pick_true_k_quick():
    # make_moe_regression separates the expert intercepts over [-2, 2] with
    # noise 0.3: at n = 2000 the true K wins by hundreds of BIC units (seed
    # 0: BIC(K=1) - BIC(K=2) ~ 4700, BIC(K=3) - BIC(K=2) ~ 21)
    assert _picks(2, 0) == (2, 2)


# restarts that end at different optima are expected here (over-specified K): the
# MultipleOptimaWarning is right and not the subject of this test
@pytest.mark.filterwarnings("ignore::skmoe.MultipleOptimaWarning")
@pytest.mark.slow
@pytest.mark.parametrize("K_star", [2, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_bic_and_icl_pick_true_k(K_star, seed):
    # measured over seeds 0-19 in the issue note: both criteria recover K*
    # on every seed run; two seeds per K* keep the test in CI
    assert _picks(K_star, seed) == (K_star, K_star)
