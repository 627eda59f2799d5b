"""Standard errors: observed information, Wald intervals and the bootstrap."""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skmoe import (
    DegenerateFitWarning,
    HierarchicalSoftmaxGating,
    LinearExperts,
    MixtureOfExpertsRegressor,
    MoEParams,
    SingularInformationWarning,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression, sample_moe_regression
from skmoe.inference import (
    StandardErrors,
    _field_vector,
    bootstrap_standard_errors,
    observed_information,
    standard_errors,
)
from skmoe.metrics import match_experts
from skmoe.solvers._gradient import FlatProblem

from ._instances import experts_instances, gating_instances


def _lse_hessian(params, X, y, w):
    """Exact Hessian of the log-likelihood, softmax gate + linear experts.

    An independent NumPy computation (no kernel, no ``grad``): with
    ``a_k = log g_k + log N(y | mu_k, nu_k)`` and ``r = softmax(a)``, the
    per-sample log-likelihood is ``l = logsumexp(a)`` and

        d2 l = sum_k r_k d2 a_k + sum_k r_k da_k da_k' - (sum_k r_k da_k)(...)'

    (Louis' identity for one sample). In the layout of ``FlatProblem``:
    gate rows ``0 .. K-2`` of ``[coef | intercept]``, expert rows ``[coef |
    intercept]``, log-variances.
    """
    K, d = params.n_experts, params.n_features
    m = d + 1
    ng, ne = (K - 1) * m, K * m
    P = ng + ne + K
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    z = Xt @ np.hstack([params.gate_coef, params.gate_intercept[:, None]]).T
    pi = np.exp(z - z.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    mu = Xt @ params.expert_params.T
    nu = params.variance
    H = np.zeros((P, P))
    for i in range(X.shape[0]):
        x, e = Xt[i], y[i] - mu[i]
        loga = np.log(pi[i]) - 0.5 * np.log(2 * np.pi * nu) - e**2 / (2 * nu)
        r = np.exp(loga - loga.max())
        r /= r.sum()
        g = np.zeros((K, P))
        hess = np.zeros((P, P))
        # gate block: d a_k / d B_j = (delta_jk - pi_j) x, same Hessian for all k
        p = pi[i, :K - 1]
        Hg = -(np.diag(p) - np.outer(p, p))
        hess[:ng, :ng] = np.kron(Hg, np.outer(x, x))
        for k in range(K):
            for j in range(K - 1):
                g[k, j * m:(j + 1) * m] = ((j == k) - pi[i, j]) * x
            sl = slice(ng + k * m, ng + (k + 1) * m)
            s = ng + ne + k
            g[k, sl] = e[k] / nu[k] * x
            g[k, s] = -0.5 + e[k] ** 2 / (2 * nu[k])
            Hk = hess.copy()
            Hk[sl, sl] = -np.outer(x, x) / nu[k]
            Hk[sl, s] = Hk[s, sl] = -e[k] / nu[k] * x
            Hk[s, s] = -e[k] ** 2 / (2 * nu[k])
            H += w[i] * r[k] * (Hk + np.outer(g[k], g[k]))
        gbar = r @ g
        H -= w[i] * np.outer(gbar, gbar)
    return H


def test_hessian_matches_exact_softmax_linear():
    """Central differences of the analytic gradient = exact Hessian (a)."""
    X, y, truth = make_moe_regression(40, 2, 3, noise=0.5, random_state=0)
    w = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0])
    # away from the MLE too: the Hessian identity holds at any point
    params = truth.replace(expert_params=truth.expert_params + 0.3,
                           variance=truth.variance * 1.7)
    theta, info = observed_information(params, X, y, w)
    H = _lse_hessian(params, X, y, w)
    # central differences with h = eps**(1/3) max(|theta_j|, 1): truncation
    # error h^2/6 * (third derivative), about 1e-11 relative to the entries
    # (measured: 3e-11); 1e-7 of the largest entry is far above it and far
    # below any real error
    assert_allclose(-info, H, rtol=0, atol=1e-7 * np.abs(H).max())
    assert_allclose(info, info.T, rtol=0, atol=0)


