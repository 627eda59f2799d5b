"""scikit-learn's estimator checks on small instances of every family."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from ._instances import expected_failed_checks, small_instances

# The instances use a deliberately small max_iter to keep the checks fast, so
# EM may stop before its tolerance; that warning is tested in test_em.py.
# The checks also fit tiny synthetic data not drawn from a mixture of experts
# (12 rows in check_sample_weights_*), where a top-2 gate over 3 experts can
# leave one expert with less than one sample's responsibility: the
# EmptyExpertWarning is then a correct report, tested in test_canonical.py.
# Several of those data sets are fitted exactly by one expert (y linear in x
# in check_sample_weights_*, more features than rows in
# check_sample_weight_equivalence_on_dense_data, 10 rows for 10 polynomial
# coefficients in check_estimators_nan_inf), so the two experts coincide: the
# DegenerateFitWarning is then a correct report, tested in test_hardening.py.
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::skmoe.EmptyExpertWarning"),
    pytest.mark.filterwarnings("ignore:experts .* coincide:skmoe.DegenerateFitWarning"),
]


@parametrize_with_checks(
    list(small_instances()), expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", list(small_instances()), ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", list(small_instances()), ids=repr)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
