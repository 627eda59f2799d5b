"""Gating families: closed forms, schedules, top-K, EM behaviour, bad input."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit, log_softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skmoe._estimator
from skmoe import (
    DegenerateFitWarning,
    GateLikelihood,
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    MoEParams,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression
from skmoe.solvers._em import gate_likelihood

from .conftest import assert_non_decreasing

# Deliberately short fits below may stop before the tolerance.
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _params(gating, K=3, d=2, seed=0, **fields):
    rng = np.random.RandomState(seed)
    fields = fields or gating.random_params(d, K, 2.0, rng)
    return MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                     gating=gating, **fields)


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(1).standard_normal((200, 2))


# ----------------------------------------------------------- closed forms
def test_top_k_equal_to_n_experts_is_the_dense_softmax(X):
    dense = _params(SoftmaxGating())
    full = dense.replace(gating=SoftmaxGating(top_k=3))
    assert np.array_equal(full.log_gates(X), dense.log_gates(X))


def test_top_k_equal_to_n_experts_fits_like_the_dense_softmax():
    X, y, _ = make_moe_regression(300, 2, 3, random_state=0)
    kw = dict(max_iter=15, random_state=0)
    a = MixtureOfExpertsRegressor(3, gating=SoftmaxGating(), **kw).fit(X, y)
    b = MixtureOfExpertsRegressor(3, gating=SoftmaxGating(top_k=3), **kw).fit(X, y)
    assert np.array_equal(a.params_.gate_coef, b.params_.gate_coef)
    assert np.array_equal(a.history_, b.history_)


def test_top_k_gate_is_the_renormalised_softmax_of_the_largest_logits(X):
    p = _params(SoftmaxGating(top_k=2, temperature=0.7), K=4)
    Z = (X @ p.gate_coef.T + p.gate_intercept) / 0.7
    keep = Z >= np.sort(Z, axis=1)[:, [2]]  # the two largest of four
    want = np.where(keep, np.exp(Z), 0.0)
    want /= want.sum(axis=1, keepdims=True)
    g = p.gates(X)
    assert np.array_equal(g > 0, keep)
    assert_allclose(g, want, rtol=1e-12, atol=1e-300)


def test_activation_gate_formula(X):
    for act, f in (("tanh", np.tanh), ("sigmoid", expit)):
        p = _params(SoftmaxGating(activation=act, temperature=0.4))
        Z = f(X @ p.gate_coef.T + p.gate_intercept) / 0.4
        assert_allclose(p.log_gates(X), log_softmax(Z, axis=1), rtol=1e-12,
                        atol=1e-13)


def test_one_group_is_the_flat_softmax(X):
    flat = _params(SoftmaxGating(), K=3)
    hier = flat.replace(
        gating=HierarchicalSoftmaxGating(n_groups=1),
        gate_extra={"group_coef": np.zeros((1, 2)),
                    "group_intercept": np.zeros(1)},
    )
    assert_allclose(hier.log_gates(X), flat.log_gates(X), rtol=1e-12, atol=1e-14)


def test_one_group_fits_like_the_flat_softmax():
    X, y, truth = make_moe_regression(300, 2, 3, random_state=1)
    start = truth.replace(expert_params=truth.expert_params + 0.2)
    hier_start = start.replace(
        gating=HierarchicalSoftmaxGating(n_groups=1),
        gate_extra={"group_coef": np.zeros((1, 2)), "group_intercept": np.zeros(1)},
    )
    a = MixtureOfExpertsRegressor(3, init_params=start, max_iter=20).fit(X, y)
    b = MixtureOfExpertsRegressor(3, gating=HierarchicalSoftmaxGating(1),
                                  init_params=hier_start, max_iter=20).fit(X, y)
    # the same Newton updates on the same problem, up to the round-off of
    # the extra (trivial) group level
    assert_allclose(b.history_, a.history_, rtol=1e-12)
    assert_allclose(b.params_.gate_coef, a.params_.gate_coef, rtol=1e-8, atol=1e-10)


def test_hierarchical_gate_formula(X):
    p = _params(HierarchicalSoftmaxGating(n_groups=2), K=4)
    U = X @ p.gate_extra["group_coef"].T + p.gate_extra["group_intercept"]
    Z = X @ p.gate_coef.T + p.gate_intercept
    want = np.hstack([
        log_softmax(U, axis=1)[:, [a]] + log_softmax(Z[:, 2 * a:2 * a + 2], axis=1)
        for a in range(2)
    ])
    assert_allclose(p.log_gates(X), want, rtol=1e-12, atol=1e-13)


def test_as_many_groups_as_experts_is_the_softmax_of_the_group_logits(X):
    p = _params(HierarchicalSoftmaxGating(n_groups=3), K=3)
    U = X @ p.gate_extra["group_coef"].T + p.gate_extra["group_intercept"]
    assert_allclose(p.log_gates(X), log_softmax(U, axis=1), rtol=1e-12, atol=1e-13)


def test_normalized_sigmoid_with_one_expert_gives_weight_one(X):
    p = _params(NormalizedSigmoidGating(), K=1,
                gate_coef=[[3.0, -1.0]], gate_intercept=[-2.0])
    assert np.all(p.log_gates(X) == 0.0)
    assert NormalizedSigmoidGating().n_free_params(2, 1) == 0


def test_normalized_sigmoid_formula_and_top_k(X):
    p = _params(NormalizedSigmoidGating(), K=4)
    s = expit(X @ p.gate_coef.T + p.gate_intercept)
    assert_allclose(p.gates(X), s / s.sum(axis=1, keepdims=True), rtol=1e-12)
    top = p.replace(gating=NormalizedSigmoidGating(top_k=2))
    keep = s >= np.sort(s, axis=1)[:, [2]]
    want = np.where(keep, s, 0.0)
    assert_allclose(top.gates(X), want / want.sum(axis=1, keepdims=True),
                    rtol=1e-12, atol=1e-300)
    one = p.replace(gating=NormalizedSigmoidGating(top_k=1))
    assert np.array_equal(one.gates(X), (s == s.max(axis=1, keepdims=True)) * 1.0)


def test_normalized_sigmoid_is_not_shift_invariant(X):
    free = NormalizedSigmoidGating(pin_last=False)
    p = _params(free)
    shifted = p.replace(gate_intercept=p.gate_intercept + 1.0)
    assert not np.allclose(shifted.gates(X), p.gates(X))
    # unpinned: nothing is normalised away, all K rows are free
    assert free.n_free_params(2, 3) == 9
    assert p.gating.normalize(p)["gate_intercept"][-1] == p.gate_intercept[-1]
    # pinned (A.2, the default): the last row is fixed at (0, 0)
    assert NormalizedSigmoidGating().n_free_params(2, 3) == 6


# -------------------------------------------- pinned normalized sigmoid (A.2)
def test_pinned_sigmoid_draws_and_starts_with_the_last_row_at_zero(X):
    gating = NormalizedSigmoidGating()
    rng = np.random.RandomState(0)
    for fields in (gating.random_params(2, 3, 2.0, rng),
                   gating.init(X, np.ones(len(X)), 3, rng)):
        assert np.all(fields["gate_coef"][-1] == 0.0)
        assert fields["gate_intercept"][-1] == 0.0
        assert np.all(fields["gate_coef"][:-1] != 0.0)
    p = _params(gating)
    theta = gating.pack(p)
    assert theta.size == 6
    assert gating.unpack(theta, p)["gate_intercept"][-1] == 0.0


def test_pinned_sigmoid_repins_a_constant_gate_exactly(X):
    # the printed truth of DeepSeekMoE experiment (c): slopes 0, intercepts
    # (-0.5, 0.5). sigmoid(-0.5) / sigmoid(0.5) = exp(-0.5), so the pinned
    # form has sigmoid(b) = exp(-0.5) / 2, b = -0.5 - log(2 - exp(-0.5))
    gating = NormalizedSigmoidGating()
    printed = _params(gating, K=2, d=1, gate_coef=[[0.0], [0.0]],
                      gate_intercept=[-0.5, 0.5])
    pinned = printed.replace(**gating.normalize(printed))
    assert_allclose(pinned.gate_intercept,
                    [-0.5 - np.log(2 - np.exp(-0.5)), 0.0], rtol=1e-15)
    assert np.all(pinned.gate_coef == 0.0)
    x = np.linspace(-3, 3, 7)[:, None]
    assert_allclose(pinned.gates(x), printed.gates(x), rtol=1e-15)
    # a constant gate whose rescaled scores would reach 1 has no pinned form:
    # sigmoid(5) / (2 sigmoid(-3)) > 1
    bad = printed.replace(gate_intercept=np.array([5.0, -3.0]))
    with pytest.raises(ValueError, match="not all below 1"):
        gating.normalize(bad)


def test_pinned_sigmoid_relabelling(X):
    gating = NormalizedSigmoidGating()
    p = _params(gating, K=3)
    # keeping the pinned expert last is exact
    q = p.permute([1, 0, 2])
    assert_allclose(q.gates(X), p.gates(X)[:, [1, 0, 2]], rtol=1e-15)
    # moving an expert with a non-zero row into the pinned place has no exact
    # pinned form (class Notes): refused, naming the order and the convention
    with pytest.raises(ValueError, match=r"order=\[2, 1, 0\].*pin_last=False"):
        p.permute([2, 1, 0])
    # the unpinned family relabels freely
    free = p.replace(gating=NormalizedSigmoidGating(pin_last=False))
    assert_allclose(free.permute([2, 1, 0]).gates(X), p.gates(X)[:, [2, 1, 0]],
                    rtol=1e-15)
    # all slopes zero: the constant scores are rescaled exactly
    const = _params(gating, K=3, gate_coef=np.zeros((3, 2)),
                    gate_intercept=[-1.0, 0.4, 0.0])
    moved = const.permute([2, 0, 1])
    assert moved.gate_intercept[-1] == 0.0
    assert_allclose(moved.gates(X), const.gates(X)[:, [2, 0, 1]], rtol=1e-14)
    # fit's canonical order keeps the pinned expert last
    assert gating.canonical_order(np.array([0.5, 0.1, 0.4])).tolist() == [0, 1, 2]
    assert gating.canonical_order(np.array([0.1, 0.5, 0.4])).tolist() == [1, 0, 2]
    free_order = NormalizedSigmoidGating(pin_last=False).canonical_order(
        np.array([0.1, 0.2, 0.7]))
    assert free_order.tolist() == [2, 1, 0]


def test_pinned_sigmoid_fit_keeps_the_last_row_at_zero():
    gating = NormalizedSigmoidGating()
    X, y, truth = make_moe_regression(600, 1, 3, gating=gating, random_state=0)
    assert np.all(truth.gate_coef[-1] == 0.0) and truth.gate_intercept[-1] == 0.0
    for solver in ("em", "lbfgs"):
        est = MixtureOfExpertsRegressor(3, gating=gating, solver=solver,
                                        max_iter=40, random_state=0).fit(X, y)
        assert np.all(est.params_.gate_coef[-1] == 0.0), solver
        assert est.params_.gate_intercept[-1] == 0.0, solver
    assert est.params_.n_free_params() == 2 * 2 + 3 * 2 + 3


def test_pinned_sigmoid_rejects_an_unpinned_start():
    gating = NormalizedSigmoidGating()
    X, y, truth = make_moe_regression(300, 1, 2, gating=gating, random_state=0)
    start = truth.replace(gate_coef=truth.gate_coef + 0.5)
    est = MixtureOfExpertsRegressor(2, gating=gating, init_params=start,
                                    max_iter=5)
    # the gate's first update refuses the start (it is not silently pinned);
    # EM reports a refused start like a degenerate one, then raises
    message = r"convention A.2.*gate_coef\[-1\]=\[0.5\]"
    with pytest.warns(DegenerateFitWarning, match=message):
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)


# -------------------------------------------------------------- temperature
def test_learned_temperature_without_activation_is_a_reparametrisation():
    # the gate depends on beta / tau only: learning tau reports the same model
    # in another parametrisation, so the fits coincide up to round-off
    X, y, _ = make_moe_regression(400, 2, 3, random_state=2)
    kw = dict(max_iter=40, random_state=0)
    plain = MixtureOfExpertsRegressor(3, **kw).fit(X, y)
    learned = MixtureOfExpertsRegressor(
        3, gating=SoftmaxGating(learn_temperature=True), **kw).fit(X, y)
    assert_allclose(learned.history_, plain.history_, rtol=1e-10)
    assert_allclose(learned.predict_gates(X), plain.predict_gates(X), atol=1e-8)
    p = learned.params_
    tau = p.gate_extra["temperature"][0]
    full = np.hstack([p.gate_coef, p.gate_intercept[:, None]])
    # centred rows of unit norm; the scale is in tau
    assert_allclose(np.linalg.norm(full - full.mean(axis=0)), 1.0, rtol=1e-12)
    q = plain.params_
    plain_full = np.hstack([q.gate_coef, q.gate_intercept[:, None]])
    assert_allclose(1 / tau, np.linalg.norm(plain_full - plain_full.mean(axis=0)),
                    rtol=1e-8)
    assert p.n_free_params() == q.n_free_params()


def test_learned_temperature_with_activation_is_estimated():
    # with tanh the logits are bounded by 1 / tau: tau is identifiable
    gating = SoftmaxGating(activation="tanh", learn_temperature=True,
                           temperature=0.3)
    X, y, truth = make_moe_regression(3000, 2, 3, gating=gating, random_state=0)
    start = truth.replace(gate_extra={"temperature": np.array([1.0])})
    est = MixtureOfExpertsRegressor(3, gating=gating, init_params=start).fit(X, y)
    assert_non_decreasing(est.history_)
    # the standard error of tau at n=3000 is ~0.01 (0.287-0.303 over 3 seeds
    # at n=10000); 0.05 fails a temperature that is not learned (1.0)
    assert abs(est.params_.gate_extra["temperature"][0] - 0.3) < 0.05


@pytest.mark.parametrize("schedule", ["linear", "geometric"])
def test_schedule_steps(schedule):
    gating = SoftmaxGating(temperature=1.0, schedule=schedule,
                           initial_temperature=9.0, anneal_iter=4)
    X = np.zeros((5, 2))
    p = _params(gating, **gating.init(X, np.ones(5), 3, np.random.RandomState(0)))
    taus = [p.gate_extra["temperature"][0]]
    for it in range(1, 8):
        fields = gating.at_iteration(p, it, max_iter=100)
        if not fields:
            break
        p = p.replace(**fields)
        taus.append(p.gate_extra["temperature"][0])
    want = (np.linspace(9.0, 1.0, 5) if schedule == "linear"
            else np.geomspace(9.0, 1.0, 5))
    assert_allclose(taus, want, rtol=1e-12)
    assert gating.at_iteration(p, 9, 100) == {}


def test_schedule_ends_within_half_of_max_iter():
    gating = SoftmaxGating(schedule="geometric", anneal_iter=50)
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, gating=gating, max_iter=20,
                                    random_state=0).fit(X, y)
    assert est.params_.gate_extra["temperature"][0] == 1.0


def test_activation_schedule_makes_the_gate_sparser():
    # with bounded logits the temperature sets the attainable sharpness
    gating = SoftmaxGating(activation="tanh", schedule="geometric",
                           initial_temperature=5.0, temperature=0.1,
                           anneal_iter=10)
    X, y, _ = make_moe_regression(500, 2, 2, random_state=3)
    start = _params(gating, K=2, **gating.init(X, np.ones(500), 2,
                                               np.random.RandomState(0)))
    sparse = MixtureOfExpertsRegressor(2, gating=gating, max_iter=60,
                                       random_state=0).fit(X, y)
    assert sparse.n_iter_ > 10  # EM does not stop while the schedule runs
    assert sparse.params_.gate_extra["temperature"][0] == 0.1
    # the tempered tanh logits are within +-1/tau: at the starting tau=5 no
    # gate of two experts exceeds sigmoid(2 / 5) = 0.6
    assert start.gates(X).max() <= expit(2 / 5) + 1e-12
    assert sparse.predict_gates(X).max() > 0.99
    # after the schedule EM is an ordinary (monotone) generalised EM
    assert_non_decreasing(sparse.history_[11:])


# ------------------------------------------------------------------- top-K
@pytest.mark.parametrize("gating", [SoftmaxGating(top_k=2),
                                    NormalizedSigmoidGating(top_k=2),
                                    SoftmaxGating(top_k=1)], ids=repr)
def test_top_k_fit_ends_exact_and_monotone(gating):
    X, y, _ = make_moe_regression(400, 2, 3, gating=gating, random_state=0)
    gating = clone(gating).set_params(anneal_iter=8)
    est = MixtureOfExpertsRegressor(3, gating=gating, max_iter=40,
                                    random_state=0).fit(X, y)
    assert est.params_.gate_extra["top_k_smoothing"][0] == 0.0
    # the fitted gate is the exact top-K gate
    g = est.predict_gates(X)
    assert np.all((g > 0).sum(axis=1) == gating.top_k)
    assert est.n_iter_ > 8  # EM does not stop while the smoothing anneals
    # the exact phase is an ECME: monotone in the observed likelihood
    assert_non_decreasing(est.history_[9:])


@pytest.mark.parametrize("gating", [SoftmaxGating(top_k=2, anneal_iter=0),
                                    NormalizedSigmoidGating(top_k=2, anneal_iter=0)],
                         ids=repr)
def test_exact_top_k_em_is_monotone(gating):
    X, y, _ = make_moe_regression(400, 2, 3, gating=gating, random_state=1)
    est = MixtureOfExpertsRegressor(3, gating=gating, max_iter=25,
                                    random_state=0).fit(X, y)
    assert "top_k_smoothing" not in est.params_.gate_extra
    assert_non_decreasing(est.history_)
    assert est.history_[-1] > est.history_[0]


def test_ecme_gate_step_increases_the_likelihood():
    gating = SoftmaxGating(top_k=2, anneal_iter=0)
    X, y, truth = make_moe_regression(400, 2, 3, gating=gating, random_state=2)
    start = truth.replace(gate_coef=truth.gate_coef * 0.3,
                          gate_intercept=truth.gate_intercept - 0.5)
    lik = gate_likelihood(X, y, np.ones(len(y)), start)
    before = lik.value(gating.log_weights(X, start))
    R = np.ascontiguousarray(lik.weights(gating.log_weights(X, start)))
    new = start.replace(**gating.m_step(X, R, start, likelihood=lik))
    after = lik.value(gating.log_weights(X, new))
    assert after > before
    assert_allclose(after, new.log_density(X, y).sum(), rtol=1e-12)


def test_gate_likelihood_matches_the_model():
    X, y, truth = make_moe_regression(200, 2, 3, n_shared_experts=2,
                                      random_state=0)
    w = np.random.RandomState(0).randint(1, 4, size=200).astype(float)
    lik = gate_likelihood(X, y, w, truth)
    log_g = truth.log_gates(X)
    assert isinstance(lik, GateLikelihood)
    assert_allclose(lik.value(log_g), w @ truth.log_density(X, y), rtol=1e-12)
    # its derivative in the log-gates is the weighted routed responsibilities
    from skmoe.solvers._em import _estep

    resp, _ = _estep(X, y, truth)
    assert_allclose(lik.weights(log_g), resp[:, :3] * w[:, None], rtol=1e-10,
                    atol=1e-300)


# ------------------------------------------------------------ hierarchical
def test_hierarchical_permutations_move_groups_as_blocks(X):
    p = _params(HierarchicalSoftmaxGating(n_groups=2), K=4)
    order = [3, 2, 1, 0]
    q = p.permute(order)
    assert_allclose(q.gates(X), p.gates(X)[:, order], atol=1e-12)
    with pytest.raises(ValueError, match="move groups of 2 experts as blocks"):
        p.permute([0, 2, 1, 3])


# --------------------------------------------------------------- EM, GEM
@pytest.mark.parametrize("gating, K", [
    (NormalizedSigmoidGating(), 3),
    (HierarchicalSoftmaxGating(n_groups=2), 4),
    (SoftmaxGating(activation="sigmoid", temperature=0.5), 3),
    (SoftmaxGating(learn_temperature=True), 3),
], ids=repr)
def test_em_is_monotone_for_every_generalised_em_gate(gating, K):
    X, y, _ = make_moe_regression(400, 2, K, gating=gating, random_state=0)
    est = MixtureOfExpertsRegressor(K, gating=gating, max_iter=60,
                                    random_state=1).fit(X, y)
    assert_non_decreasing(est.history_)
    assert est.history_[-1] > est.history_[0]


def test_em_one_iteration_at_a_time_is_monotone_for_the_sigmoid_gate():
    gating = NormalizedSigmoidGating()
    X, y, _ = make_moe_regression(400, 2, 3, gating=gating, random_state=4)
    est = MixtureOfExpertsRegressor(3, gating=gating, max_iter=1, warm_start=True,
                                    random_state=0)
    values = [est.fit(X, y).log_likelihood_ for _ in range(20)]
    assert_non_decreasing(values)


# ---------------------------------------------------------------- bad input
def _no_fit(*args, **kwargs):
    raise AssertionError("the solver ran before the input was checked")


@pytest.mark.parametrize("kwargs, match", [
    (dict(gating=SoftmaxGating(top_k=4)), r"top_k=4 must be at most n_experts=3"),
    (dict(gating=SoftmaxGating(top_k=0)), r"'top_k' parameter of SoftmaxGating"),
    (dict(gating=NormalizedSigmoidGating(top_k=5)), r"top_k=5 must be at most"),
    (dict(gating=NormalizedSigmoidGating(top_k=-1)),
     r"'top_k' parameter of NormalizedSigmoidGating.*Got -1"),
    (dict(gating=HierarchicalSoftmaxGating(n_groups=2)),
     r"n_experts=3 must be a multiple of n_groups=2"),
    (dict(gating=HierarchicalSoftmaxGating(n_groups=0)), r"'n_groups' parameter"),
    (dict(gating=SoftmaxGating(temperature=0.0)),
     r"'temperature' parameter of SoftmaxGating.*Got 0.0"),
    (dict(gating=SoftmaxGating(temperature=-2)), r"'temperature' parameter"),
    (dict(gating=SoftmaxGating(learn_temperature=True, schedule="linear")),
     r"learn_temperature=True cannot be combined with schedule='linear'"),
    (dict(gating=SoftmaxGating(activation="relu")), r"'activation' parameter"),
    (dict(n_shared_experts=1, shared_weight=1.0),
     r"'shared_weight' parameter.*Got 1.0"),
    (dict(n_shared_experts=1, shared_weight=0.0), r"'shared_weight' parameter"),
    (dict(n_shared_experts=-1), r"'n_shared_experts' parameter"),
    (dict(shared_experts="cubic"), r"'shared_experts' parameter"),
])
def test_impossible_combinations_raise_before_fitting(monkeypatch, kwargs, match):
    monkeypatch.setattr(skmoe._estimator, "fit_moe", _no_fit)
    X = np.random.RandomState(0).standard_normal((20, 2))
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(3, **kwargs).fit(X, X[:, 0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(gating=SoftmaxGating(top_k=4)), r"top_k=4 must be at most n_experts=3"),
    (dict(gating=HierarchicalSoftmaxGating(n_groups=2)), r"multiple of n_groups=2"),
    (dict(n_shared_experts=1, shared_weight=1.5), r"shared_weight must be a float"),
    (dict(n_shared_experts=-1), r"n_shared_experts must be an integer >= 0"),
])
def test_generator_rejects_impossible_combinations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_moe_regression(10, 2, 3, **kwargs)


def test_params_reject_impossible_gates():
    with pytest.raises(ValueError, match="top_k=3 must be at most n_experts=2"):
        MoEParams(np.zeros((2, 1)), np.zeros(2), np.zeros((2, 2)), np.ones(2),
                  gating=SoftmaxGating(top_k=3))


# ------------------------------------------------------------- grid search
def test_grid_search_over_the_gating_families_in_parallel():
    X, y, _ = make_moe_regression(240, 2, 4, random_state=0)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("moe", MixtureOfExpertsRegressor(4, max_iter=15, random_state=0)),
    ])
    gatings = [SoftmaxGating(), SoftmaxGating(top_k=1),
               NormalizedSigmoidGating(top_k=2),
               HierarchicalSoftmaxGating(n_groups=2)]
    grid = [
        {"moe__gating": gatings},
        {"moe__gating": [SoftmaxGating()], "moe__gating__temperature": [0.5, 2.0]},
        {"moe__gating": [SoftmaxGating(top_k=2)], "moe__gating__anneal_iter": [3]},
    ]
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    local = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    params = search.cv_results_["params"]
    assert len(params) == 7
    assert [p.get("moe__gating__temperature") for p in params][4:6] == [0.5, 2.0]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # the parallel search computes exactly what the sequential one does
    assert_allclose(search.cv_results_["mean_test_score"],
                    local.cv_results_["mean_test_score"], rtol=1e-12)
    # the grid's objects are cloned, never fitted or changed
    assert gatings[1].get_params()["top_k"] == 1
    assert search.best_estimator_["moe"].gating_ is not search.best_params_[
        "moe__gating"]


@pytest.mark.parametrize("K, groups", [(1, 1), (2, 1), (3, 1), (4, 2), (5, 1),
                                       (6, 2), (8, 2), (9, 3), (12, 3), (16, 4),
                                       (30, 5)])
def test_hierarchical_auto_groups(K, groups):
    # the largest divisor of K that is at most sqrt(K)
    gating = HierarchicalSoftmaxGating()
    assert gating.n_groups == "auto"
    assert gating.groups(K) == groups
    gating.check_n_experts(K, 2)  # divides every K
    assert HierarchicalSoftmaxGating(n_groups=2).groups(K) == 2


def test_hierarchical_default_fits_the_estimator_default():
    # HierarchicalSoftmaxGating() with n_experts=3 always failed (n_groups=2)
    X, y, _ = make_moe_regression(300, 2, 3, random_state=0)
    est = MixtureOfExpertsRegressor(gating=HierarchicalSoftmaxGating(),
                                    random_state=0).fit(X, y)
    # one group of three: the flat softmax (the equivalence is tested above)
    assert est.params_.gate_extra["group_coef"].shape == (1, 2)
    assert est.converged_


def test_hierarchical_default_in_a_grid_search_over_n_experts():
    # with n_groups=2 the odd n_experts failed: NaN scores
    X, y, _ = make_moe_regression(300, 2, 4, random_state=0)
    search = GridSearchCV(
        MixtureOfExpertsRegressor(gating=HierarchicalSoftmaxGating(),
                                  max_iter=50, random_state=0),
        {"n_experts": [2, 3, 4, 6]}, cv=2, error_score="raise",
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.gating_.groups(
        search.best_params_["n_experts"]) >= 1


def test_hierarchical_error_says_what_to_set():
    X, y, _ = make_moe_regression(50, 2, 3, random_state=0)
    with pytest.raises(ValueError, match=r"n_experts=3 must be a multiple of "
                       r"n_groups=2.*Set n_groups to one of \[1, 3\] \(or 'auto'\)"):
        MixtureOfExpertsRegressor(
            3, gating=HierarchicalSoftmaxGating(n_groups=2)).fit(X, y)


def test_hierarchical_gate_starts_from_kmeans():
    # the k-means start fits the gate from an all-zero gate without the
    # group rows of gate_extra (it raised KeyError: 'group_coef')
    X, y, _ = make_moe_regression(400, 2, 4, random_state=0)
    est = MixtureOfExpertsRegressor(
        4, gating=HierarchicalSoftmaxGating(n_groups=2), init_params="kmeans",
        max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.params_.gate_extra["group_coef"].shape == (2, 2)
    h = est.history_
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
