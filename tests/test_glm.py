"""GLM experts: Poisson counts and binomial proportions (IRLS in EM)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, PoissonRegressor

from skmoe import (
    FFNExperts,
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    MoEParams,
    NormalizedSigmoidGating,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression, sample_moe_regression
from skmoe.inference import bootstrap_standard_errors
from skmoe.metrics import density_distance, match_experts, parameter_error
from skmoe.model_selection import mixing_measure_dendrogram
from skmoe.noise import BinomialNoise, PoissonNoise

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")

FAMILIES = ["poisson", "binomial"]


def _k2_truth(noise):
    return MoEParams(gate_coef=[[3.0], [0.0]], gate_intercept=[0.0, 0.0],
                     expert_params=[[0.8, 1.0], [-0.6, -0.5]], noise=noise)


def _data(noise, n=600, seed=0, trials_max=12):
    """Data from the 2-expert truth; binomial rows with 1..trials_max trials."""
    truth = _k2_truth(noise)
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 1))
    trials = (rng.randint(1, trials_max + 1, n).astype(float)
              if noise == "binomial" else None)
    y = truth.sample_y(X, random_state=rng, sample_weight=trials)
    return X, y, trials, truth


# ------------------------------------------------------------- the laws
def test_log_pmf_cdf_quantiles_match_scipy_poisson():
    params = MoEParams(gate_coef=[[0.0]], gate_intercept=[0.0],
                       expert_params=[[0.7, 0.4]], noise="poisson")
    X = np.array([[-1.0], [0.0], [2.5]])
    y = np.array([0.0, 3.0, 17.0])
    mu = np.exp(0.7 * X[:, 0] + 0.4)
    # the full pmf, log(y!) included, as R's dpois: exact formulas, so
    # agreement to round-off (rtol 1e-12)
    assert_allclose(params.log_density(X, y), stats.poisson.logpmf(y, mu),
                    rtol=1e-12)
    assert_allclose(params.predict(X), mu, rtol=1e-14)
    assert_allclose(params.expert_means(X)[:, 0], mu, rtol=1e-14)
    assert_allclose(params.expert_predictors(X)[:, 0], np.log(mu), rtol=1e-14)
    assert_allclose(params.cdf(X, y + 0.5), stats.poisson.cdf(y, mu), rtol=1e-12)
    q = [0.01, 0.3, 0.5, 0.99]
    want = np.column_stack([stats.poisson.ppf(p, mu) for p in q])
    # discrete quantiles are integers: exactly equal
    assert_allclose(params.quantiles(X, q), want, rtol=0, atol=0)


def test_log_pmf_cdf_quantiles_match_scipy_binomial():
    params = MoEParams(gate_coef=[[0.0]], gate_intercept=[0.0],
                       expert_params=[[1.5, -0.3]], noise="binomial")
    X = np.array([[-1.0], [0.0], [2.0], [0.3]])
    trials = np.array([1.0, 7.0, 30.0, 12.0])
    s = np.array([1.0, 3.0, 29.0, 0.0])
    p = 1.0 / (1.0 + np.exp(-(1.5 * X[:, 0] - 0.3)))
    # the pmf of the number of successes, log binomial coefficient included
    # (R's dbinom): exact formulas, round-off only
    assert_allclose(params.log_density(X, s / trials, trials),
                    stats.binom.logpmf(s, trials, p), rtol=1e-12)
    assert_allclose(params.predict(X), p, rtol=1e-14)
    assert_allclose(params.cdf(X, s / trials, trials),
                    stats.binom.cdf(s, trials, p), rtol=1e-12)
    q = [0.02, 0.5, 0.97]
    want = np.column_stack([stats.binom.ppf(r, trials, p) / trials for r in q])
    assert_allclose(params.quantiles(X, q, sample_weight=trials), want,
                    rtol=1e-15, atol=0)
    # one trial by default: y is 0 or 1
    assert set(np.unique(params.quantiles(X, q))) <= {0.0, 1.0}


@pytest.mark.parametrize("noise", FAMILIES)
def test_mixture_quantiles_are_the_smallest_lattice_points(noise):
    X, _, trials, truth = _data(noise, n=40)
    q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    Q = truth.quantiles(X, q, sample_weight=trials)
    step = 1.0 if trials is None else 1.0 / trials[:, None]
    assert np.all(truth.cdf(X, Q, trials) >= q)
    assert np.all(truth.cdf(X, Q - step, trials) < q)
    lattice = Q / step
    assert_allclose(lattice, np.round(lattice), atol=1e-9)


@pytest.mark.parametrize("noise", FAMILIES)
def test_sample_y_follows_the_mixture(noise):
    truth = _k2_truth(noise)
    X = np.zeros((40000, 1))
    trials = None if noise == "poisson" else np.full(40000, 5.0)
    y = truth.sample_y(X, random_state=0, sample_weight=trials)
    values, counts = np.unique(y, return_counts=True)
    grid = values if noise == "poisson" else np.arange(6) / 5.0
    pmf = np.exp(truth.log_density(np.zeros((grid.size, 1)), grid,
                                   None if trials is None else trials[:grid.size]))
    observed = np.array([counts[values == g].sum() for g in grid])
    # chi-square goodness of fit on the cells with at least 5 expected draws;
    # p > 1e-3 fails with probability 1e-3 under the truth (fixed seed)
    expected = pmf * X.shape[0]
    keep = expected >= 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3


# ------------------------------------------------------ K = 1 vs sklearn
def test_one_expert_equals_poisson_regressor():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((500, 3))
    y = rng.poisson(np.exp(X @ [0.5, -0.3, 0.2] + 1.0)).astype(float)
    w = rng.randint(1, 4, 500).astype(float)
    sk = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12,
                          max_iter=1000).fit(X, y, sample_weight=w)
    est = MixtureOfExpertsRegressor(1, noise="poisson", tol=1e-12,
                                    max_iter=50).fit(X, y, sample_weight=w)
    # the same strictly concave weighted likelihood, both maximised by Newton
    # iterations run to convergence: the maximisers agree to the round-off of
    # the normal equations (measured 3e-15); 1e-9 leaves room for other BLAS
    # and none for a stopped-early fit (one IRLS iteration short is > 1e-6)
    assert_allclose(est.params_.expert_params[0], np.r_[sk.coef_, sk.intercept_],
                    rtol=0, atol=1e-9)
    assert_allclose(est.predict(X), sk.predict(X), rtol=1e-9)
    assert_allclose(est.log_likelihood_,
                    w @ stats.poisson.logpmf(y, sk.predict(X)), rtol=1e-12)
    # integer weights are repeated rows (frequency weights)
    rows = np.repeat(np.arange(500), w.astype(int))
    rep = MixtureOfExpertsRegressor(1, noise="poisson", tol=1e-12,
                                    max_iter=50).fit(X[rows], y[rows])
    assert_allclose(rep.params_.expert_params, est.params_.expert_params,
                    rtol=0, atol=1e-9)


def test_one_expert_equals_logistic_regression():
    rng = np.random.RandomState(1)
    X = rng.standard_normal((500, 3))
    trials = rng.randint(1, 10, 500).astype(float)
    p = 1.0 / (1.0 + np.exp(-(X @ [1.0, -0.5, 0.3] - 0.2)))
    s = rng.binomial(trials.astype(int), p).astype(float)
    # successes and failures as weighted Bernoulli rows, no penalty (C=inf)
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12,
                            max_iter=1000).fit(
        np.vstack([X, X]), np.r_[np.ones(500), np.zeros(500)],
        sample_weight=np.r_[s, trials - s])
    est = MixtureOfExpertsRegressor(1, noise="binomial", tol=1e-12,
                                    max_iter=50).fit(X, s / trials,
                                                     sample_weight=trials)
    # as for the Poisson case: Newton on both sides, round-off only
    assert_allclose(est.params_.expert_params[0],
                    np.r_[lr.coef_[0], lr.intercept_], rtol=0, atol=1e-9)
    assert_allclose(est.predict(X), lr.predict_proba(X)[:, 1], rtol=1e-9)
    assert_allclose(est.log_likelihood_,
                    stats.binom.logpmf(s, trials, lr.predict_proba(X)[:, 1]).sum(),
                    rtol=1e-12)


@pytest.mark.parametrize("noise", FAMILIES)
def test_one_expert_standard_errors_are_the_glm_ones(noise):
    X, y, trials, _ = _data(noise, n=400)
    w = np.ones(400) if trials is None else trials
    est = MixtureOfExpertsRegressor(1, noise=noise, tol=1e-12, max_iter=50,
                                    random_state=0).fit(X, y, sample_weight=trials)
    se = est.standard_errors(X, y, sample_weight=trials)
    # the GLM's inverse Fisher information (X^T diag(a mu') X)^-1 of the
    # canonical link equals the observed information; the central differences
    # of the analytic gradient are accurate to ~1e-9 relative, 1e-6 allows it
    F = np.column_stack([X, np.ones(400)])
    mu = est.predict(X)
    d = mu if noise == "poisson" else mu * (1.0 - mu)
    cov = np.linalg.inv(F.T @ (F * (w * d)[:, None]))
    assert_allclose(se.expert_params[0], np.sqrt(np.diag(cov)), rtol=1e-6)
    assert_allclose(se.variance, 0.0)
    assert_allclose(est.params_.variance, 1.0)


# ------------------------------------------------------------------ EM
@pytest.mark.parametrize("noise", FAMILIES)
@pytest.mark.parametrize("seed", range(6))
def test_em_is_monotone(noise, seed):
    X, y, trials, _ = _data(noise, n=300, seed=seed)
    est = MixtureOfExpertsRegressor(3, noise=noise, max_iter=60, tol=0.0,
                                    random_state=seed).fit(X, y, sample_weight=trials)
    h = est.history_
    # every M-step raises the expected complete-data log-likelihood (IRLS
    # steps are accepted only if Q_k does not decrease, the gate's Newton
    # steps likewise), so the log-likelihood never decreases; the slack is
    # the round-off of a sum of n terms of size |L| / n, ~1e-12 |L|
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[:-1]))
    assert h[-1] > h[0]


@pytest.mark.parametrize("noise", FAMILIES)
@pytest.mark.parametrize("experts", [PolynomialExperts(degree=2), FFNExperts()],
                         ids=["polynomial", "ffn"])
def test_em_is_monotone_for_other_experts(noise, experts):
    X, y, trials, _ = _data(noise, n=300, seed=3)
    est = MixtureOfExpertsRegressor(2, noise=noise, experts=experts, max_iter=40,
                                    tol=0.0, random_state=0).fit(
        X, y, sample_weight=trials)
    h = est.history_
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[:-1]))


@pytest.mark.parametrize("noise", FAMILIES)
def test_irls_step_never_lowers_the_expected_complete_loglik(noise):
    X, y, trials, truth = _data(noise, n=300, seed=1)
    rng = np.random.RandomState(0)
    R = rng.dirichlet(np.ones(2), 300)
    model = truth.noise
    for experts, start in [
            (truth.experts, truth.expert_params + rng.standard_normal((2, 2))),
            (FFNExperts(), rng.standard_normal((2, 4)))]:
        def q(params, experts=experts):
            eta = experts.predict(X, params)
            return (R * model.log_pdf(y, eta, np.ones(2), None, trials)).sum(axis=0)
        new = model.expert_step(experts, X, y, R, None, start, trials)
        assert np.all(q(new) >= q(start))
        assert np.all(q(new) > q(start) + 1e-3)  # and it moves


@pytest.mark.parametrize("noise, start", [
    ("poisson", [[0.0, -10.0]]),   # mu = 4.5e-5: z = eta + (y - mu) / mu ~ 1e5
    ("binomial", [[-30.0, 0.0]]),  # saturated wrong way: mu (1 - mu) ~ 1e-13
])
def test_step_halving_rescues_an_overshooting_irls_step(noise, start):
    # from these starts the full IRLS (Newton) step overshoots so far that the
    # expected complete-data log-likelihood collapses (exp overflows); the
    # halved steps must still raise it, and EM from there must stay monotone
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 1))
    y = (rng.poisson(np.exp(1.0 + 0.5 * X[:, 0])).astype(float) if noise == "poisson"
         else (X[:, 0] + 0.5 * rng.standard_normal(200) > 0).astype(float))
    model = PoissonNoise() if noise == "poisson" else BinomialNoise()
    experts = MoEParams(gate_coef=[[0.0]], gate_intercept=[0.0],
                        expert_params=start, noise=noise).experts
    R = np.ones((200, 1))
    start = np.array(start)

    def q(params):
        return float((R * model.log_pdf(y, experts.predict(X, params), np.ones(1),
                                        None)).sum())

    z, w = model._working(y, experts.predict(X, start), np.ones(200))
    overshoot = experts.m_step(X, np.ascontiguousarray(z[:, 0]), R * w, start)
    with np.errstate(over="ignore"):
        assert not q(overshoot) >= q(start)  # the full step lowers Q (or NaN)
    new = model.expert_step(experts, X, y, R, None, start)
    assert q(new) > q(start)
    est = MixtureOfExpertsRegressor(1, noise=noise, max_iter=30, tol=0.0,
                                    init_params=MoEParams(
                                        gate_coef=[[0.0]], gate_intercept=[0.0],
                                        expert_params=start, noise=noise)).fit(X, y)
    h = est.history_
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[:-1]))


@pytest.mark.parametrize("noise", FAMILIES)
@pytest.mark.parametrize("gating", [
    SoftmaxGating(), NormalizedSigmoidGating(), HierarchicalSoftmaxGating(n_groups=2),
    SoftmaxGating(top_k=1), SoftmaxGating(learn_temperature=True),
    SoftmaxGating(activation="tanh")], ids=lambda g: repr(g))
def test_every_gating_family(noise, gating):
    X, y, trials, truth = _data(noise, n=400, seed=2)
    K = 4 if isinstance(gating, HierarchicalSoftmaxGating) else 2
    est = MixtureOfExpertsRegressor(K, noise=noise, gating=gating, max_iter=80,
                                    random_state=0).fit(X, y, sample_weight=trials)
    assert np.isfinite(est.log_likelihood_)
    # log_density is the pmf the fit maximised: its weighted sum is the
    # final log-likelihood (rows once for binomial trials)
    assert_allclose(est.log_density(X, y, trials).sum(), est.log_likelihood_,
                    rtol=1e-10)
    assert_allclose(est.predict(X),
                    (est.predict_gates(X) * est.predict_experts(X)).sum(axis=1),
                    rtol=1e-12)


# ------------------------------------------------------------ recovery
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("noise, trials", [("poisson", 1), ("binomial", 20)])
def test_recovery_on_generated_data(noise, trials, seed):
    X, y, truth = make_moe_regression(4000, 2, 3, response=noise,
                                      n_trials=trials, random_state=seed)
    w = None if noise == "poisson" else np.full(4000, float(trials))
    est = MixtureOfExpertsRegressor(3, noise=noise, n_init=3, random_state=0).fit(
        X, y, sample_weight=w)
    # the fit is at least as likely as the truth (measured: by 2.3 to 11.8)
    assert est.log_likelihood_ >= truth.log_density(X, y, w).sum()
    est_index, true_index = match_experts(est.params_, truth)
    se = est.standard_errors(X, y, w).expert_params[est_index]
    z = (est.params_.expert_params[est_index] - truth.expert_params[true_index]) / se
    # each z is about standard normal: P(max of 9 |z| > 4) is about 6e-4;
    # measured max |z| 0.8-2.5 on seeds 0-5 of both families. A wrong
    # optimum (an expert split or two merged) gives |z| in the tens
    assert np.abs(z).max() < 4.0
    # and in absolute terms (measured on seeds 0-2: Poisson 0.09-0.23, where
    # an expert with log mean -2 sees few counts; binomial 0.03-0.10)
    err = parameter_error(est.params_, truth)
    assert max(err["expert_coef"].max(), err["expert_intercept"].max()) < 0.5
    assert_allclose(err["variance"], 0.0)


@pytest.mark.parametrize("noise", FAMILIES)
def test_n_init_warm_start_and_bic(noise):
    X, y, trials, truth = _data(noise, n=500, seed=4)
    one = MixtureOfExpertsRegressor(2, noise=noise, random_state=0).fit(
        X, y, sample_weight=trials)
    many = MixtureOfExpertsRegressor(2, noise=noise, n_init=3, random_state=0).fit(
        X, y, sample_weight=trials)
    assert many.log_likelihood_ >= one.log_likelihood_ - 1e-8 * abs(
        one.log_likelihood_)
    warm = MixtureOfExpertsRegressor(2, noise=noise, warm_start=True, max_iter=2,
                                     random_state=0)
    warm.fit(X, y, sample_weight=trials)
    first = warm.history_[-1]
    warm.fit(X, y, sample_weight=trials)
    # the second fit starts where the first ended (same log-likelihood)
    assert_allclose(warm.history_[0], first, rtol=1e-12)
    # no variance counted: gate (1 x 2) and experts (2 x 2)
    assert many.params_.n_free_params() == 2 + 4
    loglik = many.log_density(X, y, trials).sum()
    assert_allclose(many.bic(X, y, trials), -2 * loglik + 6 * np.log(500),
                    rtol=1e-12)
    assert_allclose(many.aic(X, y, trials), -2 * loglik + 12, rtol=1e-12)
    assert many.icl(X, y, trials) >= many.bic(X, y, trials)
    idx_est, idx_true = match_experts(many.params_, truth)
    assert sorted(idx_true.tolist()) == [0, 1]


@pytest.mark.parametrize("noise", FAMILIES)
def test_gradient_solver_reaches_the_em_optimum(noise):
    X, y, trials, _ = _data(noise, n=500, seed=5)
    em = MixtureOfExpertsRegressor(2, noise=noise, tol=1e-10, max_iter=1000,
                                   random_state=0).fit(X, y, sample_weight=trials)
    lbfgs = MixtureOfExpertsRegressor(2, noise=noise, solver="lbfgs",
                                      init_params=em.params_, tol=1e-10).fit(
        X, y, sample_weight=trials)
    # L-BFGS-B started at EM's optimum stays there: the gradient of the
    # noise model (loglik_grad) vanishes where EM converged
    assert_allclose(lbfgs.log_likelihood_, em.log_likelihood_, rtol=1e-8)


@pytest.mark.parametrize("noise", FAMILIES)
def test_bootstrap_and_intervals(noise):
    X, y, trials, _ = _data(noise, n=300, seed=6)
    est = MixtureOfExpertsRegressor(2, noise=noise, random_state=0).fit(
        X, y, sample_weight=trials)
    boot = bootstrap_standard_errors(est, X, y, sample_weight=trials, n_boot=3,
                                     random_state=0)
    assert np.all(np.isfinite(boot.expert_params))
    lo, hi = est.predict_interval(X, 0.9, sample_weight=trials).T
    assert np.all(lo <= hi)
    draws = est.sample_y(X, random_state=0, sample_weight=trials)
    step = 1.0 if trials is None else 1.0 / trials
    assert_allclose(draws / step, np.round(draws / step), atol=1e-9)


def test_interval_coverage_of_counts():
    # the discrete central interval holds at least 90% of the mass: coverage
    # on 20000 fresh draws from the truth itself is above 0.9 - 3 sd
    # (binomial sd at 20000 draws is 0.0021)
    truth = _k2_truth("poisson")
    rng = np.random.RandomState(7)
    X = rng.standard_normal((20000, 1))
    y = truth.sample_y(X, random_state=rng)
    lo, hi = truth.quantiles(X, [0.05, 0.95]).T
    assert np.mean((lo <= y) & (y <= hi)) > 0.9 - 3 * 0.0021


# ------------------------------------------------------------ refusals
@pytest.mark.parametrize("kwargs, match", [
    (dict(solver="tensor"), "ability 'gaussian'"),
    (dict(solver="two_loss"), "ability 'gaussian'"),
    (dict(solver="lbfgs", objective="least_squares"), "least_squares"),
    (dict(n_shared_experts=1), "shared_experts"),
    (dict(noise_df=3.0), "noise_df"),
])
@pytest.mark.parametrize("noise", FAMILIES)
def test_gaussian_only_features_refuse_by_name(noise, kwargs, match):
    # three features: the moment methods' own input checks pass
    X, y, _ = make_moe_regression(100, 3, 2, response=noise, random_state=0)
    trials = None
    est = MixtureOfExpertsRegressor(2, noise=noise, **kwargs)
    with pytest.raises(ValueError, match=match) as info:
        est.fit(X, y, sample_weight=trials)
    if "ability" in match:
        assert f"noise={noise!r}" in str(info.value)


@pytest.mark.parametrize("noise", FAMILIES)
def test_partial_fit_dendrogram_and_density_distance_refuse(noise):

    X, y, trials, truth = _data(noise, n=200)
    online = MixtureOfExpertsRegressor(2, noise=noise)
    assert not hasattr(online, "partial_fit")
    with pytest.raises(AttributeError) as info:
        online.partial_fit(X, y)
    assert f"noise={noise!r}" in str(info.value.__cause__)
    est = MixtureOfExpertsRegressor(2, noise=noise, random_state=0).fit(
        X, y, sample_weight=trials)
    with pytest.raises(ValueError, match=f"noise={noise!r}"):
        mixing_measure_dendrogram(est, X, y)
    with pytest.raises(ValueError, match=f"noise={noise!r}"):
        density_distance(truth, truth, X)


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize("noise, y, w, match", [
    ("poisson", [1.0, -1.0, 2.0, 0.0], None, "non-negative whole counts"),
    ("poisson", [1.0, 1.5, 2.0, 0.0], None, "non-negative whole counts"),
    ("poisson", [[1.0, 2.0]] * 4, None, "1-D"),
    ("poisson", [[1.0]] * 4, None, "1-D"),
    ("binomial", [0.5, 1.2, 0.0, 1.0], [2, 2, 2, 2], r"\[0, 1\]"),
    ("binomial", [0.5, -0.1, 0.0, 1.0], [2, 2, 2, 2], r"\[0, 1\]"),
    ("binomial", [0.5, 0.5, 0.0, 1.0], [2, 0, 2, 2], "positive whole"),
    ("binomial", [0.5, 0.5, 0.0, 1.0], [2, 2.5, 2, 2], "positive whole"),
    ("binomial", [0.5, 0.3, 0.0, 1.0], [2, 2, 2, 2], "whole numbers"),
    ("binomial", [0.5, 0.0, 0.0, 1.0], None, "whole numbers"),
    ("binomial", [[0.5, 0.5]] * 4, None, "1-D"),
])
def test_bad_targets_raise_naming_y_and_the_family(noise, y, w, match):
    X = np.arange(8.0).reshape(4, 2)
    est = MixtureOfExpertsRegressor(1, noise=noise)
    with pytest.raises(ValueError, match=match) as info:
        est.fit(X, y, sample_weight=w)
    assert "y" in str(info.value) or "sample_weight" in str(info.value)
    assert f"noise={noise!r}" in str(info.value)


def test_bad_targets_at_prediction_and_in_containers():
    X, y, _, truth = _data("poisson", n=50)
    est = MixtureOfExpertsRegressor(2, noise="poisson", random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="noise='poisson'"):
        est.log_density(X, y + 0.5)
    with pytest.raises(ValueError, match="variance"):
        truth.replace(variance=[2.0, 1.0])
    with pytest.raises(ValueError, match="variance is required"):
        MoEParams(gate_coef=[[0.0]], gate_intercept=[0.0],
                  expert_params=[[1.0, 0.0]])


# ------------------------------------------------------------ datasets
def test_make_moe_regression_responses():
    X, y, truth = make_moe_regression(300, 2, 2, response="binomial",
                                      n_trials=7, random_state=0)
    assert isinstance(truth.noise, BinomialNoise)
    assert_allclose(y * 7, np.round(y * 7), atol=1e-12)
    X2, y2 = sample_moe_regression(truth, 300, n_trials=np.arange(1, 301),
                                   random_state=0)
    assert np.all((y2 >= 0) & (y2 <= 1))
    _, counts, truth = make_moe_regression(300, 2, 2, response="poisson",
                                           random_state=0)
    assert isinstance(truth.noise, PoissonNoise)
    assert np.all(counts == np.round(counts)) and np.all(counts >= 0)
    for kwargs, match in [
            (dict(response="poisson", n_trials=3), "n_trials"),
            (dict(response="poisson", noise_df=3.0), "noise_df"),
            (dict(response="binomial", n_shared_experts=1), "n_shared_experts"),
            (dict(response="binomial", objective="least_squares"), "objective"),
            (dict(response="gamma"), "response"),
            (dict(response="binomial", n_trials=0), "n_trials")]:
        with pytest.raises(ValueError, match=match):
            make_moe_regression(50, 2, 2, random_state=0, **kwargs)


def test_warnings_do_not_leak_from_irls():
    # a separable binomial expert drives its log-odds to large values: IRLS
    # stays finite and silent (no overflow warnings)
    X = np.linspace(-3, 3, 200)[:, None]
    y = (X[:, 0] > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MixtureOfExpertsRegressor(1, noise="binomial", max_iter=20).fit(X, y)
    assert np.all(np.isfinite(est.params_.expert_params))
    assert np.all(np.diff(est.history_) >= -1e-12 * np.abs(est.history_[:-1]))


def test_a_regression_lines_candidate_without_finite_fit_is_no_warning():
    # random_state=1410 (found among 1500 states; it failed CI unseeded) makes
    # the auto pool's regression-lines candidate fit a Poisson expert to
    # three drawn rows that have no finite fit: its means overflowed in a
    # bare NumPy warning. One Poisson expert is a concave problem, so every
    # start must reach the same optimum (EM's tol 1e-12 is the tolerance)
    X, y, trials, _ = _data("poisson", n=400)
    fits = [MixtureOfExpertsRegressor(1, noise="poisson", tol=1e-12, max_iter=50,
                                      random_state=seed).fit(X, y)
            for seed in (0, 1410)]
    assert fits[1].init_params_ == "auto"
    assert_allclose(fits[1].log_likelihood_, fits[0].log_likelihood_,
                    rtol=1e-10)
