"""MoEParams: validation, permutation invariance, the fitted distribution."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.stats import norm

from skmoe import MoEParams, SoftmaxGating
from skmoe.datasets import make_moe_regression


@pytest.fixture(scope="module")
def truth():
    return make_moe_regression(10, 2, 3, random_state=0)[2]


def test_shapes_are_validated():
    with pytest.raises(ValueError, match="gate_intercept must have shape"):
        MoEParams(np.zeros((2, 1)), np.zeros(3), np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="expert_params must have shape"):
        MoEParams(np.zeros((2, 1)), np.zeros(2), np.zeros((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="gate_coef must be a 2-D array"):
        MoEParams(np.zeros(2), np.zeros(2), np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="variance must be finite and strictly"):
        MoEParams(np.zeros((2, 1)), np.zeros(2), np.zeros((2, 2)), [1.0, 0.0])
    with pytest.raises(ValueError, match="expert_params must be finite"):
        MoEParams(np.zeros((2, 1)), np.zeros(2), [[0, np.nan], [0, 0]], np.ones(2))
    with pytest.raises(ValueError, match="gating must be one of"):
        MoEParams(np.zeros((2, 1)), np.zeros(2), np.zeros((2, 2)), np.ones(2),
                  gating="sigmoidal")


def test_strings_resolve_to_objects(truth):
    assert isinstance(truth.gating, SoftmaxGating)
    p = MoEParams(truth.gate_coef, truth.gate_intercept, truth.expert_params,
                  truth.variance, gating=SoftmaxGating(temperature=2.0))
    assert p.gating.temperature == 2.0


def test_frozen_and_copy(truth):
    with pytest.raises(AttributeError):
        truth.variance = np.ones(3)
    c = truth.copy()
    c.variance[0] = 99.0
    assert truth.variance[0] != 99.0
    assert truth.allclose(truth.copy(), rtol=0)
    assert not truth.allclose(c)


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(3)))
def test_permutation_changes_nothing_observable(order):
    truth = make_moe_regression(10, 2, 3, random_state=0)[2]
    X = np.random.RandomState(0).standard_normal((40, 2))
    y = truth.sample_y(X, random_state=0)
    p = truth.permute(order)
    assert_allclose(p.predict(X), truth.predict(X), rtol=1e-12, atol=1e-12)
    assert_allclose(p.log_density(X, y), truth.log_density(X, y), rtol=1e-12)
    assert_allclose(p.gates(X), truth.gates(X)[:, order], rtol=1e-10, atol=1e-14)
    assert_allclose(p.expert_means(X), truth.expert_means(X)[:, order])
    assert np.all(p.gate_coef[-1] == 0) and p.gate_intercept[-1] == 0


def test_permute_rejects_non_permutations(truth):
    with pytest.raises(ValueError, match="order must be a permutation"):
        truth.permute([0, 0, 1])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_gate_rows_are_on_the_simplex(seed):
    _, _, truth = make_moe_regression(5, 3, 4, gate_scale=20.0, random_state=seed)
    X = np.random.RandomState(seed).standard_normal((50, 3)) * 10
    g = truth.gates(X)
    assert np.all(g >= 0)
    assert_allclose(g.sum(axis=1), 1.0, rtol=1e-12)


def test_single_expert_quantiles_are_normal_quantiles():
    p = MoEParams([[0.0]], [0.0], [[2.0, 1.0]], [0.25])
    X = np.array([[0.0], [1.0], [-2.0]])
    q = [0.05, 0.5, 0.975]
    want = norm.ppf(q, loc=(2 * X + 1), scale=0.5)
    # bisection to 2^-80 of a 40-sd bracket: far below 1e-9
    assert_allclose(p.quantiles(X, q), want, rtol=0, atol=1e-9)


def test_mixture_quantiles_invert_the_cdf(truth):
    X = np.random.RandomState(1).standard_normal((20, 2))
    q = np.array([0.01, 0.3, 0.9])
    Q = truth.quantiles(X, q)
    assert_allclose(truth.cdf(X, Q), np.broadcast_to(q, Q.shape), atol=1e-10)
    assert np.all(np.diff(Q, axis=1) > 0)


def test_sample_y_matches_the_model_moments(truth):
    # one x repeated: the draws' mean and variance must match the mixture's;
    # with 200000 draws the standard error of the mean is ~0.003 and of the
    # variance ~0.01, so 0.02 / 0.05 are > 5 standard errors
    x = np.array([[0.3, -0.2]])
    X = np.repeat(x, 200_000, axis=0)
    y = truth.sample_y(X, random_state=0)
    g, m, v = truth.gates(x)[0], truth.expert_means(x)[0], truth.variance
    mean = g @ m
    var = g @ (v + m**2) - mean**2
    assert abs(y.mean() - mean) < 0.02
    assert abs(y.var() - var) < 0.05
    assert np.array_equal(y, truth.sample_y(X, random_state=0))


def test_interval_coverage_on_draws_from_the_truth(truth):
    X = np.random.RandomState(2).standard_normal((4000, 2))
    y = truth.sample_y(X, random_state=3)
    lo, hi = truth.quantiles(X, [0.05, 0.95]).T
    cover = np.mean((y >= lo) & (y <= hi))
    # binomial standard error sqrt(0.9 * 0.1 / 4000) = 0.0047
    assert abs(cover - 0.9) < 0.02


def test_log_density_integrates_to_one(truth):
    x = np.array([[0.5, 0.5]])
    grid = np.linspace(-15, 15, 20001)
    dens = np.exp(truth.log_density(np.repeat(x, grid.size, axis=0), grid))
    assert_allclose(np.trapezoid(dens, grid), 1.0, rtol=1e-8)


def test_repr_shows_the_parameters(truth):
    text = repr(truth)
    lines = text.splitlines()
    assert lines[0] == ("MoEParams: 3 experts, 2 features; gating=SoftmaxGating(), "
                        "experts=LinearExperts(), noise=gaussian")
    assert lines[1].split() == ["expert", "gate", "x0", "gate", "x1", "gate",
                                "(Intercept)", "x0", "x1", "(Intercept)",
                                "variance"]
    # one line per expert with its numbers (4 significant digits)
    for k in range(3):
        row = lines[3 + k].split()
        assert row[0] == str(k)
        assert_allclose([float(v) for v in row[1:]], np.r_[
            truth.gate_coef[k], truth.gate_intercept[k], truth.expert_params[k],
            truth.variance[k]], rtol=5e-4, atol=1e-12)
    html = truth._repr_html_()
    assert html.count("<tr>") == 4 and "gate (Intercept)" in html
    frame = truth.to_frame(feature_names=["a", "b"])
    assert frame.loc[(1, "gate", "b"), "value"] == truth.gate_coef[1, 1]
    assert frame.loc[(2, "noise", "variance"), "value"] == truth.variance[2]
    assert list(frame.index.get_level_values("expert")[:6]) == [0] * 6


def test_extra_gate_fields_are_checked_against_the_family():
    # the family declares its extra fields and their shapes (param_blocks)
    from skmoe import HierarchicalSoftmaxGating

    gating = HierarchicalSoftmaxGating(n_groups=2)
    fields = gating.random_params(3, 4, 1.0, np.random.RandomState(0))
    ok = MoEParams(expert_params=np.zeros((4, 4)), variance=np.ones(4),
                   gating=gating, **fields)
    assert ok.gate_extra["group_coef"].shape == (2, 3)
    bad = {**fields["gate_extra"], "group_coef": np.zeros((3, 3))}
    with pytest.raises(ValueError, match=r"gate_extra\['group_coef'\] must have "
                                         r"shape \(2, 3\)"):
        MoEParams(expert_params=np.zeros((4, 4)), variance=np.ones(4),
                  gating=gating, **{**fields, "gate_extra": bad})
