"""Student-t noise (the t mixture of experts): closed forms, EM, robustness."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats
from scipy.special import digamma

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.datasets import add_outliers, make_moe_regression, sample_moe_regression
from skmoe.metrics import parameter_error
from skmoe.noise import DF_BOUNDS, StudentTNoise
from skmoe.noise._student_t import DF_ECME_AFTER, _solve_df

# Deliberately short fits (max_iter=50, 60 with tol=0) stop at max_iter.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _k1_params(df=3.0, var=0.7, coef=(1.5, -0.5)):
    return MoEParams(gate_coef=[[0.0]], gate_intercept=[0.0],
                     expert_params=[list(coef)], variance=[var],
                     noise="student_t", noise_df=[df])


def test_log_density_cdf_quantiles_match_scipy():
    params = _k1_params()
    X = np.array([[-1.0], [0.0], [2.0]])
    y = np.array([4.0, -0.5, 10.0])
    loc = params.expert_means(X)[:, 0]
    dist = stats.t(3.0, loc=loc, scale=np.sqrt(0.7))
    assert_allclose(params.log_density(X, y), dist.logpdf(y), rtol=1e-12)
    assert_allclose(params.cdf(X, y), dist.cdf(y), rtol=1e-12)
    # bisection from the exact bracket: 80 halvings reach round-off
    q = params.quantiles(X, [0.01, 0.5, 0.99])
    want = np.column_stack([dist.ppf(p) for p in (0.01, 0.5, 0.99)])
    assert_allclose(q, want, rtol=1e-10, atol=1e-12)


def test_mixture_quantiles_invert_cdf_heavy_tails():
    X, _, truth = make_moe_regression(5, 2, 3, noise_df=1.0, random_state=0)
    q = truth.quantiles(X, [0.001, 0.3, 0.999])
    assert np.all(np.isfinite(q))
    assert_allclose(truth.cdf(X, q), np.broadcast_to([0.001, 0.3, 0.999], q.shape),
                    rtol=1e-9)


def test_sample_y_draws_t_noise():
    params = _k1_params(df=2.5)
    X = np.zeros((20000, 1))
    y = params.sample_y(X, random_state=0)
    # Kolmogorov-Smirnov against the true law; p > 1e-3 fails with
    # probability 1e-3 under the truth (fixed seed: deterministic)
    res = stats.kstest(y, stats.t(2.5, loc=-0.5, scale=np.sqrt(0.7)).cdf)
    assert res.pvalue > 1e-3


def test_n_free_params_counts_estimated_df():
    gaussian = _k1_params().replace(noise="gaussian", noise_df=None)
    assert _k1_params().n_free_params() == gaussian.n_free_params() + 1
    fixed = _k1_params().replace(noise=StudentTNoise(df=3.0))
    assert fixed.n_free_params() == gaussian.n_free_params()


def test_permute_copy_allclose_carry_df():
    _, _, truth = make_moe_regression(10, 2, 3, noise_df=3.0, random_state=0)
    truth = truth.replace(noise_df=[1.0, 3.0, 9.0])
    perm = truth.permute([2, 0, 1])
    assert_allclose(perm.noise_df, [9.0, 1.0, 3.0])
    assert truth.copy().allclose(truth)
    assert not truth.allclose(truth.replace(noise_df=[1.0, 3.0, 10.0]))
    assert not truth.allclose(truth.replace(noise="gaussian", noise_df=None))


def test_observed_step_maximises_likelihood_in_df():
    X, y, truth = make_moe_regression(300, 2, 2, noise_df=3.0, random_state=0)
    start = truth.replace(noise_df=[20.0, 1.5])
    w = np.ones(300)
    new = start.replace(**start.noise.observed_step(X, y, w, start,
                                                     DF_ECME_AFTER + 1))

    def loglik(df):
        return start.replace(noise_df=df).log_density(X, y).sum()

    # coordinate-wise: nu_1 maximised with nu_2 at 1.5, then nu_2 with the
    # new nu_1; a grid of 500 log-spaced points over [1, 200] cannot beat
    # either (Brent's xatol 1e-8 in log nu: the optimum is found to ~1e-8)
    grid = np.geomspace(*DF_BOUNDS, 500)
    best1 = max(loglik([g, 1.5]) for g in grid)
    assert loglik([new.noise_df[0], 1.5]) >= best1 - 1e-9
    best2 = max(loglik([new.noise_df[0], g]) for g in grid)
    assert loglik(new.noise_df) >= best2 - 1e-9
    assert loglik(new.noise_df) > loglik(start.noise_df)
    # fixed degrees of freedom are never touched
    fixed = start.replace(noise=StudentTNoise(df=20.0), noise_df=[20.0, 20.0])
    assert fixed.noise.observed_step(X, y, w, fixed, DF_ECME_AFTER + 1) == {}
    # nor are estimated ones during the ECM warm-up
    assert start.noise.observed_step(X, y, w, start, DF_ECME_AFTER) == {}


def test_solve_df_is_root_and_clipped():
    # the ECM equation of the class docstring, solved to brentq's xtol 1e-12
    for c, old in ((-1.05, 5.0), (-1.3, 3.0)):
        nu = _solve_df(c, old)
        assert DF_BOUNDS[0] < nu < DF_BOUNDS[1]
        lhs = (np.log(nu / 2) - digamma(nu / 2) + 1 + c
               + digamma((old + 1) / 2) - np.log((old + 1) / 2))
        assert abs(lhs) < 1e-9
    # roots outside the bounds: the bound (the concave objective's maximiser)
    assert _solve_df(-1.0 - 1e-12, 1e6) == DF_BOUNDS[1]
    assert _solve_df(-50.0, 1.0) == DF_BOUNDS[0]


def _outlier_data(seed, n=500, K=2):
    X, y, truth = make_moe_regression(n, 2, K, random_state=seed)
    y_out, _ = add_outliers(y, 0.05, random_state=seed)
    return X, y_out, truth


def test_em_monotone_student_t():
    X, y, _ = _outlier_data(0, n=300)
    est = MixtureOfExpertsRegressor(2, noise="student_t", max_iter=60, tol=0.0,
                                    random_state=0).fit(X, y)
    h = est.history_
    # 60 iterations: the ECM warm-up (20) and ECME after it. The CM-steps on
    # the expected complete-data log-likelihood maximise it exactly (weighted
    # least squares, closed-form scale, the df root of a concave 1-D problem)
    # or increase it (the gate's damped Newton steps), and the ECME df step
    # increases the observed log-likelihood directly, so the log-likelihood
    # never decreases; the slack is the round-off of a sum of n terms of size
    # |L| / n, ~ 1e-12 |L|.
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[:-1]))
    assert h[-1] - h[0] > 1.0
    assert np.all((est.params_.noise_df >= DF_BOUNDS[0])
                  & (est.params_.noise_df <= DF_BOUNDS[1]))


def _t_regression_mle(X, y, df=None):
    """Direct maximisation of a K=1 t-regression likelihood (scipy)."""
    F = np.column_stack([X, np.ones(len(y))])

    def nll(theta):
        beta, log_s = theta[:F.shape[1]], theta[F.shape[1]]
        nu = df if df is not None else np.exp(theta[-1])
        return -stats.t.logpdf(y, nu, loc=F @ beta, scale=np.exp(log_s)).sum()

    beta0 = np.linalg.lstsq(F, y, rcond=None)[0]
    theta0 = np.r_[beta0, 0.0] if df is not None else np.r_[beta0, 0.0, np.log(4)]
    res = optimize.minimize(nll, theta0, method="BFGS", options={"gtol": 1e-9})
    return res.x


@pytest.mark.parametrize("df", [3.0, None])
def test_single_expert_equals_direct_t_regression(df):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 2))
    y = X @ [1.0, -2.0] + 0.5 + 0.4 * rng.standard_t(2.5, 300)
    est = MixtureOfExpertsRegressor(1, noise="student_t", noise_df=df,
                                    max_iter=5000, tol=1e-14,
                                    random_state=0).fit(X, y)
    theta = _t_regression_mle(X, y, df)
    # both optimisers reach the unique MLE; BFGS stops at gradient 1e-9 and
    # EM at a relative change 1e-14, so the parameters agree to ~1e-6
    assert_allclose(est.params_.expert_params[0], theta[:3], rtol=1e-5, atol=1e-6)
    assert_allclose(np.sqrt(est.params_.variance[0]), np.exp(theta[3]), rtol=1e-5)
    if df is None:
        assert_allclose(est.params_.noise_df[0], np.exp(theta[4]), rtol=1e-4)


def test_large_fixed_df_reduces_to_gaussian():
    X, y, truth = make_moe_regression(400, 2, 2, random_state=1)
    kw = dict(max_iter=2000, tol=1e-12, init_params=truth, random_state=0)
    gauss = MixtureOfExpertsRegressor(2, **kw).fit(X, y)
    heavy = MixtureOfExpertsRegressor(2, noise="student_t", noise_df=1e6,
                                      **kw).fit(X, y)
    # t_nu = Gaussian + O(1/nu): with nu = 1e6 the optima differ by ~1e-6
    assert_allclose(heavy.params_.expert_params, gauss.params_.expert_params,
                    atol=1e-4)
    assert_allclose(heavy.params_.variance, gauss.params_.variance, rtol=1e-4)
    assert_allclose(heavy.log_likelihood_, gauss.log_likelihood_, rtol=1e-5)


def _max_expert_error(est, truth):
    e = parameter_error(est.params_, truth)
    return float(np.sqrt(e["expert_coef"] ** 2 + e["expert_intercept"] ** 2).max())


# with the default start (the auto pool) the two t restarts of seed 3 end at
# -593.51 and -600.68 (random starts: -591.72 both; the expert error 0.013
# against 0.030): the MultipleOptimaWarning is right, and not the subject here
@pytest.mark.filterwarnings("ignore::skmoe.MultipleOptimaWarning")
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_student_t_recovers_experts_under_outliers(seed):
    # K=2 softmax-gated linear experts (make_moe_regression, noise sd 0.3),
    # n=500, 5% of the targets shifted by +-U(10, 20) sd(y) (add_outliers).
    # Measured over seeds 0-9 (user guide): t errors 0.03-0.083, Gaussian
    # 1.43-13.6. Thresholds: t < 0.2, Gaussian > 1.0.
    X, y, truth = _outlier_data(seed)
    kw = dict(n_init=2, max_iter=500, random_state=seed)
    t_fit = MixtureOfExpertsRegressor(2, noise="student_t", **kw).fit(X, y)
    g_fit = MixtureOfExpertsRegressor(2, **kw).fit(X, y)
    assert _max_expert_error(t_fit, truth) < 0.2
    assert _max_expert_error(g_fit, truth) > 1.0


def test_fitted_t_model_methods_are_finite():
    X, y, _ = _outlier_data(0, n=200)
    est = MixtureOfExpertsRegressor(2, noise="student_t", max_iter=50,
                                    random_state=0).fit(X, y)
    assert np.all(np.isfinite(est.predict_interval(X[:5], 0.9)))
    assert np.isfinite(est.bic(X, y)) and np.isfinite(est.icl(X, y))
    assert np.all(np.isfinite(est.sample_y(X[:5], random_state=0)))
    est.set_params(warm_start=True, max_iter=1).fit(X, y)
    assert est.params_.noise_df is not None


@pytest.mark.parametrize("kwargs, match", [
    (dict(solver="lbfgs"), "solver"),
    (dict(solver="lbfgs", objective="least_squares"), "objective"),
    (dict(n_shared_experts=1), "n_shared_experts"),
])
def test_unsupported_combinations_raise(kwargs, match):
    X, y, _ = make_moe_regression(50, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, noise="student_t", **kwargs)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_noise_df_validation():
    X, y, _ = make_moe_regression(50, 2, 2, random_state=0)
    with pytest.raises(ValueError, match="noise_df"):
        MixtureOfExpertsRegressor(2, noise_df=3.0).fit(X, y)
    with pytest.raises(ValueError, match="noise_df"):
        MixtureOfExpertsRegressor(2, noise="student_t", noise_df=0.5).fit(X, y)
    with pytest.raises(ValueError, match="noise_df"):
        _k1_params(df=0.5)


def test_standard_errors_and_partial_fit_refuse_t_noise():
    # the observed information and the online statistics are Gaussian-only:
    # both say so by name instead of returning Gaussian answers for a t fit
    X, y, _ = make_moe_regression(200, 1, 2, noise_df=3.0, random_state=0)
    est = MixtureOfExpertsRegressor(2, noise="student_t", noise_df=3.0,
                                    random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="noise='student_t'"):
        est.standard_errors(X, y)
    online = MixtureOfExpertsRegressor(2, noise="student_t")
    assert not hasattr(online, "partial_fit")
    with pytest.raises(AttributeError) as info:
        online.partial_fit(X, y)
    assert isinstance(info.value.__cause__, ValueError)
    assert "noise='student_t'" in str(info.value.__cause__)


def test_t_truth_df_and_interval_coverage():
    # data from a 2-expert t truth (nu = 3 for both experts), n = 2000.
    # Measured on seeds 0-2: estimated df 2.56-3.3, 90% interval coverage on
    # 5000 fresh draws 0.896-0.902 (the Gaussian fit: 0.912-0.926).
    # Thresholds: df in [2, 4.5]; coverage within 0.025 of 0.9 (binomial sd
    # at 3000 draws is 0.0055, plus the estimation error of the fit).
    X, y, truth = make_moe_regression(2000, 2, 2, noise_df=3.0, random_state=0)
    est = MixtureOfExpertsRegressor(2, noise="student_t", n_init=2,
                                    random_state=0).fit(X, y)
    assert np.all((est.params_.noise_df > 2.0) & (est.params_.noise_df < 4.5))
    X_new, y_new = sample_moe_regression(truth, 3000, random_state=100)
    lo, hi = est.predict_interval(X_new, 0.9).T
    assert abs(np.mean((lo <= y_new) & (y_new <= hi)) - 0.9) < 0.025


def test_density_distance_refuses_t_models():
    from skmoe.metrics import density_distance

    X, _, truth = make_moe_regression(10, 2, 2, noise_df=3.0, random_state=0)
    with pytest.raises(ValueError, match="student_t"):
        density_distance(truth, truth, X)
