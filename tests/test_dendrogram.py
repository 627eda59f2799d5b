"""Tests of the dendrogram of mixing measures (arXiv:2510.12744)."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import is_valid_linkage

from skmoe import (
    EmptyExpertWarning,
    MixtureOfExpertsRegressor,
    MoEParams,
    SoftmaxGating,
)
from skmoe.datasets import load_mcycle, make_moe_regression
from skmoe.model_selection import MixingMeasureDendrogram, mixing_measure_dendrogram

# atoms 0 and 1 nearly identical, atom 2 far away; expert rows (slope, intercept)
COEF = np.array([[1.0], [1.1], [0.0]])
INTERCEPT = np.array([0.3, 0.1, 0.0])
EXPERTS = np.array([[1.0, 0.0], [1.05, 0.02], [-2.0, 3.0]])
VARIANCE = np.array([0.1, 0.12, 0.3])


def _tiny():
    return MoEParams(COEF, INTERCEPT, EXPERTS, VARIANCE)


def _data(params, n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, params.n_features))
    return X, params.sample_y(X, random_state=seed)


def _d(w_i, w_j, slope_i, slope_j, eta_i, eta_j, nu_i, nu_j):
    """The dissimilarity written out for one feature (eta = slope, intercept)."""
    fast = (slope_i - slope_j) ** 2 + (eta_i[1] - eta_j[1]) ** 2
    slow = np.sqrt((eta_i[0] - eta_j[0]) ** 2 + (nu_i - nu_j) ** 2)
    return w_i * w_j / (w_i + w_j) * (fast + slow)


def test_hand_computed_merge():
    params = _tiny()
    X, y = _data(params)
    tree = mixing_measure_dendrogram(params, X, y)
    w = params.gates(X).mean(axis=0)  # atom weights: average gate weights on X
    s, e, v = COEF[:, 0], EXPERTS, VARIANCE
    center = X.mean()  # merged gate numerators add at the mean of X
    d01 = _d(w[0], w[1], s[0], s[1], e[0], e[1], v[0], v[1])
    d02 = _d(w[0], w[2], s[0], s[2], e[0], e[2], v[0], v[2])
    d12 = _d(w[1], w[2], s[1], s[2], e[1], e[2], v[1], v[2])
    assert d01 < min(d02, d12)
    # merged atom: weights summed, the rest averaged by weight
    w01 = w[0] + w[1]
    s01 = (w[0] * s[0] + w[1] * s[1]) / w01
    e01 = (w[0] * e[0] + w[1] * e[1]) / w01
    v01 = (w[0] * v[0] + w[1] * v[1]) / w01
    d_last = _d(w01, w[2], s01, s[2], e01, e[2], v01, v[2])
    # round-off of a few flops on O(1) numbers
    np.testing.assert_allclose(tree.heights, [d01, d_last], rtol=1e-12)
    np.testing.assert_array_equal(tree.linkage[:, [0, 1, 3]],
                                  [[0, 1, 2], [2, 3, 3]])
    # level 2 in the gate's normalisation (last expert's row zero)
    expected = MoEParams(
        gate_coef=[[s01 - s[2]], [0.0]],
        gate_intercept=[np.log(np.exp(INTERCEPT[0] + s[0] * center)
                               + np.exp(INTERCEPT[1] + s[1] * center))
                        - s01 * center - INTERCEPT[2], 0.0],
        expert_params=[e01, e[2]],
        variance=[v01, v[2]],
    )
    assert tree.params[1].allclose(expected, rtol=1e-12, atol=1e-14)
    # the first level is the input model (same normalisation here)
    assert tree.params[0].allclose(params, rtol=1e-12, atol=1e-14)
    one = tree.params[2]
    np.testing.assert_allclose(one.expert_params,
                               [(w01 * e01 + w[2] * e[2])], rtol=1e-12)
    np.testing.assert_allclose(one.variance, [w01 * v01 + w[2] * v[2]], rtol=1e-12)
    # likelihood and criterion along the path
    loglik = [p.log_density(X, y).sum() for p in tree.params]
    np.testing.assert_allclose(tree.log_likelihood, loglik, rtol=1e-12)
    n = X.shape[0]
    crit = -(tree.heights + np.log(n) * np.asarray(loglik[:2]) / n)
    np.testing.assert_allclose(tree.criterion[:2], crit, rtol=1e-12)
    assert np.isnan(tree.criterion[2])
    assert tree.n_experts_ == int(tree.levels[np.argmin(crit)])
    assert tree.labels(2).tolist() == [0, 0, 1]
    assert tree.labels(3).tolist() == [0, 1, 2]


def test_exact_split_merges_back_to_the_truth():
    """Each true expert split into two identical halves: heights exactly 0."""
    _, _, truth = make_moe_regression(10, 2, 2, random_state=1)
    half = np.log(0.5)
    split = MoEParams(
        gate_coef=np.repeat(truth.gate_coef, 2, axis=0),
        gate_intercept=np.repeat(truth.gate_intercept, 2) + half,
        expert_params=np.repeat(truth.expert_params, 2, axis=0),
        variance=np.repeat(truth.variance, 2),
    )
    X, y = _data(truth, n=200)
    tree = mixing_measure_dendrogram(split, X, y)
    assert tree.heights[0] == 0.0 and tree.heights[1] == 0.0
    assert tree.heights[2] > 0.0
    assert tree.n_experts_ == 2
    assert tree.best_params_.allclose(truth, rtol=1e-12, atol=1e-12)
    # the split model is the same density: equal log-likelihoods (round-off)
    np.testing.assert_allclose(tree.log_likelihood[:3],
                               truth.log_density(X, y).sum(), rtol=1e-12)


def test_linkage_is_valid_for_scipy():
    _, _, params = make_moe_regression(10, 2, 6, random_state=3)
    X, y = _data(params)
    tree = mixing_measure_dendrogram(params, X, y)
    assert is_valid_linkage(tree.linkage, throw=True)
    assert tree.linkage.shape == (5, 4)
    assert tree.linkage[-1, 3] == 6
    np.testing.assert_array_equal(tree.levels, [6, 5, 4, 3, 2, 1])
    assert [len(level) for level in tree.leaves] == [6, 5, 4, 3, 2, 1]
    assert all(p.n_experts == k for p, k in zip(tree.params, tree.levels,
                                                strict=True))
    assert np.all(tree.heights >= 0)


def test_invariant_to_permuting_and_translating_the_gate():
    _, _, params = make_moe_regression(10, 2, 5, random_state=4)
    X, y = _data(params)
    tree = mixing_measure_dendrogram(params, X, y)
    order = [3, 0, 4, 2, 1]
    # a common translation of all gate rows does not change the model
    moved = params.permute(order)
    moved = moved.replace(gate_coef=moved.gate_coef + [0.7, -1.3],
                          gate_intercept=moved.gate_intercept + 2.5)
    other = mixing_measure_dendrogram(moved, X, y)
    # round-off of the translated logits: relative 1e-12 on O(1) values
    np.testing.assert_allclose(other.heights, tree.heights, rtol=1e-10)
    np.testing.assert_allclose(other.log_likelihood, tree.log_likelihood,
                               rtol=1e-10)
    assert other.n_experts_ == tree.n_experts_
    for m in range(5):
        # same partition of the experts, relabelled
        ours = {tuple(sorted(c)) for c in tree.leaves[m]}
        theirs = {tuple(sorted(np.asarray(order)[c])) for c in other.leaves[m]}
        assert ours == theirs
        np.testing.assert_allclose(other.params[m].log_density(X, y),
                                   tree.params[m].log_density(X, y), rtol=1e-10)


def test_temperature_is_absorbed():
    params = _tiny()
    X, y = _data(params)
    hot = params.replace(gating=SoftmaxGating(temperature=2.0),
                         gate_coef=2.0 * COEF, gate_intercept=2.0 * INTERCEPT)
    a = mixing_measure_dendrogram(params, X, y)
    b = mixing_measure_dendrogram(hot, X, y)
    np.testing.assert_allclose(b.heights, a.heights, rtol=1e-12)
    np.testing.assert_allclose(b.log_likelihood, a.log_likelihood, rtol=1e-12)
    np.testing.assert_allclose(b.params[1].gate_coef, 2.0 * a.params[1].gate_coef,
                               rtol=1e-12)


@pytest.mark.filterwarnings("ignore::skmoe.EmptyExpertWarning")
# the two restarts of the over-specified fit end at different optima (-323.3
# and -330.9; many ways to split two experts into five): the dendrogram uses
# the best, whose merges are tested here
@pytest.mark.filterwarnings("ignore::skmoe.MultipleOptimaWarning")
def test_selects_the_true_number_on_an_easy_case():
    X, y, _ = make_moe_regression(600, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(n_experts=5, n_init=2, tol=1e-4,
                                    random_state=0).fit(X, y)
    tree = mixing_measure_dendrogram(est, X, y, omega=5.0)
    assert tree.n_experts_ == 2
    assert tree.omega == 5.0
    assert isinstance(tree, MixingMeasureDendrogram)
    # the merges above K* lose (almost) no likelihood, the next one a lot
    ll = tree.log_likelihood / X.shape[0]
    assert ll[3] - ll[4] > 1.0
    assert ll[0] - ll[3] < 0.05
    frame = tree.to_frame()
    assert list(frame.index) == [5, 4, 3, 2, 1]
    assert "MixingMeasureDendrogram(n_experts_=2" in repr(tree)


def test_plot():
    plt = pytest.importorskip("matplotlib.pyplot")
    params = _tiny()
    X, y = _data(params)
    tree = mixing_measure_dendrogram(params, X, y)
    axes = tree.plot()
    assert len(axes) == 2
    plt.close("all")


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(gating=SoftmaxGating(activation="tanh")), "'softmax_atoms'"),
        (dict(gating=SoftmaxGating(top_k=2)), "'softmax_atoms'"),
        (dict(shared_params=[[0.0, 1.0]], shared_variance=[0.1]), "shared"),
    ],
)
def test_rejects_unsupported_models(change, match):
    params = _tiny().replace(**change)
    X, y = _data(_tiny())
    with pytest.raises(ValueError, match=match):
        mixing_measure_dendrogram(params, X, y)


def test_rejects_student_t_fits():
    # the merge rule has no merged degrees of freedom: a clear refusal, not a
    # shape error from MoEParams
    X, y, _ = make_moe_regression(300, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(3, noise="student_t", noise_df=3.0,
                                    random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="noise='student_t'"):
        mixing_measure_dendrogram(est, X, y)


def test_unfitted_estimator_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    X, y = _data(_tiny())
    with pytest.raises(NotFittedError):
        mixing_measure_dendrogram(MixtureOfExpertsRegressor(3), X, y)


def test_rejects_bad_arguments():
    params = _tiny()
    X, y = _data(params)
    one = MoEParams([[0.0]], [0.0], [[1.0, 0.0]], [0.1])
    with pytest.raises(ValueError, match="at least 2 experts"):
        mixing_measure_dendrogram(one, X, y)
    with pytest.raises(ValueError, match="omega"):
        mixing_measure_dendrogram(params, X, y, omega=0.0)
    tree = mixing_measure_dendrogram(params, X, y)
    with pytest.raises(ValueError, match="n_experts must be"):
        tree.labels(4)


@pytest.mark.parametrize("init_params", ["random", "auto"])
def test_mcycle_six_experts_gives_positive_heights(init_params):
    # issue 18: on this fit (init_params="random", random_state=0) every
    # height was 0, with a bare NumPy "invalid value" warning: the weights
    # e^{beta_0} are the gate at times = 0, outside the data (2.4 to 57.6
    # ms), where it is nearly hard (log-weights down to -2400), so every
    # weight but one underflowed and w_i w_j / (w_i + w_j) was 0 / 0. The
    # average gate weights on X (0.09 to 0.31 here) give positive heights.
    # Any warning fails the test (pyproject's filterwarnings = error).
    X, y = load_mcycle(return_X_y=True)
    est = MixtureOfExpertsRegressor(6, init_params=init_params,
                                    random_state=0).fit(X, y)
    tree = mixing_measure_dendrogram(est, X, y)
    assert np.all(np.isfinite(tree.heights)) and np.all(tree.heights > 0)
    assert is_valid_linkage(tree.linkage)
    # the first level is the fit itself (round-off of the normalisation)
    np.testing.assert_allclose(tree.log_likelihood[0], est.log_likelihood_,
                               rtol=1e-12)


def test_merges_do_not_depend_on_the_origin_of_x():
    # shifting X by t and the intercepts by -slope t leaves the model, the
    # average gate weights and the merged models unchanged
    params = _tiny()
    X, y = _data(params)
    t = 50.0
    shifted = params.replace(
        gate_intercept=params.gate_intercept - params.gate_coef[:, 0] * t,
        expert_params=np.column_stack([EXPERTS[:, 0],
                                       EXPERTS[:, 1] - EXPERTS[:, 0] * t]))
    a = mixing_measure_dendrogram(params, X, y)
    b = mixing_measure_dendrogram(shifted, X + t, y)
    # at x = 0 the shifted gate gives atom 1 a weight e^{-50}, atom 0
    # e^{-50}: with the old weights their heights were 1e-22 times smaller;
    # here the merge order and the models along the path are those of the
    # unshifted model (the gate numerators add at the mean of X). The
    # heights differ through the expert intercepts (at x = 0), see Notes.
    np.testing.assert_array_equal(b.linkage[:, [0, 1, 3]], a.linkage[:, [0, 1, 3]])
    # round-off of logits of size 50 (1e-14 relative)
    np.testing.assert_allclose(b.log_likelihood, a.log_likelihood, rtol=1e-10)


def test_warns_about_atoms_the_gate_starves():
    # expert 2 gets a gate weight near e^{-1000} everywhere: its weight is
    # kept in log space (no 0 / 0), its heights are 0 whatever its
    # parameters, and the warning names it
    params = MoEParams(np.array([[1.0], [-1.0], [0.0]]), np.array([0.0, 0.0, -1000.0]),
                       EXPERTS, VARIANCE).replace(gate_intercept=[1000.0, 1000.0, 0.0])
    X, y = _data(params, n=60)
    with pytest.warns(EmptyExpertWarning, match=r"expert\(s\) \[2\] an average "
                      r"weight below 1/n_samples"):
        tree = mixing_measure_dendrogram(params, X, y)
    assert np.all(np.isfinite(tree.heights))
    assert tree.heights[0] == 0.0 and 2 in tree.linkage[0, :2]
    assert np.all(tree.heights[1:] > 0)


def test_rejects_x_with_other_features():
    params = _tiny()
    X, y = _data(params)
    with pytest.raises(ValueError, match="X has 2 features, but the model has 1"):
        mixing_measure_dendrogram(params, np.hstack([X, X]), y)