def _value_hessian(params, X, y, w):
    """Hessian by second differences of the log-likelihood value only."""
    problem = FlatProblem(X, y, w, params, "likelihood", 0.0)
    theta = problem.pack(params)

    def f(t):
        return float(w @ problem.unpack(t).log_density(X, y))

    p = theta.size
    h = 1e-4 * np.maximum(np.abs(theta), 1.0)
    H = np.empty((p, p))
    for j in range(p):
        for k in range(j, p):
            ej, ek = np.eye(p)[j] * h[j], np.eye(p)[k] * h[k]
            H[j, k] = H[k, j] = (
                f(theta + ej + ek) - f(theta + ej - ek)
                - f(theta - ej + ek) + f(theta - ej - ek)
            ) / (4 * h[j] * h[k])
    return H


def _smooth_families():
    cases = []
    for gating in gating_instances():
        if gating.lacks("gradient", 3) is None and gating.lacks("smooth", 3) is None:
            cases.append((gating, LinearExperts()))
    for experts in experts_instances():
        cases.append((SoftmaxGating(), experts))
    return cases


@pytest.mark.parametrize(("gating", "experts"), _smooth_families(), ids=repr)
def test_hessian_matches_value_second_differences(gating, experts):
    """Every smooth family: the Hessian against the value alone (a).

    The reference uses ``MoEParams.log_density`` (the E-step kernel), not the
    gradient kernels. Second differences with ``h = 1e-4`` have truncation
    error ``O(h^2)`` (~1e-8 times the fourth derivatives) and round-off
    ``eps |L| / h^2`` (~1e-6 for |L| ~ 100): 1e-5 of the largest entry
    bounds both (measured: at most 2e-7 over these families).
    """
    K = 4 if getattr(gating, "n_groups", 1) == 2 else 3
    X, y, params = make_moe_regression(30, 2, K, gating=gating, experts=experts,
                                       noise=0.5, random_state=0)
    _, info = observed_information(params, X, y)
    H = _value_hessian(params, X, y, np.ones(X.shape[0]))
    assert_allclose(-info, H, rtol=0, atol=1e-5 * np.abs(H).max())


