"""Recovery of true models of every gating family (matched, never by index).

The data come from ``make_moe_regression(gating=...)`` (d=2, gate slopes of
norm 3, noise sd 0.3). Experts are matched to the truth by
:func:`skmoe.metrics.match_experts`; the gates are compared as functions, on
fresh inputs, after the same matching, and, where the family's parameters are
well determined, also as parameters. Every tolerance is about twice the
largest error measured over seeds 0-4 with the same set-up, given in the
comments (script: the same fits with ``parameter_error``).
"""

import numpy as np
import pytest

from skmoe import (
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression
from skmoe.metrics import parameter_error

X_TEST = np.random.RandomState(99).standard_normal((5000, 2))


def _fit(gating, K, n, seed, n_init=1):
    X, y, truth = make_moe_regression(n, 2, K, gating=gating, random_state=seed)
    est = MixtureOfExpertsRegressor(K, gating=gating, n_init=n_init,
                                    random_state=seed).fit(X, y)
    err = parameter_error(est.params_, truth)
    ei, ti = err["est_index"], err["true_index"]
    gate_err = np.abs(est.params_.gates(X_TEST)[:, ei] - truth.gates(X_TEST)[:, ti])
    gain = est.log_likelihood_ - truth.log_density(X, y).sum()
    return est, truth, err, gate_err, gain


def _check_experts(err, coef, intercept, variance):
    assert err["expert_coef"].max() < coef, err["expert_coef"]
    assert err["expert_intercept"].max() < intercept, err["expert_intercept"]
    assert err["variance"].max() < variance, err["variance"]


@pytest.mark.parametrize("seed", [0, 1])
def test_normalized_sigmoid(seed):
    est, truth, err, gate_err, gain = _fit(NormalizedSigmoidGating(), 3, 5000, seed)
    # measured maxima: expert slopes 0.024, intercepts 0.029, variances
    # 0.0066, mean gate error 0.013, raw gate rows 0.55 (not centred: the
    # gate is not shift invariant); the fit is at least as likely as the
    # truth (gain >= 6.0)
    _check_experts(err, 0.05, 0.06, 0.015)
    assert gate_err.mean() < 0.03
    ei, ti = err["est_index"], err["true_index"]
    rows = np.hstack([est.params_.gate_coef, est.params_.gate_intercept[:, None]])
    true_rows = np.hstack([truth.gate_coef, truth.gate_intercept[:, None]])
    assert np.abs(rows[ei] - true_rows[ti]).max() < 1.1
    assert gain > -1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_hierarchical_softmax(seed):
    _, _, err, gate_err, gain = _fit(HierarchicalSoftmaxGating(2), 4, 5000, seed)
    # measured maxima: expert slopes 0.069, intercepts 0.039, variances 0.022,
    # mean gate error 0.012 (the parameters of a sharp group softmax are
    # weakly determined: the gate function is what is recovered)
    _check_experts(err, 0.14, 0.08, 0.045)
    assert gate_err.mean() < 0.025
    assert gain > -1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_learned_temperature_with_activation(seed):
    gating = SoftmaxGating(activation="tanh", learn_temperature=True,
                           temperature=0.3)
    est, truth, err, gate_err, gain = _fit(gating, 3, 5000, seed)
    # measured maxima: temperature 0.035 (true 0.3), expert slopes 0.020,
    # intercepts 0.017, variances 0.0098, mean gate error 0.0094, raw gate rows
    # (all rows are free with an activation) 0.33
    _check_experts(err, 0.04, 0.035, 0.02)
    tau = est.params_.gate_extra["temperature"][0]
    assert abs(tau - 0.3) < 0.07
    assert gate_err.mean() < 0.02
    ei, ti = err["est_index"], err["true_index"]
    assert np.abs(est.params_.gate_coef[ei] - truth.gate_coef[ti]).max() < 0.7
    assert gain > -1.0


def test_top_2_softmax():
    _, _, err, gate_err, gain = _fit(SoftmaxGating(top_k=2), 3, 3000, 0)
    # measured maxima (n=3000): expert slopes 0.033, intercepts 0.045,
    # variances 0.009, centred gate slopes 0.16 and intercepts 0.056, mean
    # gate error 0.0099; the likelihood lies within 16 of the truth's (the
    # top-K likelihood is discontinuous and has local maxima near the truth)
    _check_experts(err, 0.07, 0.09, 0.02)
    assert err["gate_coef"].max() < 0.35
    assert err["gate_intercept"].max() < 0.12
    assert gate_err.mean() < 0.02
    assert gain > -35.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_top_2_softmax_more_seeds(seed):
    _, _, err, gate_err, gain = _fit(SoftmaxGating(top_k=2), 3, 3000, seed)
    _check_experts(err, 0.07, 0.09, 0.02)
    assert err["gate_coef"].max() < 0.35
    assert gate_err.mean() < 0.02
    assert gain > -35.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_top_1_softmax(seed):
    _, _, err, gate_err, _ = _fit(SoftmaxGating(top_k=1), 3, 3000, seed)
    # the top-1 gate is a hard partition: only the arg-max regions are
    # identified (not the scale of the gate parameters). Measured maxima:
    # expert slopes 0.039, intercepts 0.053, variances 0.036 (a few inputs at
    # region boundaries go to the wrong expert), mean gate error 0.0025,
    # i.e. 99.6% of fresh inputs routed to the right expert
    _check_experts(err, 0.08, 0.11, 0.07)
    assert gate_err.mean() < 0.006


# restarts that end at different optima are expected here (a top-2 gate
# from random starts): the MultipleOptimaWarning is right and not the
# subject of this test
@pytest.mark.filterwarnings("ignore::skmoe.MultipleOptimaWarning")
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_top_2_normalized_sigmoid(seed):
    # the unpinned family (pin_last=False), as measured: its random truths
    # are those of the calibration below. With the pinned default the truths
    # differ (last row zero) and random starts of a top-2 gate reach worse
    # local maxima on them for both forms (seed 0, n_init=3: log-likelihood
    # gains -35 pinned, -60 unpinned; from the truth +4.6 and +4.5)
    gating = NormalizedSigmoidGating(top_k=2, pin_last=False)
    _, _, err, gate_err, gain = _fit(gating, 3, 3000, seed, n_init=3)
    # with n_init=3 (one start in five failed at n_init=1). Measured maxima:
    # expert slopes 0.036, intercepts 0.034, variances 0.0085, mean gate
    # error 0.023; the gate parameters themselves are weakly determined
    # (raw rows up to 8.7 off for the same gate function)
    _check_experts(err, 0.07, 0.07, 0.02)
    assert gate_err.mean() < 0.045
    assert gain > -12.0
