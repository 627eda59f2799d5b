"""The DeepSeekMoE experiments' truths, estimators and study helpers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from skmoe import FFNExperts, LinearExperts, NormalizedSigmoidGating, SoftmaxGating
from skmoe.convergence import (
    DEEPSEEK_FULL_GRID,
    DEEPSEEK_LOSSES,
    DEEPSEEK_REPORTED_RATES,
    PAPER_STUDIES,
    SampleSizeStudy,
    _VoronoiLoss,
    deepseek_estimator,
    deepseek_reference,
    deepseek_report,
    deepseek_study,
    deepseek_truth,
    exact_softmax_truth,
    least_squares_truth,
    near_true_init,
    paper_study,
)
from skmoe.metrics import _shared_part, voronoi_loss

GRID = np.linspace(-3, 3, 13)[:, None]


def _relu(z):
    return np.maximum(z, 0.0)


def _by_hand(experiment, x, rows=None):
    """The paper's regression function, written from PAPERS.md section 5."""
    relu_routed = experiment in ("a", "c")
    shared = 2 * x if experiment == "b" else -8 * _relu(6 * x)
    h1, h2 = ((4 * _relu(-12 * x), 4 * _relu(12 * x)) if relu_routed
              else (8 * x + 2, -6 * x + 1))
    if rows is None:  # the printed gate rows (beta_1, beta_0)
        b1 = (0, 0) if experiment == "c" else (5, 5)
        rows = ((b1[0], -0.5), (b1[1], 0.5))
    z1, z2 = rows[0][0] * x + rows[0][1], rows[1][0] * x + rows[1][1]
    if experiment in ("a", "b"):
        g1 = np.exp(z1) / (np.exp(z1) + np.exp(z2))
    else:
        g1 = expit(z1) / (expit(z1) + expit(z2))
    return 0.5 * shared + 0.5 * (g1 * h1 + (1 - g1) * h2)


@pytest.mark.parametrize("experiment", ["a", "b", "c", "d"])
def test_truth_regression_function_by_hand(experiment):
    # every truth is the printed distribution, whatever form A.2 gives it
    truth = deepseek_truth(experiment)
    assert (truth.n_experts, truth.n_shared_experts) == (2, 1)
    assert_allclose(truth.predict(GRID), _by_hand(experiment, GRID[:, 0]),
                    rtol=1e-12, atol=1e-12)
    assert_allclose(truth.variance, [0.4, 0.4])
    assert_allclose(truth.shared_weights, [1.0])


def test_truths_follow_a2_where_the_printed_truth_allows_it():
    # (a), (b): softmax, the printed rows (5, -0.5), (5, 0.5) shifted by the
    # last: (0, -1), (0, 0)
    for e in "ab":
        t = deepseek_truth(e)
        assert t.gate_coef.ravel().tolist() == [0.0, 0.0]
        assert t.gate_intercept.tolist() == [-1.0, 0.0]
    # (c): constant scores rescaled so the last is sigmoid(0):
    # sigmoid(b) = sigmoid(-0.5) / (2 sigmoid(0.5)) = exp(-0.5) / 2
    c = deepseek_truth("c")
    assert c.gating.pin_last
    assert_allclose(c.gate_intercept, [-0.5 - np.log(2 - np.exp(-0.5)), 0.0],
                    rtol=1e-14)
    assert round(c.gate_intercept[0], 3) == -0.832
    # (d): no pinned form (non-zero slopes): returned as printed, unpinned
    d = deepseek_truth("d")
    assert not d.gating.pin_last
    assert d.gate_coef.ravel().tolist() == [5.0, 5.0]
    assert d.gate_intercept.tolist() == [-0.5, 0.5]


@pytest.mark.parametrize("experiment", ["a", "b", "d"])
def test_x_dependent_gate(experiment):
    printed = deepseek_truth(experiment).gates(GRID)
    if experiment != "d":  # a softmax with equal slopes: constant in x
        assert_allclose(printed, printed[:1].repeat(len(GRID), axis=0),
                        rtol=1e-12)
    truth = deepseek_truth(experiment, x_dependent_gate=True)
    # routed 1 keeps its printed row (5, -0.5), routed 2 has A.2's (0, 0)
    assert truth.gate_coef.ravel().tolist() == [5.0, 0.0]
    assert truth.gate_intercept.tolist() == [-0.5, 0.0]
    assert_allclose(truth.predict(GRID),
                    _by_hand(experiment, GRID[:, 0], rows=((5, -0.5), (0, 0))),
                    rtol=1e-12, atol=1e-12)
    g = truth.gates(GRID)[:, 0]
    assert g[0] < 0.01 and g[-1] > 0.6  # routed 1 for large x


def test_sparse_regime_gate_is_constant():
    g = deepseek_truth("c").gates(GRID)
    assert_allclose(g[:, 0], expit(-0.5) / (expit(-0.5) + expit(0.5)), rtol=1e-12)


