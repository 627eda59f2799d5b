"""skmoe reaches flexmix's optimum on the shipped real data sets (issue 18).

The reference is ``benchmarks/flexmix_reference.csv``, written by
``benchmarks/flexmix_reference.R`` (R 4.2.2, flexmix 2.3-18, mixtools 2.0.0):
flexmix's best log-likelihood over 30 random starts with its default EM
control, a softmax concomitant (gate) on the same single covariate as the
experts. skmoe fits the same columns (``load_*(return_X_y=True)``), so gate
and experts both use that covariate, as in flexmix's ``y ~ x`` with
``concomitant = FLXPmultinom(~ x)``.

Thresholds: issue 18 states them to two decimals (mcycle K=3 >= -580.53,
K=4 >= -551.14, NPreg >= -701.11, tonedata >= 142.84) and asks for flexmix's
best minus 1e-8 for CO2; where flexmix's recorded best minus 1e-8 is higher
than the issue's number, that stricter value is used.

The default estimator (only ``n_experts`` given: ``init_params="auto"``,
``n_init=1``) reaches every optimum
(:func:`test_default_estimator_reaches_flexmix_optimum`). The explicit starts
are tested too (k-means, ``n_init=30``), except mcycle K=4: k-means starts
all end at a local optimum (-551.8674 with tol=1e-10, 88 iterations;
checked, not a stopping-rule artefact), below flexmix's -551.1687, so that
setting uses 30 random starts, which reach -550.69.
"""

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.datasets import (
    load_co2,
    load_mcycle,
    load_mehta,
    load_npreg,
    load_patent,
    load_tonedata,
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TOL = 1e-8  # issue 18: "at least flexmix's best ... tolerance 1e-8"

# flexmix's best of 30 starts, from benchmarks/flexmix_reference.csv
FLEXMIX_BEST = {
    "mcycle_k3": -580.52564862,
    "mcycle_k4": -551.16869979,
    "npreg_k2": -701.11399862,
    "tonedata_k2": 142.83811841,
    "co2_k2": -66.33948228,
}
ISSUE_THRESHOLD = {  # issue 18, item 2
    "mcycle_k3": -580.53,
    "mcycle_k4": -551.14,
    "npreg_k2": -701.11,
    "tonedata_k2": 142.84,
    "co2_k2": -np.inf,  # "at least flexmix's best of 30 starts"
}
# setting -> (loader, K, init_params)
SETTINGS = {
    "mcycle_k3": (load_mcycle, 3, "kmeans"),
    "mcycle_k4": (load_mcycle, 4, "random"),
    "npreg_k2": (load_npreg, 2, "kmeans"),
    "tonedata_k2": (load_tonedata, 2, "kmeans"),
    "co2_k2": (load_co2, 2, "kmeans"),
}
SLOW = {"mcycle_k4", "npreg_k2"}  # about 6-7 s each on the 2-core machine
# random states of the default fits (0.1 to 0.3 s each); the reach over 100
# random states is measured in benchmarks/bench_real_data.py
DEFAULT_SEEDS = range(5)


def _threshold(setting):
    return max(ISSUE_THRESHOLD[setting], FLEXMIX_BEST[setting] - TOL)


def _read(name):
    with open(BENCHMARKS / name, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("setting", [
    pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s for s in SETTINGS
])
def test_reaches_flexmix_optimum(setting):
    load, K, init = SETTINGS[setting]
    X, y = load(return_X_y=True)
    est = MixtureOfExpertsRegressor(K, init_params=init, n_init=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.log_likelihood_ >= _threshold(setting), (
        setting, est.log_likelihood_, _threshold(setting))
    # the reported value is the log-likelihood of the fitted parameters
    np.testing.assert_allclose(est.params_.log_density(X, y).sum(),
                               est.log_likelihood_, rtol=1e-12)


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_default_estimator_reaches_flexmix_optimum(setting, seed):
    # the default estimator: init_params="auto", n_init=1, tol=1e-6,
    # max_iter=300 (nothing but n_experts and the random state given)
    load, K, _ = SETTINGS[setting]
    X, y = load(return_X_y=True)
    est = MixtureOfExpertsRegressor(K, random_state=seed).fit(X, y)
    assert est.init_params_ == "auto"
    assert est.converged_
    assert est.log_likelihood_ >= _threshold(setting), (
        setting, seed, est.log_likelihood_, _threshold(setting))


def test_thresholds_are_the_recorded_reference():
    recorded = {row["setting"]: row for row in _read("flexmix_reference.csv")}
    for setting, best in FLEXMIX_BEST.items():
        row = recorded[setting]
        assert float(row["best_loglik"]) == best, setting
        assert int(row["n_starts"]) == 30 and int(row["n_kept_K"]) >= 1
        assert row["concomitant"] != "FLXPconstant"


def _flexmix_params(setting):
    """{(component, block, name): value} of flexmix's best solution."""
    return {(int(r["component"]), r["block"], r["name"]): float(r["value"])
            for r in _read("flexmix_reference_params.csv")
            if r["setting"] == setting}


def _as_moe_params(setting, feature):
    p = _flexmix_params(setting)
    comps = sorted({k for k, _, _ in p})
    expert = np.array([[p[k, "expert", f"coef.{feature}"],
                        p[k, "expert", "coef.(Intercept)"]] for k in comps])
    variance = np.array([p[k, "expert", "sigma"] ** 2 for k in comps])
    if (comps[0], "gate", feature) in p:
        coef = np.array([[p[k, "gate", feature]] for k in comps])
        intercept = np.array([p[k, "gate", "(Intercept)"] for k in comps])
    else:  # constant weights: log-priors as gate intercepts
        coef = np.zeros((len(comps), 1))
        intercept = np.log([p[k, "prior", "prior"] for k in comps])
    # skmoe's normalisation sets the last gate row to zero (the softmax is
    # unchanged); flexmix's sets the first
    return MoEParams(coef - coef[-1], intercept - intercept[-1], expert, variance)


@pytest.mark.parametrize("setting, load, feature", [
    ("mcycle_k3", load_mcycle, "times"),
    ("mcycle_k4", load_mcycle, "times"),
    ("npreg_k2", load_npreg, "x"),
    ("tonedata_k2", load_tonedata, "stretchratio"),
    ("tonedata_k2_constant", load_tonedata, "stretchratio"),
    ("tonedata_k2_regmixEM", load_tonedata, "stretchratio"),
    ("co2_k2", load_co2, "GNP"),
])
def test_same_log_likelihood_as_r_at_the_same_parameters(setting, load, feature):
    # skmoe's log-density and R's (dnorm with a softmax or constant gate)
    # are the same function: compared at flexmix's (mixtools') reported
    # parameters, recomputed in R as loglik_at_params. 1e-9: the parameters
    # are stored to 15 significant digits and R's value to 10 decimals.
    X, y = load(return_X_y=True)
    recorded = {row["setting"]: row for row in _read("flexmix_reference.csv")}
    expected = float(recorded[setting]["loglik_at_params"])
    got = _as_moe_params(setting, feature).log_density(X, y).sum()
    assert abs(got - expected) < 1e-9, (setting, got, expected)


@pytest.mark.parametrize("setting", ["patent_k3", "mehta_k2", "mehta_k3",
                                     "mehta_k2_constant", "mehta_k3_constant"])
def test_r_count_log_likelihoods_include_the_constants(setting):
    # flexmix's Poisson and binomial log-likelihoods use dpois and dbinom,
    # so they include -log(y!) and log(choose(n, y)): recomputed here with
    # scipy's full pmfs at flexmix's parameters (tolerance as above)
    p = _flexmix_params(setting)
    comps = sorted({k for k, _, _ in p})
    if setting.startswith("patent"):
        data = load_patent(as_frame=True).frame
        covariate, gate_covariate = data["lgRD"].to_numpy(), data["RDS"].to_numpy()
        slope = "coef.lgRD"
    else:
        bunch = load_mehta(as_frame=True)
        data = bunch.frame
        covariate = gate_covariate = data["new_drug"].to_numpy()
        slope = "coef.new_drug"
    eta = np.column_stack([p[k, "expert", "coef.(Intercept)"]
                           + p[k, "expert", slope] * covariate for k in comps])
    if setting.startswith("patent"):
        logpmf = stats.poisson.logpmf(data["Patents"].to_numpy()[:, None], np.exp(eta))
        gate = "RDS"
    else:
        logpmf = stats.binom.logpmf(data["Response"].to_numpy()[:, None],
                                    data["Total"].to_numpy()[:, None],
                                    1.0 / (1.0 + np.exp(-eta)))
        gate = "new_drug"
    if (comps[0], "gate", gate) in p:
        logits = np.column_stack([p[k, "gate", "(Intercept)"]
                                  + p[k, "gate", gate] * gate_covariate
                                  for k in comps])
        log_prior = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    else:
        log_prior = np.log([p[k, "prior", "prior"] for k in comps])[None, :]
    got = np.logaddexp.reduce(log_prior + logpmf, axis=1).sum()
    recorded = {row["setting"]: row for row in _read("flexmix_reference.csv")}
    assert abs(got - float(recorded[setting]["loglik_at_params"])) < 1e-9


# flexmix's best of 30 starts on its GLM examples (flexmix_reference.csv)
FLEXMIX_GLM_BEST = {"patent_k3": -197.67519736, "mehta_k2": -64.31467474}


@pytest.mark.parametrize("setting", ["patent_k3", "mehta_k2"])
def test_glm_experts_reach_flexmix_optimum(setting):
    # patent: Poisson experts Patents ~ lgRD with the gate on RDS
    # (FLXPmultinom(~ RDS)); Mehta: binomial experts and gate on the
    # new-drug dummy, the trials as sample weights. 30 random starts
    # (init_params="random", as measured) and tol=1e-8: at flexmix's own
    # 1e-6 skmoe stops 2.6e-5 below flexmix's patent value (measured:
    # -197.675223) while its optimum is 1.7e-4 above (-197.675023 at 1e-8,
    # -197.675021 at 1e-10).
    # Threshold: flexmix's best minus 1e-8, as for the Gaussian settings.
    if setting == "patent_k3":
        X, y = load_patent(return_X_y=True, as_frame=True)
        est = MixtureOfExpertsRegressor(3, noise="poisson", gate_features=["RDS"],
                                        expert_features=["lgRD"], n_init=30,
                                        init_params="random", tol=1e-8,
                                        random_state=0)
        w = None
    else:
        data = load_mehta(as_frame=True)
        X, y, w = data.data, data.target, data.sample_weight
        est = MixtureOfExpertsRegressor(2, noise="binomial", n_init=30, tol=1e-8,
                                        init_params="random", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, sample_weight=w)
    assert est.log_likelihood_ >= FLEXMIX_GLM_BEST[setting] - TOL, (
        setting, est.log_likelihood_)
    recorded = {row["setting"]: row for row in _read("flexmix_reference.csv")}
    assert float(recorded[setting]["best_loglik"]) == FLEXMIX_GLM_BEST[setting]
    # the value is the full log-likelihood (with log choose(n, y) or
    # -log y!) of the fitted parameters, as flexmix's
    np.testing.assert_allclose(est.params_.log_density(X, y, w).sum(),
                               est.log_likelihood_, rtol=1e-12)
    if setting == "mehta_k2":
        # not the symmetric start: with the binary covariate in the gate and
        # the experts, a random gate's experts coincide (all at -78.81)
        assert not np.allclose(*est.params_.expert_params)
