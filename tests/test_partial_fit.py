"""partial_fit: online (stepwise) EM with running sufficient statistics."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    FFNExperts,
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe._kernels._gaussian import gaussian_estep, weighted_residual_ss
from skmoe.datasets import make_moe_regression
from skmoe.solvers import FitSpec
from skmoe.solvers._online import check_online, step_size
from skmoe.utils._arrays import as_kernel_array

from ._instances import experts_instances, gating_instances
from .test_gating import _fd_check, _n_experts, _setup

GATINGS = gating_instances()
EXPERTS = experts_instances()


def _chunks(n, size):
    return [slice(s, s + size) for s in range(0, n, size)]


def _stream(est, X, y, size, sample_weight=None):
    for sl in _chunks(X.shape[0], size):
        sw = None if sample_weight is None else sample_weight[sl]
        est.partial_fit(X[sl], y[sl], sample_weight=sw)
    return est


def _params_equal(a, b):
    return all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("gate_coef", "gate_intercept", "expert_params",
                         "variance"))


def test_one_pass_within_one_percent_of_batch_em():
    # data seed 0, estimator seed 0 (measured for data seeds 0-2: the one-pass
    # gap was 1e-4 to 2e-4 relative, the first-batch gap 1.5% to 2.1%)
    n, K = 20000, 3
    X, y, _ = make_moe_regression(n, 3, K, random_state=0)
    batch = MixtureOfExpertsRegressor(K, random_state=0).fit(X, y)
    ll_batch = batch.log_density(X, y).mean()
    online = MixtureOfExpertsRegressor(K, random_state=0)
    chunks = _chunks(n, 1000)
    online.partial_fit(X[chunks[0]], y[chunks[0]])
    ll_first = online.log_density(X, y).mean()
    for sl in chunks[1:]:
        online.partial_fit(X[sl], y[sl])
    ll_online = online.log_density(X, y).mean()
    assert online.n_batches_ == online.n_iter_ == 20
    # not trivially satisfied: the model fitted to the first chunk is more
    # than 1% worse than batch EM on all the data
    assert (ll_batch - ll_first) / abs(ll_batch) > 0.01
    # after one pass over the 20 chunks: within 1% of batch EM (the issue's
    # requirement) ...
    gap = (ll_batch - ll_online) / abs(ll_batch)
    assert gap < 0.01
    # ... and within 0.2%, which catches a broken half of the M-step: measured
    # gap 2.2e-4 here, 0.89% with the gate frozen after the first batch and
    # 1.2% with the experts frozen
    assert gap < 0.002


def test_reproducible_for_fixed_random_state():
    X, y, _ = make_moe_regression(1500, 2, 3, random_state=1)
    a = _stream(MixtureOfExpertsRegressor(3, random_state=4), X, y, 500)
    b = _stream(MixtureOfExpertsRegressor(3, random_state=4), X, y, 500)
    c = _stream(MixtureOfExpertsRegressor(3, random_state=5), X, y, 500)
    assert _params_equal(a.params_, b.params_)
    assert not _params_equal(a.params_, c.params_)


def _numpy_batch_stats(X, y, w, params):
    """NumPy twin of the per-unit-weight statistics of one batch.

    In the order of :class:`skmoe.experts.LinearStatistics`, taken at zero
    experts (the plain moments of ``y``).
    """
    resp, _ = gaussian_estep(*params._components(X), y)
    R = resp * (w / w.sum())[:, None]
    F = np.hstack([X, np.ones((X.shape[0], 1))])
    gram = np.einsum("ik,ia,ib->kab", R, F, F)
    moment = np.einsum("ik,ia->ka", R, F * y[:, None])
    return gram, moment, R.sum(axis=0), R.T @ y**2


def test_running_statistics_are_the_weighted_average_of_batch_statistics():
    X, y, _ = make_moe_regression(900, 2, 2, random_state=2)
    w = np.random.RandomState(0).uniform(0.5, 2.0, 900)
    est = MixtureOfExpertsRegressor(2, random_state=0, learning_decay=0.8,
                                    learning_offset=2.0)
    running = None
    seen = 0.0
    for t, sl in enumerate(_chunks(900, 300), start=1):
        # statistics of this batch at the parameters before the update
        before = None if t == 1 else est._online_state.params
        est.partial_fit(X[sl], y[sl], sample_weight=w[sl])
        state = est._online_state
        # the running statistics at zero experts (their plain moments), where
        # the batches' plain statistics average
        plain = state.expert_stats.recentred(np.zeros_like(state.expert_stats.at))
        if t > 1:  # taken at the experts before the update
            assert np.array_equal(state.expert_stats.at, before.expert_params)
        if t == 1:
            # the first batch's statistics are taken at its batch-EM fit
            running = [np.array(s) for s in plain[:4]]
        else:
            stats = _numpy_batch_stats(X[sl], y[sl], w[sl], before)
            gamma = (t + 2.0) ** -0.8
            assert step_size(t, 0.8, 2.0) == gamma
            running = [(1 - gamma) * r + gamma * s for r, s in zip(running, stats,
                                                                   strict=True)]
            # rtol 1e-12: the same sums in a different order (einsum vs kernel)
            for got, want in zip(plain[:4], running, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        seen += w[sl].sum()
        # sanity of the running statistics: convex combinations of batch
        # statistics per unit weight
        gram, moment, mass, rss, _ = state.expert_stats
        yy = plain.rss
        assert state.n_batches == t and est.n_batches_ == t
        np.testing.assert_allclose(state.weight_seen, seen, rtol=1e-15)
        np.testing.assert_allclose(mass.sum(), 1.0, rtol=1e-13)
        assert np.all(mass > 0) and np.all(yy >= 0) and np.all(rss >= 0)
        assert np.all(np.linalg.eigvalsh(gram) > 0)
        assert np.all(np.linalg.eigvalsh(state.gate_hess) >= -1e-14)
        # the variance floor uses exact stream moments of y
        ws = w[: sl.stop] / w[: sl.stop].sum()
        np.testing.assert_allclose(state.y_moments,
                                   [ws @ y[: sl.stop], ws @ y[: sl.stop] ** 2],
                                   rtol=1e-12)


def test_single_batch_partial_fit_is_a_fixed_point_of_batch_em():
    # one batch fitted to convergence by EM: the online M-step from its
    # statistics is one more EM iteration (experts exact, gate one Newton
    # step at the optimum), so the model does not move
    X, y, _ = make_moe_regression(2000, 2, 3, random_state=3)
    kw = dict(n_experts=3, random_state=0, tol=1e-12, max_iter=2000)
    batch = MixtureOfExpertsRegressor(**kw).fit(X, y)
    online = MixtureOfExpertsRegressor(**kw).partial_fit(X, y)
    # 1e-6: EM stops when the log-likelihood changes by < 1e-12 relative,
    # which leaves the parameters O(sqrt(1e-12)) from the optimum
    assert online.params_.allclose(batch.params_, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
def test_update_from_statistics_equals_m_step(experts):
    """Contract: statistics-based update == direct update, for every family."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 2))
    y = X @ [1.0, -2.0] + rng.standard_normal(200)
    R = as_kernel_array(rng.uniform(size=(200, 3)))
    if experts.lacks("statistics") is not None:
        with pytest.raises(ValueError, match="'statistics'"):
            check_online(FitSpec(3, SoftmaxGating(), experts))
        return
    old = np.random.RandomState(1).standard_normal((3, experts.n_params(2)))
    stats = experts.statistics(X, y, R, old)
    new = experts.update(stats, old)
    want = experts.m_step(X, y, R, old)
    # the same normal equations solved by the same routine
    np.testing.assert_allclose(new, want, rtol=1e-12, atol=1e-13)
    # statistics taken elsewhere, moved to ``old``: the same update
    moved = experts.statistics(X, y, R, np.zeros_like(old)).recentred(old)
    np.testing.assert_allclose(experts.update(moved, old), want, rtol=1e-12,
                               atol=1e-13)
    means = as_kernel_array(experts.predict(X, want))
    # rtol 1e-10: rss is recomputed from the statistics, a cancellation of
    # sums of order |y|^2 ~ 5 against rss ~ 1
    np.testing.assert_allclose(experts.residual_ss(stats, new),
                               weighted_residual_ss(y, means, R), rtol=1e-10)
    np.testing.assert_allclose(stats.mass, R.sum(axis=0), rtol=1e-14)


