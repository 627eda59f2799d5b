"""skmoe: scikit-learn compatible mixture-of-experts regression.

Importing skmoe compiles nothing: the Numba kernels compile on first use and
are cached on disk.
"""

from ._estimator import MixtureOfExpertsRegressor
from ._params import MoEParams
from .experts import Experts, FFNExperts, LinearExperts, PolynomialExperts
from .gating import (
    GateLikelihood,
    Gating,
    GaussianGating,
    HierarchicalSoftmaxGating,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from .utils._warnings import (
    DegenerateFitWarning,
    EmptyExpertWarning,
    MultipleOptimaWarning,
    NonGaussianInputWarning,
    SingularInformationWarning,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DegenerateFitWarning",
    "EmptyExpertWarning",
    "Experts",
    "FFNExperts",
    "GateLikelihood",
    "GaussianGating",
    "Gating",
    "HierarchicalSoftmaxGating",
    "LinearExperts",
    "MixtureOfExpertsRegressor",
    "MoEParams",
    "MultipleOptimaWarning",
    "NonGaussianInputWarning",
    "NormalizedSigmoidGating",
    "PolynomialExperts",
    "SingularInformationWarning",
    "SoftmaxGating",
    "__version__",
]
