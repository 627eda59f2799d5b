"""The only module that imports private scikit-learn API.

Keeping these imports in one place means a change in scikit-learn's private
API needs one edit (the idea of imbalanced-learn's ``sklearn-compat``).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "check_is_fitted",
    "validate_data",
]
