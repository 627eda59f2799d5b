"""Generators return data drawn from the truth they return."""

import numpy as np
import pytest

from skmoe import MoEParams
from skmoe.datasets import make_moe_regression, sample_moe_regression


def test_shapes_and_truth():
    X, y, truth = make_moe_regression(100, 3, 4, random_state=0)
    assert X.shape == (100, 3) and y.shape == (100,)
    assert isinstance(truth, MoEParams) and truth.n_experts == 4
    # the estimator's identifiability normalisation
    assert np.all(truth.gate_coef[-1] == 0) and truth.gate_intercept[-1] == 0
    np.testing.assert_allclose(np.linalg.norm(truth.gate_coef[:-1], axis=1), 3.0)
    np.testing.assert_allclose(truth.variance, 0.09)
    assert sorted(truth.expert_params[:, -1]) == pytest.approx([-2, -2 / 3, 2 / 3, 2])


def test_reproducible():
    a = make_moe_regression(50, 2, 2, random_state=3)
    b = make_moe_regression(50, 2, 2, random_state=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2].allclose(b[2], rtol=0)


def test_data_follow_the_truth():
    # the residuals of the true expert means, weighted by the true posterior,
    # have the true variance: mean log-density of fresh draws matches the
    # expected log-density estimated on a second large sample
    X, y, truth = make_moe_regression(50_000, 2, 3, random_state=0)
    X2, y2 = sample_moe_regression(truth, 50_000, random_state=1)
    a, b = truth.log_density(X, y).mean(), truth.log_density(X2, y2).mean()
    # each mean has standard error ~0.005 at this n
    assert abs(a - b) < 0.03


def test_uniform_inputs():
    X, _, _ = make_moe_regression(1000, 1, 2, x_distribution="uniform",
                                  random_state=0)
    assert X.min() >= -3 and X.max() <= 3 and X.std() > 1.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=0), "n_samples must be an integer >= 1"),
        (dict(n_features=1.5), "n_features must be an integer"),
        (dict(noise=0.0), "noise must be a positive float"),
        (dict(gate_scale=-1.0), "gate_scale must be a non-negative"),
        (dict(gating="nope"), "gating must be one of"),
        (dict(x_distribution="cauchy"), "x_distribution must be"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_moe_regression(**kwargs)


def test_sample_requires_params():
    with pytest.raises(ValueError, match="params must be an MoEParams"):
        sample_moe_regression("truth", 10)
