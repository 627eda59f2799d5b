"""Several responses sharing one gate: the multivariate Gaussian noise model.

References are closed forms (scipy's multivariate normal density, the
mixture's mean and covariance, the BIC formula with the covariance count) and
the fit of one response, which a model of m = 1 responses must equal.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import r2_score

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe._kernels._multivariate import mvn_estep, mvn_log_pdf, weighted_scatter
from skmoe.datasets import make_moe_regression
from skmoe.metrics import parameter_error
from skmoe.noise import GaussianNoise, MultivariateGaussianNoise

from . import _reference as ref

# kernels against NumPy reduce in another order: a few hundred ulps (as
# tests/test_kernels.py)
RTOL = 1e-12


def _spd(rng, K, m):
    A = rng.standard_normal((K, m, m))
    return np.einsum("kij,klj->kil", A, A) + 0.5 * np.eye(m)


@pytest.mark.parametrize("n, K, m", [(1, 1, 1), (7, 2, 2), (50, 3, 4)])
def test_kernels_match_numpy(n, K, m):
    rng = np.random.RandomState(0)
    means = rng.standard_normal((n, K, m))
    y = rng.standard_normal((n, m))
    chol = np.ascontiguousarray(np.linalg.cholesky(_spd(rng, K, m)))
    log_gate = np.log(rng.dirichlet(np.ones(K), size=n))
    if K > 1:
        log_gate[0, 0] = -np.inf  # an expert switched off on a row
    R = rng.random_sample((n, K))
    assert_allclose(mvn_log_pdf(means, chol, y), ref.mvn_log_pdf(means, chol, y),
                    rtol=RTOL)
    for got, want in zip(mvn_estep(log_gate, means, chol, y),
                         ref.mvn_estep(log_gate, means, chol, y), strict=True):
        assert_allclose(got, want, rtol=RTOL, atol=1e-300)
    assert_allclose(weighted_scatter(y, means, R), ref.weighted_scatter(y, means, R),
                    rtol=RTOL)


def _fit(X, Y, **kw):
    kw.setdefault("random_state", 0)
    return MixtureOfExpertsRegressor(n_experts=2, **kw).fit(X, Y)


@pytest.fixture(scope="module")
def data():
    return make_moe_regression(600, 2, 2, n_targets=2, random_state=1)


@pytest.fixture(scope="module")
def fitted(data):
    X, Y, _ = data
    return _fit(X, Y, n_init=2)


def test_one_response_equals_the_univariate_fit():
    """m = 1: the same EM path as y of shape (n,), to round-off."""
    X, y, _ = make_moe_regression(800, 2, 3, random_state=3)
    one = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    col = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y[:, None])
    p1, pm = one.params_, col.params_
    assert isinstance(pm.noise, MultivariateGaussianNoise) and pm.n_targets == 1
    assert col.n_iter_ == one.n_iter_
    # the same arithmetic up to summation order, compounded over the
    # iterations: 1e-8 relative (measured 1.7e-14)
    assert_allclose(pm.expert_params[:, 0, :], p1.expert_params, rtol=1e-8)
    assert_allclose(pm.variance[:, 0, 0], p1.variance, rtol=1e-8)
    assert_allclose(pm.gate_coef, p1.gate_coef, rtol=1e-8, atol=1e-10)
    assert_allclose(col.log_likelihood_, one.log_likelihood_, rtol=1e-12)
    assert_allclose(col.log_density(X, y[:, None]), one.log_density(X, y),
                    rtol=1e-8)
    assert_allclose(col.predict(X)[:, 0], one.predict(X), rtol=1e-8, atol=1e-10)
    assert col.bic(X, y[:, None]) == pytest.approx(one.bic(X, y), rel=1e-10)


def test_one_dimensional_y_keeps_its_shapes():
    X, y, _ = make_moe_regression(200, 1, 2, random_state=0)
    est = _fit(X, y)
    assert isinstance(est.params_.noise, GaussianNoise)
    assert est.params_.n_targets is None
    assert est.predict(X).shape == (200,)
    assert est.sample_y(X, random_state=0).shape == (200,)
    assert est.predict_interval(X).shape == (200, 2)
    assert est.params_.expert_params.shape == (2, 2)


def test_multioutput_tag_follows_the_configuration():
    assert MixtureOfExpertsRegressor().__sklearn_tags__().target_tags.multi_output
    for kw in (dict(noise="student_t"), dict(solver="lbfgs"),
               dict(n_shared_experts=1), dict(experts="ffn")):
        tags = MixtureOfExpertsRegressor(**kw).__sklearn_tags__()
        assert not tags.target_tags.multi_output, kw
    diag = MultivariateGaussianNoise(covariance_type="diag")
    assert MixtureOfExpertsRegressor(noise=diag, experts="ffn") \
        .__sklearn_tags__().target_tags.multi_output


def test_recovery(data):
    """Two experts, two correlated responses, n = 20000."""
    X, Y, truth = make_moe_regression(20000, 2, 2, n_targets=2, random_state=7)
    est = _fit(X, Y, n_init=3)
    err = parameter_error(est.params_, truth)
    # n = 20000: standard errors of order 1/sqrt(n * weight) ~ 0.01 for the
    # expert coefficients and noise**2 * sqrt(2/n) ~ 1e-3 for the covariance
    # entries; the bounds are about 5 standard errors
    assert err["expert_coef"].max() < 0.05
    assert err["expert_intercept"].max() < 0.05
    assert err["variance"].max() < 0.01
    assert err["gate_coef"].max() < 0.3
    # the estimated correlations carry the truth's
    assert_allclose(est.params_.variance[err["est_index"]][:, 0, 1],
                    truth.variance[err["true_index"]][:, 0, 1], atol=0.01)


def test_log_density_is_the_joint_density(fitted, data):
    X, Y, _ = data
    p = fitted.params_
    gates, means = p.gates(X), p.expert_means(X)
    dens = sum(gates[:, k] * np.array([
        multivariate_normal(means[i, k], p.variance[k]).pdf(Y[i])
        for i in range(len(X))]) for k in range(p.n_experts))
    assert_allclose(fitted.log_density(X, Y), np.log(dens), rtol=1e-10)
    assert fitted.log_density(X, Y).sum() == pytest.approx(
        fitted.log_likelihood_, rel=1e-8)


def test_predict_score_and_information_criteria(fitted, data):
    X, Y, _ = data
    p = fitted.params_
    pred = fitted.predict(X)
    assert pred.shape == Y.shape
    assert_allclose(pred, np.einsum("nk,nkm->nm", p.gates(X), p.expert_means(X)),
                    rtol=1e-12)
    assert fitted.score(X, Y) == pytest.approx(
        r2_score(Y, pred, multioutput="uniform_average"), rel=1e-12)
    # softmax gate over d = 2: (K - 1)(d + 1) = 3; experts 2 x 2 x 3 = 12;
    # covariances 2 x 3 = 6
    assert p.n_free_params() == 3 + 12 + 6
    ll, n = fitted.log_density(X, Y).sum(), len(X)
    assert fitted.bic(X, Y) == pytest.approx(-2 * ll + 21 * np.log(n), rel=1e-12)
    assert fitted.aic(X, Y) == pytest.approx(-2 * ll + 2 * 21, rel=1e-12)


def test_diagonal_covariance(data):
    X, Y, _ = data
    diag = _fit(X, Y, noise=MultivariateGaussianNoise(covariance_type="diag"))
    p = diag.params_
    assert p.variance.shape == (2, 2)
    assert p.n_free_params() == 3 + 12 + 4
    gates, means = p.gates(X), p.expert_means(X)
    sd = np.sqrt(p.variance)
    dens = sum(gates[:, k] * norm.pdf(Y[:, 0], means[:, k, 0], sd[k, 0])
               * norm.pdf(Y[:, 1], means[:, k, 1], sd[k, 1]) for k in range(2))
    assert_allclose(diag.log_density(X, Y), np.log(dens), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_em_is_monotone(data, covariance_type):
    X, Y, _ = data
    noise = MultivariateGaussianNoise(covariance_type=covariance_type)
    est = _fit(X, Y, noise=noise, max_iter=200, tol=0)
    h = np.asarray(est.history_)
    # increases up to round-off of the summed log-likelihood
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))


def test_sample_y_moments():
    """Draws at one x: the mixture's mean and covariance (closed form)."""
    cov = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.2], [-0.2, 0.3]]])
    params = MoEParams(
        gate_coef=np.zeros((2, 1)), gate_intercept=np.array([0.4, 0.0]),
        expert_params=np.array([[[1.0, 0.0], [0.0, 2.0]], [[-1.0, 1.0], [2.0, 0.0]]]),
        variance=cov, noise="multivariate_gaussian")
    x = np.full((200000, 1), 0.5)
    draws = params.sample_y(x, random_state=0)
    g = params.gates(x[:1])[0]
    mu = params.expert_means(x[:1])[0]  # (K, m)
    mean = g @ mu
    second = sum(g[k] * (cov[k] + np.outer(mu[k], mu[k])) for k in range(2))
    # Monte-Carlo error of 2e5 draws: sd / sqrt(n) ~ 3e-3; 5 of them
    assert_allclose(draws.mean(axis=0), mean, atol=0.015)
    assert_allclose(np.cov(draws.T), second - np.outer(mean, mean), atol=0.03)