def test_families_and_sizes():
    est = deepseek_estimator("d")
    assert (est.n_experts, est.n_shared_experts, est.shared_weight) == (3, 2, 0.5)
    assert isinstance(est.gating, NormalizedSigmoidGating) and est.gating.pin_last
    assert isinstance(est.experts, LinearExperts)
    # kappa_2 ReLU(kappa_1 x + kappa_0): a hidden bias, no output offset
    assert est.shared_experts.get_params() == FFNExperts(
        activation="relu", fit_intercept=False).get_params()
    # eta_2 ReLU(eta_1 x): neither
    assert deepseek_estimator("a").experts.get_params() == FFNExperts(
        activation="relu", fit_intercept=False, fit_bias=False).get_params()
    assert isinstance(deepseek_estimator("b").gating, SoftmaxGating)
    assert (est.max_iter, est.tol) == (1000, 1e-6)
    sparse = deepseek_estimator("c", gating=NormalizedSigmoidGating(top_k=2))
    assert sparse.gating.top_k == 2
    assert set(DEEPSEEK_LOSSES) == set(DEEPSEEK_REPORTED_RATES) == set("abcd")
    grid, reps = DEEPSEEK_FULL_GRID
    assert (grid[0], grid[-1], len(grid), reps) == (100, 100_000, 13, 40)


@pytest.mark.parametrize("kwargs, match", [
    (dict(experiment="e"), "experiment"),
    (dict(experiment="c", x_dependent_gate=True), "x_dependent_gate"),
])
def test_invalid_experiment(kwargs, match):
    with pytest.raises(ValueError, match=match):
        deepseek_truth(**kwargs)


def test_reference_loss_is_d4():
    truth = deepseek_truth("d", x_dependent_gate=True)
    est = near_true_init(truth, 3, n_shared_experts=2, random_state=0)
    ref = near_true_init(truth, 3, n_shared_experts=2, random_state=1)
    loss = _VoronoiLoss("D4", reference=ref)
    assert loss.__name__ == "D4"
    assert _VoronoiLoss("D4", "canonical", ref).__name__ == "D4_canonical"
    assert loss(est, truth) == voronoi_loss(est, truth, kind="D4", reference=ref)
    # the reference's own routed atoms are at distance 0; its shared atoms
    # are measured against the truth's (the shared part of every kind)
    shared = _shared_part("D4", ref, truth, "raw")
    assert shared > 0
    assert loss(ref, truth) == pytest.approx(shared, rel=1e-12)


def test_reference_is_a_pinned_fit_of_the_same_family():
    ref = deepseek_reference("d", 1500, random_state=0)
    est = deepseek_estimator("d")
    assert type(ref.gating) is type(est.gating) and ref.gating.pin_last
    assert np.all(ref.gate_coef[-1] == 0.0) and ref.gate_intercept[-1] == 0.0
    assert isinstance(ref.experts, LinearExperts)


def test_study_columns_start_and_report():
    # experiment (b) is the cheapest (linear experts); two sizes, two fits each
    study = deepseek_study("b", [100, 200], 2, n_jobs=1, random_state=0)
    assert study.losses == ["D2", "D2_canonical", "regression"]
    assert len(study.table) == 4
    assert study.init == "near_true_authors"
    assert {row["init"] for row in study.table} == {"near_true_authors"}
    rate = study.rate("D2", scale="log_n_over_n", n_boot=0)
    report = deepseek_report(study, "b", n_boot=0).splitlines()
    assert report[0].startswith(f"D2: {rate['slope']:.3f} [nan, nan]")
    assert "(paper 0.517)" in report[0] and "paper" not in report[1]
    assert report[0].endswith("x 2 reps, start near_true_authors")


def test_report_exponent_by_hand():
    # loss exactly (log n / n)^0.3 -> exponent 0.3
    rows = [{"n": n, "replication": 0, "D1": (np.log(n) / n) ** 0.3}
            for n in (100, 1000, 10000)]
    text = deepseek_report(SampleSizeStudy(rows, ["D1"]), "a", n_boot=0)
    assert text.startswith("D1: 0.300 [nan, nan] on log(n)/n (paper 0.451)")


def test_contrast_truths():
    # the authors' exact-fitted model on t in [0, 1], written for x = 6t - 3
    truth = exact_softmax_truth()
    t = np.linspace(0, 1, 7)
    x = (6 * t - 3)[:, None]
    g = 1 / (1 + np.exp(-(25 * t - 8)))
    assert_allclose(truth.predict(x), g * (15 - 20 * t) + (1 - g) * (-5 + 20 * t),
                    rtol=1e-12, atol=1e-12)
    ffn = least_squares_truth("ffn")
    assert_allclose(ffn.expert_means(x)[:, 0], 2 * np.tanh(1.5 * x[:, 0] + 1),
                    rtol=1e-14)
    with pytest.raises(ValueError, match="experts must be"):
        least_squares_truth("poly")


def test_paper_studies_run_by_name():
    assert set(PAPER_STUDIES) >= {"a", "a_x", "b_x", "c", "d", "d_x",
                                  "exact_softmax", "ls_ffn", "ls_linear"}
    study = paper_study("ls_linear", [80, 160], 2, n_jobs=1)
    assert study.losses == ["D1_no_variance", "regression"]
    assert study.init == "near_true"
    study = paper_study("exact_softmax", [80, 160], 2, n_jobs=1)
    assert study.losses == ["D1", "regression"]
    with pytest.raises(ValueError, match="name must be one of"):
        paper_study("e", [80], 1)
