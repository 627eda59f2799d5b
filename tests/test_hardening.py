"""Regression tests of issue 15: clear errors, no NaN, monotone EM (groups 1-8).

One test (or parametrised family) per reproducer of the issue, each asserting
the right behaviour, not only the absence of the old symptom.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe import (
    DegenerateFitWarning,
    FFNExperts,
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SingularInformationWarning,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression, make_orthogonal_moe_regression

from .conftest import assert_non_decreasing

M = MixtureOfExpertsRegressor

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore::skmoe.EmptyExpertWarning",
)


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_moe_regression(150, 3, 3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return M(3, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def ortho():
    X, y, _ = make_orthogonal_moe_regression(300, 3, 2, random_state=7)
    return X, y


# ------------------------------------------------- group 2: -inf, never NaN
GATINGS_2 = [
    ("softmax", SoftmaxGating(), 3),
    ("softmax-top1", SoftmaxGating(top_k=1, anneal_iter=0), 3),
    ("softmax-sigmoid-activation", SoftmaxGating(activation="sigmoid"), 3),
    ("softmax-learned-temperature", SoftmaxGating(learn_temperature=True), 3),
    ("normalized-sigmoid", NormalizedSigmoidGating(), 3),
    ("normalized-sigmoid-top2", NormalizedSigmoidGating(top_k=2, anneal_iter=0), 3),
    ("hierarchical", HierarchicalSoftmaxGating(n_groups=2), 4),
]


@pytest.fixture(scope="module", params=GATINGS_2, ids=[g[0] for g in GATINGS_2])
def gate_fit(request, data):
    _, gating, K = request.param
    X, y = data
    return M(K, gating=gating, max_iter=30, random_state=0).fit(X, y)


def test_log_density_is_minus_inf_far_from_the_data(gate_fit, data):
    # issue 15, group 2: (y - mean)^2 overflows, every joint log-density of
    # the row is -inf, so is its log-likelihood (it was NaN)
    X, y = data
    assert np.array_equal(gate_fit.log_density(X[:2], y[:2] + 1e160),
                          [-np.inf, -np.inf])
    assert np.array_equal(gate_fit.log_density(X[:2] * 1e160, y[:2]),
                          [-np.inf, -np.inf])
    assert gate_fit.bic(X * 1e200, y) == np.inf
    assert gate_fit.aic(X * 1e200, y) == np.inf
    assert gate_fit.icl(X * 1e200, y) == np.inf


def test_gates_are_defined_for_infinite_logits(gate_fit, data):
    # slopes of 1e308 on the first feature: logits of +-inf on most rows
    # (all experts' logits -inf on some); the gate is still a point of the
    # simplex (the limit of the weights as the slopes grow), never NaN
    X, _ = data
    p = gate_fit.params_
    K = p.n_experts
    big = np.zeros_like(p.gate_coef)
    big[:-1, 0] = 1e308 * np.where(np.arange(K - 1) % 2, -1.0, 1.0)
    extra = dict(p.gate_extra)
    if "group_coef" in extra:
        extra["group_coef"] = np.zeros_like(extra["group_coef"])
        extra["group_coef"][0, 0] = -1e308
    if isinstance(p.gating, NormalizedSigmoidGating):
        big[-1, 0] = -1e308  # every logit -inf on some rows
    q = p.replace(gate_coef=big, gate_extra=extra)
    gates = q.gates(X)
    assert np.all(np.isfinite(gates)) and np.all(gates >= 0)
    assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-12)


def test_estep_row_of_minus_inf_gets_its_gate_weights():
    from skmoe._kernels._gaussian import gaussian_estep

    with np.errstate(divide="ignore"):
        log_gate = np.log(np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]))
    means = np.zeros((2, 3))
    y = np.array([1e160, 0.0])
    resp, loglik = gaussian_estep(log_gate, means, np.ones(3), y)
    assert loglik[0] == -np.inf and np.isfinite(loglik[1])
    assert_allclose(resp[0], [0.5, 0.5, 0.0])


def test_log_softmax_of_infinite_logits():
    from skmoe._kernels._logspace import log_softmax_rows

    Z = np.array([[np.inf, 1.0, np.inf], [-np.inf, -np.inf, 0.0],
                  [1.0, 2.0, -np.inf]])
    out = np.exp(log_softmax_rows(Z))
    assert_allclose(out[0], [0.5, 0.0, 0.5])
    assert_allclose(out[1], [0.0, 0.0, 1.0])
    assert np.all(np.isfinite(out)) and out[2, 2] == 0.0


def _infinite_logits():
    return np.array([[np.inf, 1.0, np.inf, -np.inf],
                     [-np.inf, -np.inf, -np.inf, -np.inf],
                     [1.0, 2.0, -np.inf, 0.5],
                     [np.inf, -np.inf, 3.0, 2.0],
                     [-np.inf, 0.0, -np.inf, -1.0]])


def test_gate_kernels_match_their_twins_on_infinite_logits():
    from skmoe._kernels._logspace import log_softmax_rows, soft_topk_log_weights
    from skmoe._kernels._sigmoid import sigmoid_log_weights
    from skmoe._kernels._softmax import topk_log_softmax_rows

    from . import _reference as ref

    Z = _infinite_logits()
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs = [(log_softmax_rows(Z), ref.log_softmax_rows(Z))]
        for k in (1, 2, 4):
            pairs.append((topk_log_softmax_rows(Z, k), ref.topk_log_softmax_rows(Z, k)))
            pairs.append((sigmoid_log_weights(Z, k), ref.sigmoid_log_weights(Z, k)))
        for k in (1, 2):
            pairs.append((soft_topk_log_weights(Z, Z, k, 0.5),
                          ref.soft_topk_log_weights(Z, Z, k, 0.5)))
    for got, want in pairs:
        assert not np.isnan(got).any()
        assert_allclose(np.exp(got).sum(axis=1), 1.0, rtol=1e-12)
        assert_allclose(got, want, rtol=1e-12)


def test_estep_kernels_match_their_twins_on_overflowing_rows():
    from skmoe._kernels._gaussian import gaussian_estep, gaussian_estep_linear
    from skmoe._kernels._student_t import student_t_estep

    from . import _reference as ref

    rng = np.random.RandomState(0)
    n, d, K = 6, 2, 3
    X = rng.standard_normal((n, d))
    X[:2] *= 1e300  # logits and means of +-inf on two rows
    y = rng.standard_normal(n)
    y[2] = 1e200  # (y - mean)^2 overflows on a third row
    coef, intercept = rng.standard_normal((K, d)), rng.standard_normal(K)
    coef[-1], intercept[-1] = 0.0, 0.0
    B, c = rng.standard_normal((K, d)), rng.standard_normal(K)
    v = rng.random_sample(K) + 0.1
    with np.errstate(over="ignore", invalid="ignore"):
        log_gate = ref.log_softmax_rows(X @ coef.T + intercept)
        means = X @ B.T + c
    for got, want in [
        (gaussian_estep(log_gate, means, v, y),
         ref.gaussian_estep(log_gate, means, v, y)),
        (gaussian_estep_linear(X, y, coef, intercept, B, c, v),
         ref.gaussian_estep_linear(X, y, coef, intercept, B, c, v)),
        (student_t_estep(log_gate, means, v, np.array([1.0, 5.0, 50.0]), y),
         ref.student_t_estep(log_gate, means, v, np.array([1.0, 5.0, 50.0]), y)),
    ]:
        resp, loglik = got[0], got[1]
        assert np.isneginf(loglik[:3]).all() and np.isfinite(loglik[3:]).all()
        assert not np.isnan(resp).any()
        assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
        assert_allclose(resp, want[0], rtol=1e-12, atol=1e-300)
        assert_allclose(loglik, want[1], rtol=1e-12)


# ------------------------------------------- group 1: EM history is monotone
def test_hierarchical_gate_with_saturated_group_is_monotone():
    # issue 15, group 1: a group's softmax separates its rows perfectly (its
    # objective is -1e-23), the Newton step's predicted gain is below
    # round-off but the step moves a slope by 1.2e5; taken without a test it
    # dropped the log-likelihood from -154.27 to -289.16
    X, y, _ = make_moe_regression(150, 4, 4, random_state=258689)
    est = M(4, gating=HierarchicalSoftmaxGating(n_groups=2),
            random_state=667).fit(X, y)
    assert_non_decreasing(est.history_)


def test_newton_step_below_round_off_never_decreases_the_objective():
    # the unit behind group 1: two rows carry the curvature of a saturated
    # softmax (objective -2.5e-29), a third row of weight 1e-30 is on the
    # wrong side in a direction no other row constrains: the damped Newton
    # step (predicted gain ~1e-30, below round-off) moves the slopes by ~8e3
    # and lowers the objective to -3.4e4. It must be refused.
    from skmoe._kernels._softmax import softmax_gate_objective
    from skmoe.gating._newton import (
        NewtonProposal,
        newton_softmax_ascent,
        objective_noise,
    )

    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.5, 1.0], [1.6, 1.0]])
    R = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1e-30], [1.0, 0.0]])
    coef, intercept = np.array([[50.0, 0.0], [0.0, 0.0]]), np.zeros(2)
    terms = softmax_gate_objective(X, coef, intercept, R, True)
    noise = objective_noise(terms[0], 4)
    step = NewtonProposal(coef, intercept, terms, noise)
    assert step.status == "take"
    full = softmax_gate_objective(X, step.coef, step.intercept, R, False)[0]
    assert full < -1e4  # the untested step of the old code
    assert not step.accepts(full) and step.backtrack(None) is None
    c, i = newton_softmax_ascent(X, R, coef, intercept, 1)
    after = softmax_gate_objective(X, c, i, R, False)[0]
    assert after >= terms[0] - noise


# --------------------------- group 4 and the scale decision: refusal by name
@pytest.mark.parametrize("kwargs, factor", [
    ({}, 1e160),
    ({}, 1e300),
    ({"gating": "normalized_sigmoid"}, 1e160),
    ({"noise": "student_t"}, 1e160),
    ({"solver": "lbfgs"}, 1e160),
    ({"solver": "gd"}, 1e300),
    ({"experts": "polynomial"}, 1e100),
    ({"experts": "ffn"}, 1e300),
], ids=repr)
def test_X_beyond_the_range_is_refused_by_name(data, kwargs, factor):
    # issue 15, groups 4 and 5: LinAlgError ("SVD did not converge") from the
    # experts' least squares, or "array must not contain infs or NaNs"
    X, y = data
    with pytest.raises(ValueError, match=r"^X has a column of scale .* outside"):
        M(3, random_state=0, **kwargs).fit(X * factor, y)


@pytest.mark.parametrize("factor", [1e160, 1e-160])
def test_y_beyond_the_range_is_refused_by_name(data, factor):
    # issue 15, group 5: "All 1 EM restarts degenerated (non-finite starting
    # parameters)"
    X, y = data
    with pytest.raises(ValueError, match=r"^y has scale .* outside"):
        M(3).fit(X, y * factor)


def test_partial_fit_refuses_scale_by_name(data):
    X, y = data
    with pytest.raises(ValueError, match=r"^X has a column of scale"):
        M(3).partial_fit(X * 1e200, y)


def test_sample_weight_beyond_the_range_is_refused_by_name(data):
    X, y = data
    with pytest.raises(ValueError, match=r"^sample_weight"):
        M(3).fit(X, y, sample_weight=np.full(X.shape[0], 1e300))


def test_scale_inside_the_range_is_fitted(data):
    # far from 1 but inside the range: fitted, monotone
    X, y = data
    a = M(3, random_state=0, max_iter=20).fit(X * 1e50, y * 1e-50)
    assert np.all(np.isfinite(a.history_))
    assert_non_decreasing(a.history_)


# ------------------------------------------ group 3: tensor method at scale
def test_tensor_solver_refuses_y_beyond_the_range_by_name(ortho):
    X, y = ortho
    for factor in (1e150, 1e-150):
        with pytest.raises(ValueError, match=r"^y .*scale"):
            M(2, solver="tensor").fit(X, y * factor)


def test_tensor_solver_refuses_X_beyond_the_range_by_name(ortho):
    X, y = ortho
    with pytest.raises(ValueError, match=r"^X .*scale"):
        M(2, solver="tensor").fit(X * 1e300, y)


@pytest.mark.parametrize("factor", [1e150, 1e-150, 1e200])
def test_tensor_moments_are_equivariant_in_the_scale_of_y(ortho, factor):
    # issue 15, group 3: the cubes of y overflowed (NaN tensor, best=None in
    # _power_decomposition: TypeError) or underflowed (zero tensor:
    # "non-positive tensor eigenvalue"); the estimate scales with y
    from skmoe.solvers._tensor import tensor_experts

    X, y = ortho
    w = np.ones(X.shape[0])
    coef, icpt, prop = tensor_experts(X, y, w, 2, np.random.RandomState(0))
    coef_s, icpt_s, prop_s = tensor_experts(X, y * factor, w, 2,
                                            np.random.RandomState(0))
    # the scaled computation differs from the plain one by the rounding of
    # y * factor and of the power of two applied to it: 1e-12 relative
    assert_allclose(coef_s / factor, coef, rtol=1e-9)
    assert_allclose(icpt_s / factor, icpt, rtol=1e-9, atol=1e-12)
    assert_allclose(prop_s, prop, rtol=1e-9)


def test_power_decomposition_of_a_non_finite_tensor_is_degenerate():
    from skmoe.solvers._result import Degenerate
    from skmoe.solvers._tensor import _power_decomposition

    M3 = np.full((2, 2, 2), np.nan)
    with pytest.raises(Degenerate, match="not finite"):
        _power_decomposition(M3, np.random.RandomState(0))


@pytest.mark.parametrize("factor", [1e300, 1e-200])
def test_whitening_is_equivariant_in_the_scale_of_X(ortho, factor):
    # issue 15, group 3: the covariance of X * 1e300 overflowed (LinAlgError)
    from skmoe.solvers._tensor import tensor_experts

    X, y = ortho
    w = np.ones(X.shape[0])
    coef, icpt, _ = tensor_experts(X, y, w, 2, np.random.RandomState(0))
    coef_s, icpt_s, _ = tensor_experts(X * factor, y, w, 2,
                                       np.random.RandomState(0))
    assert_allclose(coef_s * factor, coef, rtol=1e-9)
    assert_allclose(icpt_s, icpt, rtol=1e-9)


def test_tensor_solver_whitening_check_does_not_depend_on_feature_scale(ortho):
    # issue 15, group 3: a full-rank X with feature scales 1e-8, 1, 1e8 was
    # refused as "a constant or collinear feature". The moment estimate is
    # that of the unscaled data in other units; the EM refinement that
    # follows is fitted (its gate update is not scale-free, see the report)
    from skmoe.solvers._tensor import tensor_experts

    X, y = ortho
    s = np.array([1e-8, 1.0, 1e8])
    w = np.ones(X.shape[0])
    coef, icpt, _ = tensor_experts(X, y, w, 2, np.random.RandomState(0))
    coef_s, icpt_s, _ = tensor_experts(X * s, y, w, 2, np.random.RandomState(0))
    assert_allclose(coef_s * s, coef, rtol=1e-9)
    assert_allclose(icpt_s, icpt, rtol=1e-9)
    est = M(2, solver="tensor", random_state=0).fit(X * s, y)
    assert np.all(np.isfinite(est.params_.expert_params))
    assert_non_decreasing(est.history_)


def test_whitening_still_refuses_collinear_features(ortho):
    X, y = ortho
    Xc = np.hstack([X, X[:, :1] * 1e8])
    with pytest.raises(ValueError, match="collinear"):
        M(2, solver="tensor").fit(Xc, y)


# ------------------------------------ group 5: errors that name the input
@pytest.mark.parametrize("bad_y, match", [
    (np.array(["a"] * 150), r"^y must .*numbers"),
    (np.ones(150) + 1j, r"^y must .*real numbers"),
])
def test_fit_errors_name_y(data, bad_y, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        M(3).fit(X, bad_y)


@pytest.mark.parametrize("method", ["bic", "aic", "icl", "log_density", "score"])
def test_methods_with_y_name_y(fitted, data, method):
    X, y = data
    with pytest.raises(ValueError, match=r"^y must .*numbers"):
        getattr(fitted, method)(X, np.array(["a"] * 150))
    y_nan = y.copy()
    y_nan[0] = np.nan
    with pytest.raises(ValueError, match=r"^y must not contain NaN"):
        getattr(fitted, method)(X, y_nan)


@pytest.mark.parametrize("bad_X, match", [
    (np.array([["a"] * 3] * 150), r"^X must .*numbers.*could not convert"),
    (np.ones((150, 3)) + 1j, r"^X must .*real numbers.*Complex data not supported"),
    ([[1.0, 2.0, 3.0]] * 149 + [[1.0]], r"^X must .*inhomogeneous"),
])
def test_fit_and_predict_errors_name_X(fitted, data, bad_X, match):
    _, y = data
    with pytest.raises(ValueError, match=match):
        M(3).fit(bad_X, y)
    with pytest.raises(ValueError, match=match):
        fitted.predict(bad_X)


def test_predict_quantiles_names_q(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"^q must .*probabilities.*'median'"):
        fitted.predict_quantiles(X, "median")
    with pytest.raises(ValueError, match=r"^q must"):
        fitted.predict_quantiles(X, [0.5, 1.5])


# ------------------------------ group 6: warm start with a changed family
@pytest.mark.parametrize("change, name", [
    ({"experts": "polynomial"}, "experts"),
    ({"experts": FFNExperts()}, "experts"),
    ({"gating": "normalized_sigmoid"}, "gating"),
    ({"gating": HierarchicalSoftmaxGating(n_groups=3)}, "gating"),
])
def test_warm_start_with_another_family_says_so(data, change, name):
    X, y = data
    est = M(3, warm_start=True, max_iter=5, random_state=0).fit(X, y)
    est.set_params(**change)
    with pytest.raises(ValueError, match=rf"warm_start=True .*{name}") as info:
        est.fit(X, y)
    assert "init_params" not in str(info.value)
    assert "warm_start=False" in str(info.value)


def test_warm_start_with_the_same_family_still_continues(data):
    X, y = data
    est = M(3, warm_start=True, max_iter=5, random_state=0).fit(X, y)
    est.set_params(experts="linear").fit(X, y)


# --------------------------- group 7: partial_fit checks routing like fit
def test_partial_fit_refuses_routing_k_above_n_experts(data):
    X, y = data
    with pytest.raises(ValueError, match="routing_k=4 must not exceed n_experts=3"):
        M(3, record_routing=True, routing_k=4).partial_fit(X, y)
    with pytest.raises(ValueError, match="routing_k=4 must not exceed n_experts=3"):
        M(3, record_routing=True, routing_k=4).fit(X, y)


# ----------------------------------- group 8: inference on degenerate fits
@pytest.mark.parametrize("value", [1e5, 0.1, 3.7, 0.0])
def test_constant_y_fit_has_its_variance_floor(data, value):
    # issue 15, group 8: Var(y) of a constant y is round-off (1e-31 for
    # y = 0.1), so the floor reg_var * Var(y) did not apply
    X, _ = data
    y = np.full(X.shape[0], value)
    with pytest.warns(DegenerateFitWarning, match="coincide"):  # all at y
        est = M(3, random_state=0).fit(X, y)
    floor = 1e-6 * (value**2 if value else 1.0)
    assert_allclose(est.params_.variance, floor, rtol=1e-12)


def test_observed_information_of_constant_y_warns_not_runtime(data):
    from skmoe.inference import observed_information

    X, _ = data
    y = np.full(X.shape[0], 1e5)
    with pytest.warns(DegenerateFitWarning, match="coincide"):
        est = M(3, random_state=0).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, info = observed_information(est.params_, X, y)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if np.isnan(info).any():
        assert [w for w in caught
                if issubclass(w.category, SingularInformationWarning)]


@pytest.mark.parametrize("value", [1e5, 0.1, 3.7, 0.0])
def test_constant_y_partial_fit_has_its_variance_floor(data, value):
    X, _ = data
    y = np.full(X.shape[0], value)
    with pytest.warns(DegenerateFitWarning, match="coincide"):
        est = M(3, random_state=0).partial_fit(X[:75], y[:75])
        est.partial_fit(X[75:], y[75:])
    floor = 1e-6 * (value**2 if value else 1.0)
    assert_allclose(est.params_.variance, floor, rtol=1e-12)


def test_observed_information_below_resolution_is_nan_with_reason(data):
    # variances of 1e-20 (reg_var=1e-30) at y = 1e5, one expert with all the
    # rows: the natural unit of its intercept (1e-10 / sqrt(150)) is below the
    # round-off of its value 1e5 (1.5e-11); central differences took steps of
    # 0 (0/0: a bare RuntimeWarning and NaN, as the constant-y fit
    # did). One expert: a fit with K = 3 puts all three experts at y exactly
    # (since issue 16's residual-form statistics; before, round-off left two
    # of them empty and one with all the rows).
    from skmoe.inference import observed_information

    X, _ = data
    y = np.full(X.shape[0], 1e5)
    # all three experts fit y exactly (since the fused EM's statistics are in
    # residual form, issue 16; before, round-off of the moments at 1e5 left
    # two experts empty and far off), as in the tests above
    est = M(1, reg_var=1e-30, random_state=0).fit(X, y)
    params = est.params_
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, info = observed_information(params, X, y)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert np.isnan(info).any()
    assert [w for w in caught if issubclass(w.category, SingularInformationWarning)
            and "round-off" in str(w.message)]


def test_select_n_experts_with_a_moeparams_start(data):
    from skmoe.model_selection import select_n_experts

    X, y = data
    start = M(3, random_state=0).fit(X, y).params_
    est = M(3, init_params=start, random_state=0)
    with pytest.warns(UserWarning, match=r"init_params.*n_experts=3.*K=2"):
        result = select_n_experts(est, X, y, n_experts=[2, 3])
    assert result.table["n_experts"].tolist() == [2, 3]
    # the candidate with the start's K starts from it
    direct = M(3, init_params=start, random_state=0).fit(X, y)
    assert result.estimators[1].log_likelihood_ == direct.log_likelihood_
    # a single candidate equal to the start's K: no warning (error filter)
    select_n_experts(est, X, y, n_experts=[3])


def test_coinciding_experts_warn():
    # issue 15, group 8: a 6-row CSV fitted exactly by one line gave two
    # identical experts (variance at the floor) and "converged: True"
    X = np.arange(6.0)[:, None]
    y = 2.0 * np.arange(6.0) + 1.0
    with pytest.warns(DegenerateFitWarning, match="experts 0 and 1 coincide"):
        M(2, n_init=3, random_state=0).fit(X, y)


def test_distinct_experts_do_not_warn(data):
    # filterwarnings=error: an over-specified but distinct fit does not warn
    X, y = data
    M(4, random_state=0, max_iter=100).fit(X, y)


def test_cli_prints_the_coincidence_warning(tmp_path, capsys):
    from skmoe.__main__ import main

    path = tmp_path / "line.csv"
    rows = "\n".join(f"{x},{2 * x + 1}" for x in range(6))
    path.write_text("x,y\n" + rows + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("always", DegenerateFitWarning)  # not "error"
        assert main(["fit", str(path), "--target", "y", "--n-experts", "2"]) == 0
    assert "warning: experts 0 and 1 coincide" in capsys.readouterr().out