def test_marginal_quantiles(fitted, data):
    X, _, _ = data
    q = np.array([0.1, 0.5, 0.9])
    Q = fitted.predict_quantiles(X[:20], q)
    assert Q.shape == (20, 2, 3)
    p = fitted.params_
    gates, means = p.gates(X[:20]), p.expert_means(X[:20])
    sd = np.sqrt(np.diagonal(p.variance, axis1=1, axis2=2))  # (K, m)
    cdf = sum(gates[:, k, None, None] * norm.cdf(
        (Q - means[:, k, :, None]) / sd[k][None, :, None]) for k in range(2))
    assert_allclose(cdf, np.broadcast_to(q, cdf.shape), atol=1e-10)
    assert fitted.predict_interval(X[:20]).shape == (20, 2, 2)


def test_covariance_floor_clips_eigenvalues():
    noise = MultivariateGaussianNoise()
    cov = np.array([[[1.0, 0.999], [0.999, 1.0]]])  # eigenvalues 1.999, 0.001
    out = noise.floor_variance(cov, np.array([0.01, 0.01]))
    w = np.linalg.eigvalsh(out[0])
    assert_allclose(w, [0.01, 1.999], rtol=1e-12)
    # an unconstrained matrix is kept
    assert_allclose(noise.floor_variance(cov, np.array([1e-4, 1e-4])), cov)


