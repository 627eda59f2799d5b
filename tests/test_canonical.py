"""Canonical order of the experts after a fit, and empty experts."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmoe import (
    EmptyExpertWarning,
    HierarchicalSoftmaxGating,
    LinearExperts,
    MixtureOfExpertsRegressor,
    MoEParams,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression
from skmoe.solvers import FitSpec, fit_moe
from skmoe.solvers._finish import canonical_order, empty_experts


@pytest.fixture(scope="module")
def data3():
    return make_moe_regression(600, 2, 3, random_state=1)


def _raw_fit(X, y, K, seed):
    """The solver's result before the estimator relabels it."""
    w = np.ones(len(y))
    var_y = float(np.var(y))
    return fit_moe(X, y, w, FitSpec(
        K, SoftmaxGating(), LinearExperts(), max_iter=300, tol=1e-6,
        var_floor=1e-6 * var_y, rng=np.random.RandomState(seed),
    )).params


def test_params_sorted_by_gating_mass(data3):
    X, y, _ = data3
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    mass = est.predict_gates(X).mean(axis=0)
    assert np.all(np.diff(mass) < 0)
    # the softmax normalisation (last row zero) is re-applied after the move
    assert_array_equal(est.params_.gate_coef[-1], 0.0)
    assert est.params_.gate_intercept[-1] == 0.0


def test_relabelling_changes_nothing_but_labels(data3):
    X, y, _ = data3
    # find a start whose solver labels are not already canonical, so that the
    # test exercises an actual permutation
    for seed in range(10):
        raw = _raw_fit(X, y, 3, seed)
        mass = raw.gates(X).mean(axis=0)
        order = np.argsort(-mass, kind="stable")
        if not np.array_equal(order, np.arange(3)):
            break
    else:  # pragma: no cover - would make the test vacuous
        pytest.fail("no seed in 0-9 gave a non-canonical solver order")
    ordered = canonical_order(raw, X, np.ones(len(y)))
    # rtol 1e-12: the gate is re-normalised (a row subtracted from the
    # logits), which moves the softmax by round-off only
    assert_allclose(ordered.gates(X), raw.gates(X)[:, order], rtol=1e-12,
                    atol=1e-15)
    assert_allclose(ordered.expert_params, raw.expert_params[order])
    assert_allclose(ordered.variance, raw.variance[order])
    assert_allclose(ordered.predict(X), raw.predict(X), rtol=1e-12)
    assert_allclose(ordered.log_density(X, y), raw.log_density(X, y), rtol=1e-12)
    # the estimator applies exactly this relabelling
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=seed).fit(X, y)
    assert est.params_.allclose(ordered, rtol=0)


def test_two_starts_same_optimum_agree_without_matching(data3):
    X, y, _ = data3
    fits = [
        MixtureOfExpertsRegressor(n_experts=3, tol=1e-12, max_iter=2000,
                                  random_state=seed).fit(X, y)
        for seed in (0, 3)
    ]
    raws = [_raw_fit(X, y, 3, seed) for seed in (0, 3)]
    # the solver labels differ between these two starts ...
    assert not raws[0].allclose(raws[1], rtol=1e-3)
    # ... the same optimum (to the stopping rule) ...
    assert_allclose(fits[0].log_likelihood_, fits[1].log_likelihood_, rtol=1e-10)
    # ... and after the canonical order the parameters agree index by index;
    # rtol 1e-5: tol=1e-12 on the log-likelihood leaves parameter differences
    # of order sqrt(1e-12 * |L|) / curvature, ~1e-6 here
    assert fits[0].params_.allclose(fits[1].params_, rtol=1e-5, atol=1e-6)