def _rows(theta, K, d):
    """The gate ``(coef, intercept)`` of free rows (last row zero)."""
    full = np.zeros((K, d + 1))
    full[:-1] = theta.reshape(K - 1, d + 1)
    return np.ascontiguousarray(full[:, :d]), np.ascontiguousarray(full[:, d])


@pytest.mark.parametrize("gating", GATINGS, ids=repr)
def test_gate_statistics_by_finite_differences(gating):
    """Contract: every gate that online EM accepts has correct statistics.

    The Newton terms are the gradient and negative Hessian of the gate
    objective in the coordinates of the gate's update (its ``theta``, mapped
    to gate fields by the update's ``fields``).
    """
    K = _n_experts(gating)
    spec = FitSpec(K, gating, FFNExperts())
    if gating.lacks("statistics", K) or gating.lacks("fixed_model", K):
        est = MixtureOfExpertsRegressor(K, gating=gating)
        assert not hasattr(est, "partial_fit")
        with pytest.raises(ValueError, match="partial_fit"):
            check_online(spec)
        return
    X, w, R, params = _setup(gating, n=80, K=K)
    stats = gating.statistics(X, R, params)
    step = gating.update(stats, params)
    d = X.shape[1]

    def objective(th):
        fields = step.fields(_rows(th, K, d))
        return gating.weighted_objective(X, R, params.replace(**fields))

    def grad_at(th):
        fields = step.fields(_rows(th, K, d))
        return gating.statistics(X, R, params.replace(**fields)).grad

    theta = stats.theta
    assert stats.neg_hess.shape == (theta.size, theta.size)
    assert stats.value == pytest.approx(objective(theta), rel=1e-12)
    # _fd_check: central differences, tolerance 1e-6 (see its docstring)
    _fd_check(objective, theta, stats.grad)
    for j in range(theta.size):
        _fd_check(lambda th, j=j: grad_at(th)[j], theta, -stats.neg_hess[j])


