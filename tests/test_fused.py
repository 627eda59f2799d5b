"""The fused E-step path against the general one.

``MoEParams._posterior`` takes the fused kernel when the gate reports a
linear softmax (:meth:`Gating.linear_logits`) and the experts affine means
(:meth:`Experts.linear_means`); it must compute what the general path
computes. Tolerances: rtol=1e-12 per call, as for the kernel twins (the two
paths sum in different orders); whole EM trajectories compound that
round-off over 20 iterations of a well-conditioned fit, rtol=1e-10.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe import (
    LinearExperts,
    MixtureOfExpertsRegressor,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe._kernels._gaussian import gaussian_estep
from skmoe.datasets import make_moe_regression
from skmoe.gating._softmax import SoftmaxGating as _Softmax

# deliberately short fits (fixed iteration counts, tol=0)
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _fit(gating, experts, **kw):
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=3,
                                  random_state=0)
    est = MixtureOfExpertsRegressor(3, gating=gating, experts=experts,
                                    max_iter=20, tol=0.0, random_state=0, **kw)
    return X, y, est.fit(X, y)


@pytest.mark.parametrize("gating, experts", [
    (SoftmaxGating(), LinearExperts()),
    (SoftmaxGating(temperature=0.5), LinearExperts()),
    (SoftmaxGating(), LinearExperts(fit_intercept=False)),
])
def test_fused_posterior_equals_general(gating, experts):
    X, y, est = _fit(gating, experts)
    params = est.params_
    assert params.gating.linear_logits(params) is not None
    coef, intercept = params.experts.linear_means(params.expert_params)
    assert coef.shape == (3, X.shape[1]) and intercept.shape == (3,)
    resp, loglik, scale = params._posterior(X, y)
    assert scale is None  # Gaussian noise has no latent scales
    resp_ref, loglik_ref = gaussian_estep(*params._components(X), y)
    assert_allclose(resp, resp_ref, rtol=1e-12, atol=1e-15)
    assert_allclose(loglik, loglik_ref, rtol=1e-12)


@pytest.mark.parametrize("gating, experts", [
    (SoftmaxGating(top_k=1), LinearExperts()),
    (SoftmaxGating(activation="tanh"), LinearExperts()),
    (SoftmaxGating(), PolynomialExperts(degree=2)),
])
def test_hooks_decline_non_linear_models(gating, experts):
    X, y, est = _fit(gating, experts)
    params = est.params_
    assert (params.gating.linear_logits(params) is None
            or params.experts.linear_means(params.expert_params) is None)


def test_em_trajectory_same_with_and_without_fusion(monkeypatch):
    _, _, fused = _fit(SoftmaxGating(), LinearExperts())
    monkeypatch.setattr(_Softmax, "linear_logits", lambda self, params: None)
    _, _, general = _fit(SoftmaxGating(), LinearExperts())
    assert_allclose(fused.history_, general.history_, rtol=1e-10)
    assert np.all(np.diff(fused.history_) >= -1e-9 * np.abs(fused.history_[1:]))