def test_one_expert_is_linear_regression():
    """K = 1: OLS standard errors with the MLE variance, exactly (e)."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 2))
    y = X @ [1.0, -2.0] + 0.5 + 0.3 * rng.standard_normal(50)
    w = rng.randint(1, 4, size=50).astype(float)
    est = MixtureOfExpertsRegressor(1, random_state=0).fit(X, y, sample_weight=w)
    Xt = np.hstack([X, np.ones((50, 1))])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(Xt * sw[:, None], y * sw, rcond=None)[0]
    nu = w @ (y - Xt @ beta) ** 2 / w.sum()
    # EM with one expert is one weighted least-squares step
    assert_allclose(est.params_.expert_params[0], beta, rtol=1e-10)
    assert_allclose(est.params_.variance[0], nu, rtol=1e-10)
    se = est.standard_errors(X, y, sample_weight=w)
    ols = np.sqrt(nu * np.diag(np.linalg.inv(Xt.T @ (w[:, None] * Xt))))
    # the only approximation is the central difference in the log-variance
    # (relative error h^2/6 ~ 1e-11): 1e-8 is far above it
    assert_allclose(se.expert_params[0], ols, rtol=1e-8)
    assert_allclose(se.variance, nu * np.sqrt(2.0 / w.sum()), rtol=1e-8)
    assert se.gate_coef.shape == (1, 2) and not se.gate_coef.any()
    assert se.information.shape == (4, 4)


def test_integer_weights_equal_repeated_rows():
    X, y, _ = make_moe_regression(200, 1, 2, noise=0.3, random_state=0)
    w = np.random.RandomState(0).randint(0, 3, size=200)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y, sample_weight=w)
    a = est.standard_errors(X, y, sample_weight=w)
    b = standard_errors(est, np.repeat(X, w, axis=0), np.repeat(y, w))
    # the same sums in another order: round-off only
    assert_allclose(a.table()["std_error"], b.table()["std_error"], rtol=1e-7)


@pytest.mark.slow
def test_wald_coverage():
    """95% Wald intervals cover the truth 90-99% of the time (b).

    200 data sets of n = 2000 from one K = 2, d = 1 truth (seeds 1000..1199),
    each fitted from the truth (the test is about the standard errors, not
    about finding the maximum); the experts are matched to the truth. The 8
    free parameters give 1600 intervals. If they were independent, the pooled
    coverage would have standard deviation sqrt(.95 * .05 / 1600) = 0.5%; if
    all intervals of a data set were perfectly dependent, 200 independent
    ones, 1.5%. The window [0.90, 0.99] is more than 2.6 of the larger
    standard deviations on either side of 0.95, while an error of 20% in the
    standard errors moves the coverage to 0.89 or 0.98 (measured: 0.954).
    """
    _, _, truth = make_moe_regression(10, 1, 2, noise=0.5, random_state=0)
    hits = []
    for r in range(200):
        X, y = sample_moe_regression(truth, 2000, random_state=1000 + r)
        est = MixtureOfExpertsRegressor(2, init_params=truth, n_init=1).fit(X, y)
        table = est.standard_errors(X, y).table()
        est_index, true_index = match_experts(est.params_, truth)
        order = np.empty(2, dtype=int)
        order[est_index] = true_index
        true_fields = _field_vector(truth.permute(order))
        free = table["std_error"] > 0
        inside = (table["lower"] <= true_fields) & (true_fields <= table["upper"])
        hits.append(inside[free])
    hits = np.array(hits)
    assert hits.shape == (200, 8)
    assert 0.90 <= hits.mean() <= 0.99, hits.mean(axis=0)


@pytest.mark.slow
def test_observed_information_agrees_with_parametric_bootstrap():
    """Observed-information and bootstrap SEs agree within 25% (c).

    With 200 replicates the bootstrap standard error has relative standard
    deviation about 1 / sqrt(2 * 199) = 5%, so a ratio outside [0.8, 1.25]
    is a 4-sigma event; measured ratios on this data: 0.96 to 1.10.
    """
    _, _, truth = make_moe_regression(10, 1, 2, noise=0.5, random_state=0)
    X, y = sample_moe_regression(truth, 2000, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    info = est.standard_errors(X, y).table()["std_error"]
    boot = bootstrap_standard_errors(est, X, y, n_boot=200, random_state=0)
    assert boot.n_not_converged == 0
    free = info > 0
    assert free.sum() == 8
    assert_array_equal(boot.table()["std_error"][~free], 0.0)
    ratio = boot.table()["std_error"][free] / info[free]
    assert np.all((0.8 <= ratio) & (ratio <= 1.25)), ratio


@pytest.mark.parametrize("n_experts", [2, 3])
def test_singular_information_warns_on_over_specified_fit(n_experts):
    """K = 2 or 3 fitted to K = 1 data, at the merged maximum (d).

    Started from copies of the one-expert fit, EM stays there (equal experts
    give responsibilities equal to the gate, a constant gate stays constant):
    the likelihood is then flat in the gate, the information singular.
    """
    X, y, _ = make_moe_regression(300, 1, 1, noise=0.5, random_state=0)
    one = MixtureOfExpertsRegressor(1).fit(X, y).params_
    K = n_experts
    start = MoEParams(
        gate_coef=np.zeros((K, 1)), gate_intercept=np.zeros(K),
        expert_params=np.repeat(one.expert_params, K, axis=0),
        variance=np.repeat(one.variance, K), gating="softmax", experts="linear",
    )
    # the experts stay equal: the fit reports them as coinciding
    with pytest.warns(DegenerateFitWarning, match="coincide"):
        est = MixtureOfExpertsRegressor(K, init_params=start).fit(X, y)
    assert est.converged_
    with pytest.warns(SingularInformationWarning, match="near-singular"):
        se = est.standard_errors(X, y)
    assert not se.condition_number <= 1 / np.sqrt(np.finfo(float).eps)


def test_well_specified_fit_does_not_warn():
    # filterwarnings=error turns a SingularInformationWarning into a failure
    X, y, _ = make_moe_regression(500, 1, 2, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    se = est.standard_errors(X, y)
    assert se.condition_number < 1e3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(solver="lbfgs", objective="least_squares"), "objective='least_squares'"),
        (dict(n_shared_experts=1), "shared experts"),
        (dict(gating=SoftmaxGating(top_k=1)), "top_k=1 selects experts"),
    ],
)
def test_unsupported_configurations_raise(kwargs, match):
    X, y, _ = make_moe_regression(100, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0, max_iter=5, **kwargs)
    with warnings.catch_warnings():
        # max_iter=5 keeps the fits short: their ConvergenceWarning is expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    with pytest.raises(ValueError, match=match):
        est.standard_errors(X, y)
    if "top_k" not in match:  # the bootstrap only needs a likelihood model
        with pytest.raises(ValueError, match=match):
            bootstrap_standard_errors(est, X, y, n_boot=2)


def test_top_k_equal_to_n_experts_is_smooth():
    X, y, _ = make_moe_regression(200, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, gating=SoftmaxGating(top_k=2),
                                    random_state=0).fit(X, y)
    dense = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    a, b = est.standard_errors(X, y), dense.standard_errors(X, y)
    assert_allclose(a.table()["std_error"], b.table()["std_error"], rtol=1e-5)


def test_result_blocks_intervals_and_table():
    X, y, _ = make_moe_regression(300, 2, 3, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    se = est.standard_errors(X, y)
    p = est.params_
    assert isinstance(se, StandardErrors)
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert getattr(se, name).shape == getattr(p, name).shape
    # the reference row of the softmax is fixed by the normalisation
    assert not se.gate_coef[-1].any() and se.gate_intercept[-1] == 0
    assert np.all(se.gate_coef[:-1] > 0) and np.all(se.expert_params > 0)
    ci = se.confidence_intervals(0.9)
    lo, up = ci["expert_params"]
    z = 1.6448536269514722  # normal 0.95 quantile
    assert_allclose(up - p.expert_params, z * se.expert_params, rtol=1e-12)
    assert_allclose(p.expert_params - lo, z * se.expert_params, rtol=1e-12)
    lo, up = ci["variance"]
    assert np.all(lo > 0) and np.all(lo < p.variance) and np.all(up > p.variance)
    # log-scale interval: symmetric in log nu with se(log nu) = se(nu) / nu
    assert_allclose(np.log(up / p.variance), z * se.variance / p.variance,
                    rtol=1e-12)
    table = se.table(0.9)
    # rows are named by block, expert and feature (x0, x1 without names)
    assert table["parameter"][0] == "gate[0] x0"
    assert table["parameter"][-1] == "noise[2] variance"
    assert_allclose(table["estimate"], _field_vector(p))
    frame = se.to_frame()
    assert frame.loc[(1, "expert", "(Intercept)"), "std_error"] == (
        se.expert_params[1, 2])
    assert frame.loc[(0, "gate", "x1"), "std_error"] == se.gate_coef[0, 1]
    with pytest.raises(ValueError, match="level"):
        se.confidence_intervals(95)
    assert "observed_information" in repr(se)


def test_table_rows_are_named_by_feature_names_and_selection():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_moe_regression(300, 2, 2, noise=0.3, random_state=0)
    frame = pd.DataFrame(X, columns=["dose", "age"])
    est = MixtureOfExpertsRegressor(2, gate_features=["age"], random_state=0)
    se = est.fit(frame, y).standard_errors(frame, y)
    table = se.table()
    assert table["parameter"].tolist() == [
        "gate[0] age", "gate[1] age", "gate[0] (Intercept)", "gate[1] (Intercept)",
        "expert[0] dose", "expert[0] age", "expert[0] (Intercept)",
        "expert[1] dose", "expert[1] age", "expert[1] (Intercept)",
        "noise[0] variance", "noise[1] variance"]
    assert se.to_frame().loc[(0, "gate", "age"), "std_error"] == se.gate_coef[0, 0]


def test_learned_temperature_has_extra_block():
    X, y, _ = make_moe_regression(300, 1, 2, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(
        2, gating=SoftmaxGating(activation="tanh", learn_temperature=True),
        random_state=0).fit(X, y)
    se = est.standard_errors(X, y)
    assert set(se.gate_extra) == {"temperature"}
    assert se.gate_extra["temperature"].shape == (1,)
    assert "gate_extra['temperature']" in se.confidence_intervals()


def test_hierarchical_gate_runs():
    X, y, _ = make_moe_regression(300, 1, 4, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(
        4, gating=HierarchicalSoftmaxGating(n_groups=2), random_state=0,
        max_iter=300).fit(X, y)
    se = est.standard_errors(X, y)
    assert np.all(np.isfinite(se.expert_params))


def test_bootstrap_reproducible_across_n_jobs():
    X, y, _ = make_moe_regression(200, 1, 2, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    for method in ("parametric", "nonparametric"):
        a = bootstrap_standard_errors(est, X, y, n_boot=6, method=method,
                                      random_state=3)
        with parallel_config(backend="threading"):
            b = bootstrap_standard_errors(est, X, y, n_boot=6, method=method,
                                          n_jobs=2, random_state=3)
        assert_array_equal(a.replicates, b.replicates)
        assert a.method == f"{method}_bootstrap"
        assert a.replicates.shape == (6, _field_vector(est.params_).size)
    c = bootstrap_standard_errors(est, X, y, n_boot=6, random_state=4)
    assert not np.array_equal(a.replicates, c.replicates)


def test_bootstrap_rejects_bad_arguments():
    X, y, _ = make_moe_regression(100, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        bootstrap_standard_errors(est, X, y, method="jackknife")
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_standard_errors(est, X, y, n_boot=1)


@pytest.mark.parametrize("scale", [1e-3, 1e5])
def test_standard_errors_follow_the_units_of_X(scale):
    """Rescaling X rescales the slopes' standard errors, and nothing else.

    The finite-difference steps follow each parameter's natural unit, so the
    equivariance holds to the central-difference error (~1e-10); with steps
    relative to max(|theta_j|, 1) only, scale=1e5 gave errors of 5%.
    """
    import copy

    X, y, _ = make_moe_regression(300, 1, 2, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    p = est.params_
    scaled = copy.deepcopy(est)
    scaled.params_ = p.replace(
        gate_coef=p.gate_coef / scale,
        expert_params=p.expert_params * [1.0 / scale, 1.0],
    )
    a = est.standard_errors(X, y)
    b = scaled.standard_errors(X * scale, y)
    assert_allclose(b.gate_coef * scale, a.gate_coef, rtol=1e-8)
    assert_allclose(b.expert_params * [scale, 1.0], a.expert_params, rtol=1e-8)
    assert_allclose(b.gate_intercept, a.gate_intercept, rtol=1e-8)
    assert_allclose(b.variance, a.variance, rtol=1e-8)


def test_bootstrap_reports_refits_that_did_not_converge():
    X, y, _ = make_moe_regression(200, 1, 2, noise=0.3, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    # one EM iteration per refit cannot meet tol=1e-12
    est.set_params(max_iter=1, tol=1e-12)
    with pytest.warns(ConvergenceWarning, match="3 of 3 bootstrap refits"):
        boot = bootstrap_standard_errors(est, X, y, n_boot=3, random_state=0)
    assert boot.n_not_converged == 3


def test_warns_when_the_fit_did_not_converge():
    X, y, _ = make_moe_regression(200, 1, 2, noise=0.3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est = MixtureOfExpertsRegressor(2, max_iter=2, init_params="random",
                                        random_state=0).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.standard_errors(X, y)
    messages = {w.category: str(w.message) for w in caught}
    assert "did not converge" in messages[ConvergenceWarning]
    # two EM iterations from a random start are not at a maximum: the
    # information is not positive definite there either
    assert SingularInformationWarning in messages


def test_standard_errors_refuse_moment_solver_fits():
    # a tensor / two-loss fit holds the expert directions at the moment
    # estimate: not a maximum of the likelihood, so no observed information
    from skmoe.datasets import make_orthogonal_moe_regression

    X, y, _ = make_orthogonal_moe_regression(1000, 4, 2, noise=0.3,
                                             random_state=0)
    est = MixtureOfExpertsRegressor(2, solver="tensor", random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="solver='tensor'"):
        est.standard_errors(X, y)


def test_observed_information_checks_sample_weight():
    X, y, truth = make_moe_regression(300, 1, 2, random_state=0)
    with pytest.raises(ValueError, match="sample_weight"):
        observed_information(truth, X, y, np.ones(299))
    with pytest.raises(ValueError, match="Negative values"):
        observed_information(truth, X, y, -np.ones(300))