@pytest.mark.parametrize("kwargs, name", [
    (dict(experts=FFNExperts()), "experts="),
    (dict(gating=SoftmaxGating(top_k=1)), "top_k=1"),
    (dict(gating=SoftmaxGating(activation="tanh")), "activation='tanh'"),
    (dict(gating=SoftmaxGating(schedule="linear")), "schedule='linear'"),
    (dict(gating=NormalizedSigmoidGating()), "'statistics'"),
    (dict(gating=HierarchicalSoftmaxGating(n_groups=2), n_experts=4),
     "'statistics'"),
    (dict(n_shared_experts=1), "n_shared_experts=1"),
    (dict(objective="least_squares", solver="lbfgs"), "objective='least_squares'"),
])
def test_unsupported_configurations_have_no_partial_fit(kwargs, name):
    est = MixtureOfExpertsRegressor(**{"n_experts": 2, **kwargs})
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as info:
        est.partial_fit(np.zeros((10, 2)), np.zeros(10))
    # the cause names the parameter
    assert isinstance(info.value.__cause__, ValueError)
    assert name in str(info.value.__cause__)


def test_partial_fit_errors():
    X, y, _ = make_moe_regression(200, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).partial_fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[100:, :1], y[100:])
    with pytest.raises(ValueError, match="non-zero"):
        est.partial_fit(X[100:], y[100:], sample_weight=np.zeros(100))
    for decay in (0.5, 1.5):
        with pytest.raises(InvalidParameterError, match="learning_decay"):
            MixtureOfExpertsRegressor(2, learning_decay=decay).partial_fit(X, y)
    with pytest.raises(InvalidParameterError, match="learning_offset"):
        MixtureOfExpertsRegressor(2, learning_offset=-1.0).partial_fit(X, y)