def _several(X, Y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MixtureOfExpertsRegressor(n_experts=2, max_iter=5, **kw).fit(X, Y)


@pytest.mark.parametrize("kw, feature", [
    (dict(noise="student_t"), "student_t"),
    (dict(noise="poisson"), "poisson"),
    (dict(noise="binomial"), "binomial"),
    (dict(init_params="tensor"), "init_params='tensor'"),
    (dict(solver="tensor"), "solver='tensor'"),
    (dict(solver="lbfgs"), "solver='lbfgs'"),
    (dict(solver="gd"), "solver='gd'"),
    (dict(solver="two_loss"), "solver='two_loss'"),
    (dict(solver="gd", objective="least_squares"), "least_squares"),
    (dict(n_shared_experts=1), "n_shared_experts"),
    (dict(experts="ffn"), "FFNExperts"),
])
def test_refused_configurations_name_y_and_the_feature(data, kw, feature):
    X, Y, _ = data
    with pytest.raises(ValueError, match=r"y has shape \(600, 2\)") as info:
        _several(X, Y, **kw)
    assert feature in str(info.value)


def test_partial_fit_refuses_several_responses(data):
    X, Y, _ = data
    with pytest.raises(ValueError, match=r"y has shape \(600, 2\).*partial_fit"):
        MixtureOfExpertsRegressor(n_experts=2).partial_fit(X, Y)


def test_bad_shapes_name_y(data, fitted):
    X, Y, _ = data
    with pytest.raises(ValueError, match=r"y must be 1-D.*got an array of shape "
                                         r"\(600, 2, 1\)"):
        _several(X, Y[:, :, None])
    with pytest.raises(ValueError, match=r"y must be a 2-D .* \(600, 2\)"):
        fitted.score(X, Y[:, :1].ravel())
    with pytest.raises(ValueError, match="y must be"):
        fitted.log_density(X, np.hstack([Y, Y]))
    # a model of one response is given a 2-D y
    one = _several(X, Y[:, 0])
    with pytest.raises(ValueError, match="y"):
        one.log_density(X, Y)


def test_univariate_consumers_refuse(fitted, data):
    from skmoe.inference import bootstrap_standard_errors
    from skmoe.metrics import density_distance, voronoi_loss
    from skmoe.model_selection import mixing_measure_dendrogram

    X, Y, truth = data
    with pytest.raises(ValueError, match="univariate"):
        voronoi_loss(fitted.params_, truth)
    with pytest.raises(ValueError, match="MultivariateGaussianNoise"):
        density_distance(fitted.params_, truth, X[:10])
    with pytest.raises(ValueError, match="MultivariateGaussianNoise"):
        mixing_measure_dendrogram(fitted, X, Y)
    with pytest.raises(ValueError, match="MultivariateGaussianNoise"):
        fitted.standard_errors(X, Y)
    with pytest.raises(ValueError, match="univariate"):
        bootstrap_standard_errors(fitted, X, Y, n_boot=2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_keeps_the_responses(data):
    X, Y, _ = data
    est = _fit(X, Y, warm_start=True, max_iter=5)
    with pytest.raises(ValueError, match="n_targets"):
        est.fit(X, Y[:, 0])
    est.fit(X, Y)  # the same responses: continues
    assert est.params_.n_targets == 2


def test_make_moe_regression_n_targets_refusals():
    with pytest.raises(ValueError, match="n_targets.*response='poisson'"):
        make_moe_regression(50, 1, 2, n_targets=2, response="poisson")
    with pytest.raises(ValueError, match="n_targets"):
        make_moe_regression(50, 1, 2, n_targets=0)


def test_integer_weights_equal_repeated_rows(data):
    """Frequency weights: weight 2 on a row is the row twice (same start)."""
    X, Y, _ = data
    w = np.where(np.arange(len(X)) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    weighted = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(
        X, Y, sample_weight=w)
    repeated = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(
        X[rep], Y[rep])
    assert weighted.params_.n_targets == 2
    # the same EM on the same weighted sums, up to summation order
    assert_allclose(weighted.params_.expert_params,
                    repeated.params_.expert_params, rtol=1e-7)
    assert_allclose(weighted.params_.variance, repeated.params_.variance,
                    rtol=1e-7)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_,
                                                     rel=1e-10)


def test_given_start(data):
    """init_params=truth starts there: one EM step from the truth."""
    X, Y, truth = data
    est = MixtureOfExpertsRegressor(n_experts=2, init_params=truth).fit(X, Y)
    err = parameter_error(est.params_, truth)
    # n = 600: a few standard errors (about 0.03) of the truth
    assert err["expert_coef"].max() < 0.15
    bad = make_moe_regression(50, 2, 2, n_targets=3, random_state=0)[2]
    with pytest.raises(ValueError, match="n_targets"):
        MixtureOfExpertsRegressor(n_experts=2, init_params=bad).fit(X, Y)


def test_tables_label_the_responses(fitted, data):
    """repr, to_frame and summary name every response's numbers."""
    X, Y, _ = data
    frame = fitted.params_.to_frame()
    # gate 2 x 3, experts 2 x 2 responses x 3, covariances 2 x 3 entries
    assert len(frame) == 6 + 12 + 6
    assert frame.loc[(0, "noise", "covariance y0 y1"), "value"] == \
        fitted.params_.variance[0, 0, 1]
    assert frame.loc[(1, "expert", "y1 (Intercept)"), "value"] == \
        fitted.params_.expert_params[1, 1, 2]
    assert "covariance y0 y1" in repr(fitted.params_)
    assert "y1 x0" in str(fitted.summary(X, Y))


def test_auto_start_takes_several_responses():
    # the auto start's candidates (clusters of (X, y), regression lines)
    # read every response: the regression-line labels are the expert whose
    # means are closest over all responses, checked against NumPy
    from skmoe.solvers import _starts

    X, y, _ = make_moe_regression(600, 2, 2, n_targets=2, random_state=7)
    est = MixtureOfExpertsRegressor(2, init_params="auto", random_state=0)
    spec = est._spec().replace(noise=MultivariateGaussianNoise(),
                               rng=np.random.RandomState(0))
    R = np.zeros((600, 2))
    R[:300, 0] = R[300:, 1] = 1.0
    labels = _starts._closest_expert(X, y, np.ones(600), R, spec)
    params = spec.noise.init_experts(spec.experts, X, y, R,
                                     np.random.RandomState(0), np.ones(600))
    means = spec.noise.predictors(spec.experts, X, params)  # (n, K, m)
    expected = np.argmin(((y[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(labels, expected)
    est.fit(X, y)
    assert np.all(np.diff(est.history_) >= -1e-9 * np.abs(est.history_[1:]))
    assert est.predict(X).shape == (600, 2)