def test_warm_start_continues_from_ordered_params(data3):
    X, y, _ = data3
    est = MixtureOfExpertsRegressor(n_experts=3, max_iter=5, warm_start=True,
                                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 iterations do not converge
        est.fit(X, y)
        first = est.params_
        est.set_params(max_iter=1).fit(X, y)
    # one more EM step from the ordered start: the likelihood cannot drop
    assert_allclose(est.history_[0], first.log_density(X, y).sum(), rtol=1e-12)
    assert est.history_[1] >= est.history_[0] - 1e-9 * abs(est.history_[0])


def test_hierarchical_canonical_order_moves_groups_as_blocks():
    gating = HierarchicalSoftmaxGating(n_groups=2)
    # group 0 = experts 0, 1 (mass 0.3), group 1 = experts 2, 3 (mass 0.7)
    order = gating.canonical_order(np.array([0.1, 0.2, 0.3, 0.4]))
    assert_array_equal(order, [3, 2, 1, 0])
    order = gating.canonical_order(np.array([0.5, 0.1, 0.15, 0.25]))
    assert_array_equal(order, [0, 1, 3, 2])
    # ties by index
    assert_array_equal(SoftmaxGating().canonical_order(np.full(3, 1 / 3)),
                       [0, 1, 2])


def test_hierarchical_fit_is_canonical():
    X, y, _ = make_moe_regression(300, 2, 4, random_state=0)
    est = MixtureOfExpertsRegressor(
        n_experts=4, gating=HierarchicalSoftmaxGating(n_groups=2), max_iter=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 50 iterations may not converge
        est.fit(X, y)
    mass = est.predict_gates(X).mean(axis=0)
    assert mass[:2].sum() >= mass[2:].sum()
    assert mass[0] >= mass[1] and mass[2] >= mass[3]


def test_shared_experts_sorted_by_weight():
    X, y, _ = make_moe_regression(400, 1, 2, n_shared_experts=2, random_state=0)
    est = MixtureOfExpertsRegressor(n_experts=2, n_shared_experts=2,
                                    max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.params_.shared_weights[0] >= est.params_.shared_weights[1]


# ---------------------------------------------------------------- empty experts
def _start_with_empty_expert(truth):
    """The true two experts plus a third whose gate is e^-30 everywhere."""
    return MoEParams(
        gate_coef=np.vstack([np.zeros((1, truth.n_features)), truth.gate_coef]),
        gate_intercept=np.r_[-30.0, truth.gate_intercept],
        expert_params=np.vstack([np.r_[np.zeros(truth.n_features), 5.0],
                                 truth.expert_params]),
        variance=np.r_[0.09, truth.variance],
    )


def test_over_specified_fit_reports_empty_expert():
    X, y, truth = make_moe_regression(500, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(n_experts=3,
                                    init_params=_start_with_empty_expert(truth))
    with pytest.warns(EmptyExpertWarning, match=r"1 of 3 experts .*\[2\]"):
        est.fit(X, y)
    # the empty expert has the least gating mass: last in the canonical order
    assert_array_equal(est.empty_experts_, [False, False, True])
    assert est.predict_gates(X)[:, 2].max() < 1e-10


def test_well_specified_fit_has_no_empty_expert(data3):
    X, y, _ = data3
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyExpertWarning)
        est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    assert est.empty_experts_.dtype == bool
    assert_array_equal(est.empty_experts_, [False, False, False])


def test_empty_threshold():
    X, y, truth = make_moe_regression(1000, 2, 2, random_state=0)
    w = np.ones(len(y))
    # mass of expert 1 ~ n * 0.45; threshold max(1e-3 n, 1) = 1
    assert not empty_experts(truth, X, y, w, "likelihood").any()
    assert not empty_experts(truth, X, y, w, "least_squares").any()
    # give expert 1 a gate of e^-12 (mass ~ 1000 * 6e-6 = 0.006 < 1)
    dead = truth.replace(gate_intercept=np.array([12.0, 0.0]),
                         gate_coef=np.zeros_like(truth.gate_coef))
    assert_array_equal(empty_experts(dead, X, y, w, "least_squares"),
                       [False, True])


@pytest.mark.parametrize(
    "solver, objective",
    [("lbfgs", "likelihood"), ("gd", "likelihood"), ("lbfgs", "least_squares")],
)
def test_every_solver_ends_in_canonical_order(data3, solver, objective):
    X, y, _ = data3
    est = MixtureOfExpertsRegressor(n_experts=3, solver=solver,
                                    objective=objective, max_iter=30,
                                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 30 iterations may not converge
        est.fit(X, y)
    mass = est.predict_gates(X).mean(axis=0)
    assert np.all(np.diff(mass) <= 0)
    assert est.empty_experts_.shape == (3,)
