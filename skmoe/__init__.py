"""skmoe: scikit-learn compatible mixture-of-experts regression.

Importing skmoe compiles nothing (the Numba kernels compile on first use and
are cached on disk) and imports nothing heavy: the public names below are
loaded from their modules on first access (PEP 562), so that ``import
skmoe`` and ``skmoe --help`` answer at once. ``from skmoe import X`` works as
usual.
"""

import importlib

__version__ = "0.1.0.dev0"

#: public name -> the module that defines it, imported on first access
_PUBLIC = {
    "MixtureOfExpertsRegressor": "._estimator",
    "MoEParams": "._params",
    "MoESummary": "._summary",
    "Experts": ".experts",
    "FFNExperts": ".experts",
    "LinearExperts": ".experts",
    "PolynomialExperts": ".experts",
    "GateLikelihood": ".gating",
    "Gating": ".gating",
    "GaussianGating": ".gating",
    "HierarchicalSoftmaxGating": ".gating",
    "NormalizedSigmoidGating": ".gating",
    "SoftmaxGating": ".gating",
    "DegenerateFitWarning": ".utils._warnings",
    "EmptyExpertWarning": ".utils._warnings",
    "MultipleOptimaWarning": ".utils._warnings",
    "NonGaussianInputWarning": ".utils._warnings",
    "SingularInformationWarning": ".utils._warnings",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'skmoe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
