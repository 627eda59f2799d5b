"""The estimator inside ordinary scikit-learn workflows."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import LinearExperts, MixtureOfExpertsRegressor, SoftmaxGating
from skmoe.datasets import make_moe_regression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    return X, y


def test_pipeline_and_cross_validate(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MixtureOfExpertsRegressor(2, random_state=0))
    res = cross_validate(pipe, X, y, cv=3)
    assert res["test_score"].shape == (3,)
    assert np.all(np.isfinite(res["test_score"]))


def test_grid_search_over_gating_objects_in_parallel(data):
    X, y = data
    gatings = [SoftmaxGating(), SoftmaxGating(temperature=0.5)]
    originals = [clone(g) for g in gatings]
    pipe = make_pipeline(StandardScaler(),
                         MixtureOfExpertsRegressor(2, max_iter=50, random_state=0))
    grid = {
        "mixtureofexpertsregressor__gating": gatings,
        "mixtureofexpertsregressor__experts": [LinearExperts()],
    }
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    local = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    # the search never touches the user's objects
    for g, o in zip(gatings, originals, strict=True):
        assert g.get_params() == o.get_params()
    assert len(search.cv_results_["params"]) == 2
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-12)


def test_grid_search_nested_temperature_key(data):
    X, y = data
    est = MixtureOfExpertsRegressor(2, gating=SoftmaxGating(), max_iter=50,
                                    random_state=0)
    search = GridSearchCV(est, {"gating__temperature": [0.5, 1.0, 2.0]}, cv=3)
    search.fit(X, y)
    temps = [p["gating__temperature"] for p in search.cv_results_["params"]]
    assert temps == [0.5, 1.0, 2.0]
    assert search.best_estimator_.gating_.temperature in temps
    # the base estimator's gating object is unchanged
    assert est.gating.temperature == 1.0


def test_nested_key_on_a_string_gating_fails_as_documented(data):
    est = MixtureOfExpertsRegressor(gating="softmax")
    with pytest.raises(AttributeError):
        est.set_params(gating__temperature=2.0)


def test_fit_does_not_modify_gating_parameter(data):
    X, y = data
    gating = SoftmaxGating(temperature=0.7)
    est = MixtureOfExpertsRegressor(2, gating=gating, random_state=0).fit(X, y)
    assert est.gating is gating and est.gating_ is not gating
    assert est.gating_.get_params() == gating.get_params()


def test_invalid_gating_hyper_parameter_is_named(data):
    X, y = data
    est = MixtureOfExpertsRegressor(2, gating=SoftmaxGating(temperature=-1.0))
    with pytest.raises(ValueError, match="'temperature' parameter of SoftmaxGating"):
        est.fit(X, y)


def test_invalid_strings_are_named(data):
    X, y = data
    with pytest.raises(ValueError, match="'gating' parameter"):
        MixtureOfExpertsRegressor(gating="softmaxx").fit(X, y)
    with pytest.raises(ValueError, match="'experts' parameter"):
        MixtureOfExpertsRegressor(experts="quadratic").fit(X, y)
    with pytest.raises(ValueError, match="'init_params' parameter"):
        MixtureOfExpertsRegressor(init_params="spectral").fit(X, y)


def test_prediction_methods_shapes(data):
    X, y = data
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    assert est.predict(X).shape == (300,)
    assert est.predict_gates(X).shape == (300, 2)
    assert est.predict_experts(X).shape == (300, 2)
    assert est.log_density(X, y).shape == (300,)
    assert est.predict_interval(X, 0.8).shape == (300, 2)
    assert est.predict_quantiles(X, [0.1, 0.5, 0.9]).shape == (300, 3)
    assert est.predict_quantiles(X, 0.5).shape == (300,)
    assert est.sample_y(X, random_state=0).shape == (300,)
    np.testing.assert_allclose(
        est.predict(X), (est.predict_gates(X) * est.predict_experts(X)).sum(1)
    )


def test_bad_arguments_of_prediction_methods(data):
    X, y = data
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="coverage must be a float in"):
        est.predict_interval(X, coverage=1.5)
    with pytest.raises(ValueError, match="q must hold probabilities"):
        est.predict_quantiles(X, [0.5, 1.0])
    with pytest.raises(ValueError, match="y must have one value per row"):
        est.log_density(X, y[:-1])
    with pytest.raises(ValueError, match="NaN or infinity"):
        est.log_density(X, np.full(len(y), np.nan))
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :1])
