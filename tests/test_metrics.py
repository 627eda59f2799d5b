"""Matching and parameter errors: zero at the truth, blind to labels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skmoe import MoEParams
from skmoe.datasets import make_moe_regression
from skmoe.metrics import match_experts, parameter_error


@pytest.fixture(scope="module")
def truth():
    return make_moe_regression(10, 2, 4, random_state=0)[2]


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(4)))
def test_matching_undoes_a_permutation(order):
    truth = make_moe_regression(10, 2, 4, random_state=0)[2]
    est_index, true_index = match_experts(truth.permute(order), truth)
    assert true_index.tolist() == [0, 1, 2, 3]
    assert np.array_equal(np.asarray(order)[est_index], true_index)
    errors = parameter_error(truth.permute(order), truth)
    for key, value in errors.items():
        if not key.endswith("index"):
            np.testing.assert_allclose(value, 0.0, atol=1e-12)


def test_errors_hand_computed(truth):
    est = truth.copy()
    est.expert_params[1, 0] += 0.3  # slope of expert 1
    est.expert_params[2, -1] -= 0.2  # intercept of expert 2
    est.variance[3] += 0.05
    err = parameter_error(est.permute([3, 1, 0, 2]), truth)
    np.testing.assert_allclose(err["expert_coef"], [0, 0.3, 0, 0], atol=1e-12)
    np.testing.assert_allclose(err["expert_intercept"], [0, 0, 0.2, 0], atol=1e-12)
    np.testing.assert_allclose(err["variance"], [0, 0, 0, 0.05], atol=1e-12)
    np.testing.assert_allclose(err["gate_coef"], 0.0, atol=1e-12)


def test_gate_error_of_a_shifted_gate_is_zero(truth):
    # adding the same row to every gate row does not change the model
    shifted = truth.replace(gate_coef=truth.gate_coef + [1.0, -2.0],
                            gate_intercept=truth.gate_intercept + 0.7)
    err = parameter_error(shifted, truth)
    np.testing.assert_allclose(err["gate_coef"], 0.0, atol=1e-12)
    np.testing.assert_allclose(err["gate_intercept"], 0.0, atol=1e-12)


def test_overspecified_estimate_matches_the_closest_atoms(truth):
    # 5 estimated experts: the 4 true ones plus a far-away one
    est = MoEParams(
        np.vstack([truth.gate_coef, [[0.0, 0.0]]]),
        np.append(truth.gate_intercept, 0.0),
        np.vstack([truth.expert_params, [[10.0, 10.0, 10.0]]]),
        np.append(truth.variance, 5.0),
    )
    est_index, true_index = match_experts(est, truth)
    assert est_index.tolist() == [0, 1, 2, 3]
    err = parameter_error(est, truth)
    assert "gate_coef" not in err  # gates need the same number of experts
    np.testing.assert_allclose(err["expert_coef"], 0.0, atol=1e-12)


def test_mismatched_models_are_rejected(truth):
    other = make_moe_regression(10, 3, 4, random_state=0)[2]
    with pytest.raises(ValueError, match="same n_features"):
        match_experts(other, truth)
    with pytest.raises(ValueError, match="estimated must be an MoEParams"):
        parameter_error("estimate", truth)


def test_parameter_error_follows_the_gates_geometry():
    # a common shift of the rows is no change for the softmax (centred rows)
    # but a change for the normalized sigmoid (rows compared as stored)
    from skmoe import GaussianGating, NormalizedSigmoidGating

    _, _, soft = make_moe_regression(10, 2, 3, random_state=0)
    shifted = soft.replace(gate_intercept=soft.gate_intercept + 1.5)
    assert np.all(parameter_error(shifted, soft)["gate_intercept"] < 1e-12)
    _, _, sig = make_moe_regression(
        10, 2, 3, gating=NormalizedSigmoidGating(pin_last=False), random_state=0)
    shifted = sig.replace(gate_intercept=sig.gate_intercept + 1.5)
    # exactly the shift, for every expert (no centring)
    np.testing.assert_allclose(parameter_error(shifted, sig)["gate_intercept"],
                               1.5, rtol=1e-12)
    # per-expert extra blocks (the Gaussian gate's precision factors) are
    # compared too, after matching
    _, _, gg = make_moe_regression(10, 2, 3, gating=GaussianGating(),
                                   random_state=0)
    errors = parameter_error(gg.permute([2, 0, 1]), gg)
    assert np.all(errors["gate_precision_cholesky"] < 1e-12)
    extra = {k: v.copy() for k, v in gg.gate_extra.items()}
    extra["precision_cholesky"][1] *= 2.0
    errors = parameter_error(gg.replace(gate_extra=extra), gg)
    expected = np.linalg.norm(gg.gate_extra["precision_cholesky"][1])
    np.testing.assert_allclose(errors["gate_precision_cholesky"][1], expected,
                               rtol=1e-12)
