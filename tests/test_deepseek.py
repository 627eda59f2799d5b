"""The DeepSeekMoE experiments' truths, estimators and study helpers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from skmoe import FFNExperts, LinearExperts, NormalizedSigmoidGating
from skmoe.convergence import (
    DEEPSEEK_LOSSES,
    DEEPSEEK_REPORTED_RATES,
    SampleSizeStudy,
    _ReferenceLoss,
    deepseek_estimator,
    deepseek_report,
    deepseek_study,
    deepseek_truth,
    near_true_init,
)
from skmoe.metrics import voronoi_loss

GRID = np.linspace(-3, 3, 13)[:, None]


def _relu(z):
    return np.maximum(z, 0.0)


def _by_hand(experiment, x, slopes=None):
    """The paper's regression function, written from PAPERS.md section 5."""
    relu_routed = experiment in ("a", "c")
    shared = 2 * x if experiment == "b" else -8 * _relu(6 * x)
    h1, h2 = ((4 * _relu(-12 * x), 4 * _relu(12 * x)) if relu_routed
              else (8 * x + 2, -6 * x + 1))
    b1 = slopes if slopes is not None else (0, 0) if experiment == "c" else (5, 5)
    z1, z2 = b1[0] * x - 0.5, b1[1] * x + 0.5
    if experiment in ("a", "b"):
        g1 = np.exp(z1) / (np.exp(z1) + np.exp(z2))
    else:
        g1 = expit(z1) / (expit(z1) + expit(z2))
    return 0.5 * shared + 0.5 * (g1 * h1 + (1 - g1) * h2)


@pytest.mark.parametrize("experiment", ["a", "b", "c", "d"])
def test_truth_regression_function_by_hand(experiment):
    truth = deepseek_truth(experiment)
    assert (truth.n_experts, truth.n_shared_experts) == (2, 1)
    assert_allclose(truth.predict(GRID), _by_hand(experiment, GRID[:, 0]),
                    rtol=1e-12, atol=1e-12)
    assert_allclose(truth.variance, [0.4, 0.4])
    assert_allclose(truth.shared_weights, [1.0])


@pytest.mark.parametrize("experiment", ["a", "b"])
def test_x_dependent_gate(experiment):
    printed = deepseek_truth(experiment).gates(GRID)
    assert_allclose(printed, printed[:1].repeat(len(GRID), axis=0), rtol=1e-12)
    truth = deepseek_truth(experiment, x_dependent_gate=True)
    assert_allclose(truth.predict(GRID),
                    _by_hand(experiment, GRID[:, 0], slopes=(-5, 5)), rtol=1e-12,
                    atol=1e-12)
    g = truth.gates(GRID)[:, 0]
    assert g[0] > 0.99 and g[-1] < 0.01  # routed 1 for x < 0, 2 for x > 0


def test_sparse_regime_gate_is_constant():
    g = deepseek_truth("c").gates(GRID)
    assert_allclose(g[:, 0], expit(-0.5) / (expit(-0.5) + expit(0.5)), rtol=1e-12)


def test_families_and_sizes():
    est = deepseek_estimator("d")
    assert (est.n_experts, est.n_shared_experts, est.shared_weight) == (3, 2, 0.5)
    assert isinstance(est.gating, NormalizedSigmoidGating)
    assert isinstance(est.experts, LinearExperts)
    assert est.shared_experts.get_params() == FFNExperts(
        activation="relu", fit_intercept=False).get_params()
    assert (est.max_iter, est.tol) == (1000, 1e-6)
    sparse = deepseek_estimator("c", gating=NormalizedSigmoidGating(top_k=2))
    assert sparse.gating.top_k == 2
    assert set(DEEPSEEK_LOSSES) == set(DEEPSEEK_REPORTED_RATES) == set("abcd")


@pytest.mark.parametrize("kwargs, match", [
    (dict(experiment="e"), "experiment"),
    (dict(experiment="c", x_dependent_gate=True), "x_dependent_gate"),
])
def test_invalid_experiment(kwargs, match):
    with pytest.raises(ValueError, match=match):
        deepseek_truth(**kwargs)


def test_reference_loss_is_d4():
    truth = deepseek_truth("d")
    est = near_true_init(truth, 3, n_shared_experts=2, random_state=0)
    ref = near_true_init(truth, 3, n_shared_experts=2, random_state=1)
    loss = _ReferenceLoss(ref)
    assert loss.__name__ == "D4"
    assert loss(est, truth) == voronoi_loss(est, truth, kind="D4", reference=ref)
    assert loss(ref, truth) == 0.0


def test_study_columns_and_report():
    # experiment (b) is the cheapest (linear experts); two sizes, two fits each
    study = deepseek_study("b", [100, 200], 2, n_jobs=1, random_state=0)
    assert study.losses == ["D2", "regression"]
    assert len(study.table) == 4
    rate = study.rate("D2", scale="log_n_over_n", n_boot=0)
    report = deepseek_report(study, "b", n_boot=0).splitlines()
    assert report[0].startswith(f"D2: {rate['slope']:.3f} [nan, nan]")
    assert "(paper 0.517)" in report[0] and "paper" not in report[1]


def test_report_exponent_by_hand():
    # loss exactly (log n / n)^0.3 -> exponent 0.3
    rows = [{"n": n, "replication": 0, "D1": (np.log(n) / n) ** 0.3}
            for n in (100, 1000, 10000)]
    text = deepseek_report(SampleSizeStudy(rows, ["D1"]), "a", n_boot=0)
    assert text.startswith("D1: 0.300 [nan, nan] on log(n)/n (paper 0.451)")