def test_fit_ends_the_stream_and_partial_fit_starts_a_new_one():
    X, y, _ = make_moe_regression(600, 2, 2, random_state=0)
    est = _stream(MixtureOfExpertsRegressor(2, random_state=0), X, y, 200)
    assert est.n_batches_ == 3 and not hasattr(est, "log_likelihood_")
    est.fit(X, y)
    assert not hasattr(est, "n_batches_") and hasattr(est, "log_likelihood_")
    est.partial_fit(X[:200], y[:200])
    assert est.n_batches_ == 1 and not hasattr(est, "converged_")
    fresh = MixtureOfExpertsRegressor(2, random_state=0).partial_fit(X[:200],
                                                                     y[:200])
    assert _params_equal(est.params_, fresh.params_)


def test_integer_weights_equal_repeated_rows():
    X, y, _ = make_moe_regression(600, 2, 2, random_state=4)
    w = np.random.RandomState(0).randint(1, 3, 600).astype(float)
    weighted = MixtureOfExpertsRegressor(2, random_state=0)
    repeated = MixtureOfExpertsRegressor(2, random_state=0)
    for sl in _chunks(600, 200):
        weighted.partial_fit(X[sl], y[sl], sample_weight=w[sl])
        idx = np.repeat(np.arange(sl.start, sl.stop), w[sl].astype(int))
        repeated.partial_fit(X[idx], y[idx])
    # every statistic is a weighted sum, so only the summation order differs
    # (measured: 1e-13 relative at most, in the variances)
    assert weighted.params_.allclose(repeated.params_, rtol=1e-10, atol=1e-12)


def test_non_finite_step_is_rejected_and_the_model_kept():
    from skmoe.solvers._online import partial_fit_online

    X, y, _ = make_moe_regression(400, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).partial_fit(X[:200], y[:200])
    params, state = est.params_, est._online_state
    # y * 1e160 is beyond the range partial_fit accepts (refused, by name)...
    with pytest.raises(ValueError, match="^y has scale"):
        est.partial_fit(X[200:], y[200:] * 1e160)
    assert est.params_ is params and est._online_state is state
    # ... and the online step itself rejects the non-finite statistics
    # (y**2 overflows) without touching the state
    with pytest.raises(ValueError, match="non-finite"):
        partial_fit_online(state, X[200:], y[200:] * 1e160, np.ones(200),
                           reg_var=1e-6, learning_decay=0.7, learning_offset=10.0,
                           first_fit=None)
    assert est._online_state is state
    assert est.partial_fit(X[200:], y[200:]).n_batches_ == 2


def test_learned_temperature_streams_like_the_plain_softmax():
    # a learned temperature only reparametrises the plain softmax (its scale
    # moves into the temperature): online EM in the logits' coordinates takes
    # the same steps, so the gates agree to round-off (1e-9: three batches of
    # Newton steps on renormalised rows)
    X, y, _ = make_moe_regression(3000, 2, 2, random_state=3)
    plain = _stream(MixtureOfExpertsRegressor(2, random_state=0), X, y, 1000)
    learned = _stream(MixtureOfExpertsRegressor(
        2, gating=SoftmaxGating(learn_temperature=True), random_state=0), X, y, 1000)
    np.testing.assert_allclose(learned.predict_gates(X), plain.predict_gates(X),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(learned.params_.expert_params,
                               plain.params_.expert_params, rtol=1e-9, atol=1e-12)
