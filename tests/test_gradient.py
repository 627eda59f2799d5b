"""Gradient solvers (L-BFGS-B, gradient descent) and the least-squares objective."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from skmoe import (
    Experts,
    FFNExperts,
    Gating,
    LinearExperts,
    MixtureOfExpertsRegressor,
    MoEParams,
    NormalizedSigmoidGating,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression
from skmoe.solvers import FitSpec, check_spec
from skmoe.solvers._gradient import FlatProblem

from .conftest import assert_non_decreasing

# Short fits in some tests stop before their tolerance on purpose; the
# warning itself is tested in test_convergence_warning_names_the_solver.
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

EXPERTS = [
    LinearExperts(),
    PolynomialExperts(degree=2, fit_intercept=False),
    FFNExperts(activation="tanh"),
    FFNExperts(activation="sigmoid"),
    FFNExperts(activation="relu"),
    FFNExperts(activation="gelu", fit_intercept=False),
]


def _problem(experts, objective, gating=None, n=40, d=2, K=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    w = rng.randint(0, 3, size=n).astype(float)
    gating = gating or SoftmaxGating()
    fields = gating.init(X, w, K, rng)
    q = experts.n_params(d)
    theta_e = experts.pack(np.zeros((K, q)))
    expert_params = experts.unpack(rng.standard_normal(theta_e.size), K, d)
    params = MoEParams(expert_params=expert_params,
                       variance=rng.uniform(0.5, 2.0, K), gating=gating,
                       experts=experts, **fields)
    return FlatProblem(X, y, w, params, objective, 1e-3), params


@pytest.mark.parametrize("objective", ["likelihood", "least_squares"])
@pytest.mark.parametrize("experts", EXPERTS, ids=repr)
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_objective_gradient_by_finite_differences(objective, experts, temperature):
    # the whole chain: Numba objective kernel, softmax gate VJP, expert VJP
    # and (likelihood) the log-variance chain rule
    problem, params = _problem(experts, objective,
                               SoftmaxGating(temperature=temperature))
    theta = problem.pack(params)
    f, grad = problem.value_and_grad(theta)
    assert np.isfinite(f) and grad.shape == theta.shape
    h = 1e-6
    fd = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        fd[j] = (problem.value_and_grad(theta + e)[0]
                 - problem.value_and_grad(theta - e)[0]) / (2 * h)
    # central differences of an O(1) per-sample objective: truncation
    # O(h^2 f''') ~ 1e-11, round-off ~ eps |f| / h ~ 1e-10 (ReLU: no sample
    # sits within h of a hinge for this seed, so the function is smooth there)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_flat_vector_round_trip_and_bounds():
    problem, params = _problem(FFNExperts(), "likelihood")
    theta = problem.pack(params)
    back = problem.unpack(theta)
    assert back.allclose(params.replace(**params.gating.normalize(params)),
                         rtol=1e-14)
    lower = problem.bounds().lb
    assert np.all(np.isneginf(lower[:-3])) and np.allclose(lower[-3:], np.log(1e-3))
    assert problem.value_and_grad(np.full_like(theta, np.nan))[0] == np.inf


@pytest.fixture(scope="module")
def two_expert_data():
    # well-posed: 2 well separated linear experts in 1 feature, n >> p
    return make_moe_regression(3000, 1, 2, random_state=3)


# (solver, rtol of the log-likelihood, tolerance of the parameters)
# L-BFGS-B stops on the same rule as EM but converges superlinearly: measured
# gaps 1e-12 relative in L and 1e-7 in the parameters. Gradient descent
# converges linearly, so stopping on a change below tol leaves a gap of about
# change * rate / (1 - rate): measured 7e-11 relative in L, 5e-5 in the gate.
SAME_OPTIMUM = [("lbfgs", 1e-10, 1e-5), ("gd", 1e-8, 1e-3)]


@pytest.mark.parametrize("solver, rtol_loglik, tol_params", SAME_OPTIMUM)
def test_em_and_gradient_solvers_reach_the_same_maximum(
    two_expert_data, solver, rtol_loglik, tol_params
):
    X, y, truth = two_expert_data
    kw = dict(n_experts=2, init_params=truth, tol=1e-13, max_iter=20000)
    em = MixtureOfExpertsRegressor(solver="em", **kw).fit(X, y)
    other = MixtureOfExpertsRegressor(solver=solver, **kw).fit(X, y)
    assert em.converged_ and other.converged_
    assert_allclose(other.log_likelihood_, em.log_likelihood_, rtol=rtol_loglik)
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert_allclose(getattr(other.params_, name), getattr(em.params_, name),
                        rtol=tol_params, atol=tol_params, err_msg=name)


def test_em_and_lbfgs_reach_the_same_maximum_with_ffn_experts():
    X, y, truth = make_moe_regression(2000, 1, 2, experts="ffn", random_state=1)
    kw = dict(n_experts=2, experts="ffn", init_params=truth, tol=1e-13,
              max_iter=5000)
    em = MixtureOfExpertsRegressor(solver="em", **kw).fit(X, y)
    lbfgs = MixtureOfExpertsRegressor(solver="lbfgs", **kw).fit(X, y)
    # as above (superlinear L-BFGS against a generalised EM that also stops
    # on a relative change of 1e-13): same maximum to round-off in L
    assert_allclose(lbfgs.log_likelihood_, em.log_likelihood_, rtol=1e-10)
    a = em.experts_.canonicalize(em.params_.expert_params)
    b = lbfgs.experts_.canonicalize(lbfgs.params_.expert_params)
    assert_allclose(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("objective", ["likelihood", "least_squares"])
def test_history_is_monotone(small_data, solver, objective):
    X, y, _ = small_data
    est = MixtureOfExpertsRegressor(3, solver=solver, objective=objective,
                                    max_iter=300, random_state=0).fit(X, y)
    assert est.history_.shape == (est.n_iter_ + 1,)
    sign = 1.0 if objective == "likelihood" else -1.0
    # L-BFGS-B's line search and the Armijo rule accept decreasing steps only
    assert_non_decreasing(sign * est.history_)
    if objective == "likelihood":
        assert est.history_[-1] == est.log_likelihood_
        assert_allclose(est.log_density(X, y).sum(), est.log_likelihood_,
                        rtol=1e-12)
    else:
        assert_allclose(est.history_[-1], np.sum((y - est.predict(X)) ** 2),
                        rtol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_least_squares_with_one_expert_is_ordinary_least_squares(solver):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 + rng.standard_normal(300)
    w = rng.randint(1, 4, size=300).astype(float)
    est = MixtureOfExpertsRegressor(1, solver=solver, objective="least_squares",
                                    tol=1e-14, max_iter=5000)
    est.fit(X, y, sample_weight=w)
    ols = LinearRegression().fit(X, y, sample_weight=w)
    coef = est.params_.expert_params[0]
    # a strictly convex quadratic minimised to a relative change of 1e-14:
    # the coefficients are within ~sqrt(1e-14 * |S| / lambda_min) ~ 1e-6
    assert_allclose(coef[:3], ols.coef_, rtol=1e-5, atol=1e-6)
    assert_allclose(coef[3], ols.intercept_, rtol=1e-5, atol=1e-6)
    resid = y - ols.predict(X)
    # the noise variance of y = f(x) + eps: the weighted residual variance
    assert_allclose(est.params_.variance, np.sum(w * resid**2) / w.sum(),
                    rtol=1e-9)
    assert_allclose(est.history_[-1], np.sum(w * resid**2), rtol=1e-9)


def test_lbfgs_and_gd_least_squares_agree():
    X, y, truth = make_moe_regression(1500, 1, 2, objective="least_squares",
                                      random_state=0)
    kw = dict(n_experts=2, objective="least_squares", init_params=truth,
              tol=1e-12, max_iter=20000)
    a = MixtureOfExpertsRegressor(solver="lbfgs", **kw).fit(X, y)
    b = MixtureOfExpertsRegressor(solver="gd", **kw).fit(X, y)
    # same minimum of the squared error; gradient descent stops with the
    # linear-convergence gap described above
    assert_allclose(b.history_[-1], a.history_[-1], rtol=1e-7)
    assert_allclose(b.predict(X), a.predict(X), atol=1e-3)


def test_least_squares_fit_has_no_density():
    X, y, _ = make_moe_regression(400, 2, 2, objective="least_squares",
                                  random_state=0)
    est = MixtureOfExpertsRegressor(2, solver="lbfgs", random_state=0).fit(X, y)
    assert hasattr(est, "log_likelihood_")
    est.set_params(objective="least_squares").fit(X, y)
    # a least-squares fit estimates no density: no stale log-likelihood
    assert not hasattr(est, "log_likelihood_")
    assert est.predict(X).shape == (400,)
    assert est.score(X, y) > 0.5
    resid = y - est.predict(X)
    assert_allclose(est.params_.variance, np.mean(resid**2), rtol=1e-10)
    calls = {
        "log_density": lambda: est.log_density(X, y),
        "bic": lambda: est.bic(X, y),
        "aic": lambda: est.aic(X, y),
        "sample_y": lambda: est.sample_y(X, random_state=0),
        "predict_quantiles": lambda: est.predict_quantiles(X, 0.5),
        "predict_interval": lambda: est.predict_interval(X, 0.9),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name} is not defined for "
                                             "objective='least_squares'"):
            call()
    # the check uses the objective of the fit, not the current parameter
    est.set_params(objective="likelihood")
    with pytest.raises(ValueError, match="not defined"):
        est.log_density(X, y)


class _NoGradGating(SoftmaxGating):
    """A softmax gate without gradient, whose kernels must never run."""

    provides = SoftmaxGating.provides - {"gradient"}
    grad = Gating.grad

    def log_weights(self, X, params):
        raise AssertionError("a kernel ran before the compatibility check")


class _NoGradExperts(LinearExperts):
    provides = LinearExperts.provides - {"gradient"}
    grad = Experts.grad

    def predict(self, X, expert_params):
        raise AssertionError("a kernel ran before the compatibility check")


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("objective", ["likelihood", "least_squares"])
def test_family_without_gradient_is_refused_before_fitting(
    small_data, solver, objective
):
    X, y, _ = small_data
    for kw, name in ((dict(gating=_NoGradGating()), "_NoGradGating"),
                     (dict(experts=_NoGradExperts()), "_NoGradExperts")):
        est = MixtureOfExpertsRegressor(2, solver=solver, objective=objective, **kw)
        with pytest.raises(ValueError) as info:
            est.fit(X, y)
        message = str(info.value)
        # the refusal names the solver, the family and the missing ability
        # (the same for both objectives)
        assert f"solver={solver!r}" in message and name in message
        assert "'gradient'" in message


def test_em_cannot_fit_least_squares(small_data):
    X, y, _ = small_data
    est = MixtureOfExpertsRegressor(2, solver="em", objective="least_squares")
    with pytest.raises(ValueError, match="solver='em' cannot fit "
                                         "objective='least_squares'"):
        est.fit(X, y)


def test_every_combination_fits_or_is_refused_by_name(small_data):
    # the full solver x objective x gating x experts grid on tiny data
    from skmoe.experts import EXPERTS
    from skmoe.gating import GATINGS

    X, y, _ = small_data
    X, y = X[:120], y[:120]
    for solver in ("em", "lbfgs", "gd"):
        for objective in ("likelihood", "least_squares"):
            for gating in GATINGS:
                for experts in EXPERTS:
                    est = MixtureOfExpertsRegressor(
                        2, solver=solver, objective=objective, gating=gating,
                        experts=experts, max_iter=5, random_state=0)
                    try:
                        check_spec(FitSpec(2, GATINGS[gating](), EXPERTS[experts](),
                                           solver=solver, objective=objective))
                    except ValueError as exc:
                        assert f"solver={solver!r}" in str(exc)
                        with pytest.raises(ValueError):
                            est.fit(X, y)
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        est.fit(X, y)
                    assert np.all(np.isfinite(est.predict(X)))


def test_convergence_warning_names_the_solver(small_data):
    X, y, _ = small_data
    for solver in ("lbfgs", "gd"):
        with pytest.warns(ConvergenceWarning, match=f"solver='{solver}'"):
            est = MixtureOfExpertsRegressor(3, solver=solver, max_iter=2,
                                            random_state=0).fit(X, y)
        assert not est.converged_ and est.n_iter_ == 2


def test_lbfgs_is_reproducible_and_warm_starts(small_data):
    X, y, _ = small_data
    kw = dict(n_experts=3, solver="lbfgs", n_init=2, random_state=5)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y)
    b = MixtureOfExpertsRegressor(**kw).fit(X, y)
    assert np.array_equal(a.params_.expert_params, b.params_.expert_params)
    assert np.array_equal(a.history_, b.history_)
    # warm start: one run from params_, never below where it started
    a.set_params(warm_start=True, max_iter=5).fit(X, y)
    assert a.history_[0] == pytest.approx(b.log_likelihood_, rel=1e-12)
    assert a.log_likelihood_ >= b.log_likelihood_


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_verbose_prints_one_line_per_iteration(small_data, capsys, solver):
    X, y, _ = small_data
    # from a random start (an auto start prints its short EM runs first)
    est = MixtureOfExpertsRegressor(2, solver=solver, objective="least_squares",
                                    verbose=1, init_params="random",
                                    random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == est.n_iter_
    assert lines[0].split()[:2] == ["iter", "1"] and "sq-error" in lines[0]


def test_integer_weights_equal_repeated_rows_for_lbfgs():
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))
    kw = dict(n_experts=2, solver="lbfgs", max_iter=15, tol=0, random_state=0)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(**kw).fit(np.repeat(X, w, axis=0),
                                           np.repeat(y, w))
    # the objective and gradient agree to summation round-off (~1e-15
    # relative); 15 L-BFGS iterations amplify it to at most ~1e-10
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert_allclose(getattr(a.params_, name), getattr(b.params_, name),
                        rtol=1e-8, atol=1e-8, err_msg=name)


# ------------------------------------------------ configurations only EM fits
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_shared_experts=1), "does not support shared experts"),
    (dict(gating=SoftmaxGating(schedule="geometric")),
     "anneals the temperature over EM iterations"),
    (dict(gating=SoftmaxGating(top_k=1)), "annealed over EM iterations"),
    (dict(gating=NormalizedSigmoidGating(top_k=1)), "annealed over EM iterations"),
])
def test_gradient_solvers_refuse_em_only_configurations(solver, kwargs, match):
    X, y, _ = make_moe_regression(100, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, solver=solver, **kwargs)
    with pytest.raises(ValueError, match=match) as info:
        est.fit(X, y)
    assert f"solver={solver!r}" in str(info.value)
    # the same configuration is fine for EM
    MixtureOfExpertsRegressor(2, solver="em", max_iter=5, **kwargs).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_exact_top_k_gate_fits_by_lbfgs():
    X, y, _ = make_moe_regression(300, 2, 3, random_state=0)
    est = MixtureOfExpertsRegressor(
        3, gating=SoftmaxGating(top_k=2, anneal_iter=0), solver="lbfgs",
        max_iter=50, random_state=0,
    ).fit(X, y)
    gates = est.predict_gates(X)
    assert np.all((gates > 0).sum(axis=1) == 2)  # exactly one expert off per row
    assert np.all(np.diff(est.history_) >= -1e-10 * np.abs(est.history_[:-1]))
